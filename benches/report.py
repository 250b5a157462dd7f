#!/usr/bin/env python3
"""Prints the BENCHMARKS.md tables from criterion's saved results.

Run after `cargo bench --bench validate`. For every function it reads
target/criterion/<group>/<function>/new/sample.json and takes the median and
the minimum of the per-iteration sample times. Ratios compare functions of the
same group, measured in the same run. On a shared VM the minimum is the
steadier figure (steal time only ever adds), so both are shown.
"""
import json
import os
import statistics
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "criterion")


def stats(group, function):
    path = os.path.join(ROOT, group.replace("/", "_"), function, "new", "sample.json")
    with open(path) as f:
        s = json.load(f)
    per_iter = [t / n for t, n in zip(s["times"], s["iters"])]
    return statistics.median(per_iter), min(per_iter)


def fmt(ns):
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns"


def cold():
    algs = ["RS256", "RS256-4096", "PS256", "ES256", "ES384", "EdDSA", "HS256"]
    print("Medians (min in brackets), ratios of medians (of minimums in brackets).\n")
    print("| alg | floor | parse | jwt_gate | jsonwebtoken | jwt_gate / (1.08 × floor + parse) | jwt_gate / jsonwebtoken |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for alg in algs:
        g = f"cold/{alg}"
        try:
            floor, parse, ours, theirs = (stats(g, f) for f in ("floor", "parse", "jwt_gate", "jsonwebtoken"))
        except FileNotFoundError:
            continue
        cell = lambda x: f"{fmt(x[0])} ({fmt(x[1])})"
        budget = lambda i: ours[i] / (1.08 * floor[i] + parse[i])
        vs = lambda i: ours[i] / theirs[i]
        print(f"| {alg} | {cell(floor)} | {cell(parse)} | {cell(ours)} | {cell(theirs)} "
              f"| {budget(0):.3f} ({budget(1):.3f}) | {vs(0):.3f} ({vs(1):.3f}) |")


def paired():
    path = os.path.join(ROOT, "paired.json")
    with open(path) as f:
        data = json.load(f)
    print("Interleaved rounds (median of per-round figures).\n")
    print("| alg | floor | parse | jwt_gate | jsonwebtoken | jwt_gate / floor | jwt_gate / (1.08 × floor + parse) | jwt_gate / jsonwebtoken |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for alg, e in data.items():
        m = e["median_ns"]
        print(f"| {alg} | {fmt(m['floor'])} | {fmt(m['parse'])} | {fmt(m['jwt_gate'])} | {fmt(m['jsonwebtoken'])} "
              f"| {e['jwt_gate_over_floor']:.3f} | {e['jwt_gate_over_budget']:.3f} | {e['jwt_gate_over_jsonwebtoken']:.3f} |")
    print("\n`Validator::validate().await` (warm keys) against the pure `validate()`:\n")
    print("| alg | validate() | Validator::validate().await | ratio |")
    print("|---|---:|---:|---:|")
    for alg, e in data.items():
        m = e["median_ns"]
        if "validator" in m:
            print(f"| {alg} | {fmt(m['jwt_gate'])} | {fmt(m['validator'])} | {e['validator_over_jwt_gate']:.3f} |")
    presets = [(alg, e) for alg, e in data.items() if "preset_over_plain" in e]
    if presets:
        print("\nThe Entra ID preset (client id, maximum age, roles, key bound to its `issuer`) against plain rules (issuer, audience) on the same Entra token, both `Validator::validate().await`, cache off (goal ≤ 1.03):\n")
        print("| alg | plain rules | preset | ratio |")
        print("|---|---:|---:|---:|")
        for alg, e in presets:
            m = e["median_ns"]
            print(f"| {alg} | {fmt(m['preset_plain'])} | {fmt(m['preset'])} | {e['preset_over_plain']:.3f} |")


def layer():
    path = os.path.join(ROOT, "paired_layer.json")
    with open(path) as f:
        e = json.load(f)
    m = e["median_ns"]
    print("Layer overhead, HS256, interleaved rounds (median of per-round figures).\n")
    print("| bare router | router + no-op layer | router + JwtAuthLayer | Validator::validate().await | layer overhead = layered − bare − validate | own overhead = layered − no-op layered − validate |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(f"| {fmt(m['bare_router'])} | {fmt(m['router_with_noop_layer'])} | {fmt(m['router_with_layer'])} | {fmt(m['validator_validate'])} "
          f"| {fmt(e['layer_overhead_ns'])} | {fmt(e['own_overhead_ns'])} |")
    if "router_with_layer_cache_hit" in m:
        print("\nWith the token served from the verified-token cache:\n")
        print("| bare router | router + JwtAuthLayer, cache hit | overhead over the bare router |")
        print("|---:|---:|---:|")
        print(f"| {fmt(m['bare_router'])} | {fmt(m['router_with_layer_cache_hit'])} | {fmt(e['cache_hit_over_bare_ns'])} |")


def cache():
    with open(os.path.join(ROOT, "cache.json")) as f:
        e = json.load(f)
    print("Verified-token cache, interleaved rounds (median):\n")
    print("| key | cold (cache off) | hit, one token again (thread's copy) | hit / cold | hit, 256 clients in turn (shared level) | shared hit / cold |")
    print("|---|---:|---:|---:|---:|---:|")
    ratio = lambda r: f"{r:.4f} (1/{1 / r:.0f})"
    for alg in ["RS256", "RS256-4096"]:
        print(f"| {alg} | {fmt(e[alg + '/cold'])} | {fmt(e[alg + '/hit'])} | {ratio(e[alg + '/hit_over_cold'])} "
              f"| {fmt(e[alg + '/shared_hit'])} | {ratio(e[alg + '/shared_hit_over_cold'])} |")
    if "many_clients/shared_hit" in e:
        print(f"| 100 000 clients in turn (ES256 tokens, shared level) | | | | {fmt(e['many_clients/shared_hit'])} "
              f"| {ratio(e['many_clients/shared_hit_over_cold'])} of cold RS256 |")
    misses = [f"{alg}: {e[alg + '/misses_after_warm_up']}" for alg in ["RS256", "RS256-4096", "many_clients"] if alg + "/misses_after_warm_up" in e]
    if misses:
        print(f"\nSignature checks during the hit rounds (cache misses after warm-up): {', '.join(misses)}.")
    if "RS256/multi_issuer_hit" in e:
        print("\nThe RS256 hit through a validator trusting two issuers (a hit finds its issuer by the verified `iss` of the cached claims):\n")
        print("| one issuer | two issuers | ratio |")
        print("|---:|---:|---:|")
        print(f"| {fmt(e['RS256/hit'])} | {fmt(e['RS256/multi_issuer_hit'])} | {e['RS256/multi_issuer_hit_over_hit']:.2f} |")
    if "RS256/preset_hit" in e:
        print("\nThe RS256 hit through the Entra ID preset (client id, maximum age re-checked on every hit, roles; goal ≤ 1.10):\n")
        print("| plain rules, same token | preset | ratio |")
        print("|---:|---:|---:|")
        print(f"| {fmt(e['RS256/preset_plain_hit'])} | {fmt(e['RS256/preset_hit'])} | {e['RS256/preset_hit_over_plain_hit']:.3f} |")
    if "RS256/bound_tls_hit" in e:
        print("\nCertificate-bound tokens (RFC 8705), cache hits through `validate_http_request` (goal: ≤ 1.5 µs added):\n")
        print("| unbound token | bound, certificate from TLS | added | bound, RFC 9440 header (seen before) | added | first sight of a header value (decode + SHA-256, 1 KiB) |")
        print("|---:|---:|---:|---:|---:|---:|")
        print(f"| {fmt(e['RS256/request_hit'])} | {fmt(e['RS256/bound_tls_hit'])} | {fmt(e['RS256/bound_tls_hit_added_ns'])} "
              f"| {fmt(e['RS256/bound_header_hit'])} | {fmt(e['RS256/bound_header_hit_added_ns'])} | {fmt(e['certificate/first_sight'])} |")
    if "introspection/hit" in e:
        print("\nOpaque tokens (RFC 7662): cache hits of one validator, `validate_without_waiting()` (goal: opaque / JWT ≤ 1.2):\n")
        print("| JWT hit | introspection hit | opaque / JWT | SHA-256 of the opaque token alone |")
        print("|---:|---:|---:|---:|")
        print(f"| {fmt(e['introspection/jwt_hit'])} | {fmt(e['introspection/hit'])} | {e['introspection/hit_over_jwt_hit']:.2f} "
              f"| {fmt(e['introspection/digest'])} |")
    if "api_key/16_keys" in e:
        print("\nAPI keys through `validate_http_request` (goal ≤ 0.5 µs), against a token's cache hit through the same function:\n")
        print("| token (cache hit) | API key, 16 keys | / token | API key, 1 000 keys | / token |")
        print("|---:|---:|---:|---:|---:|")
        print(f"| {fmt(e['RS256/request_hit'])} | {fmt(e['api_key/16_keys'])} | {e['api_key/16_keys_over_request_hit']:.2f} "
              f"| {fmt(e['api_key/1000_keys'])} | {e['api_key/1000_keys_over_request_hit']:.2f} |")
    print("\nOne `Validator` shared by threads, `validate_without_waiting()`, HS256 tokens:\n")
    print("| tokens | 1 thread | 2 threads | 2 / 1 | 2 / 1 relative to the control |")
    print("|---|---:|---:|---:|---:|")
    for label, name in [("own_tokens", "cache hits, one token per thread (one per client)"), ("same_token", "cache hits, the same token in both threads"), ("cold_control", "control: cold HS256 validations, cache off")]:
        k = f"threads/{label}"
        rel = e.get(k + '/relative_to_control')
        rel = f"{rel:.2f}" if rel is not None else "–"
        print(f"| {name} | {e[k + '/one_per_s'] / 1e6:.2f} M/s | {e[k + '/two_per_s'] / 1e6:.2f} M/s | {e[k + '/two_over_one']:.2f} | {rel} |")
    print(f"\nMixed workload: {e['mixed/requests']} requests per pass (10 000 distinct live ES256 tokens round-robin, one in ten garbage):\n")
    print("| first pass (all cold) | warm passes | cache entries | cache bytes |")
    print("|---:|---:|---:|---:|")
    print(f"| {e['mixed/first_pass_per_s'] / 1e3:.1f} k/s | {e['mixed/warm_pass_per_s'] / 1e3:.1f} k/s | {e['mixed/cache_entries']} | {e['mixed/cache_bytes'] / 1e6:.2f} MB |")
    print("\nGarbage:\n")
    print("| forged signature (full check, never cached) | not JSON (parse only) |")
    print("|---:|---:|")
    print(f"| {fmt(e['garbage/forged_signature_ns'])} | {fmt(e['garbage/unparsable_ns'])} |")


def dpop():
    path = os.path.join(ROOT, "dpop.json")
    with open(path) as f:
        e = json.load(f)
    m = e["median_ns"]
    print(f"DPoP (benches/dpop.rs), {e['rounds']} interleaved rounds, medians.\n")
    print("| contender | time |")
    print("|---|---:|")
    for name in ["floor_cold", "floor_cold_ours", "dpop_cold", "bearer_cold",
                 "floor_hit", "dpop_hit", "bearer_hit", "replay_memory", "replay_redis"]:
        if name in m:
            print(f"| {name} | {fmt(m[name])} |")
    print("\n| ratio (median of per-round ratios) | value |")
    print("|---|---:|")
    for key in ["hit_over_floor", "cold_over_floor_ours", "cold_over_floor", "cold_over_bearer"]:
        print(f"| {key} | {e[key]:.3f} |")


if __name__ == "__main__":
    for w in sys.argv[1:] or ["paired", "cold", "layer", "cache", "dpop"]:
        globals()[w]()
        print()
