#!/usr/bin/env python3
"""The whole-service table from run.sh's results (target/load-results.jsonl).

Every figure is a median over the rounds; a ratio is taken slice pair by
slice pair (the variant against the unprotected service in the
neighbouring slice, see src/bin/load.rs) before the median, so that the
shared machine's drift cancels. The `none` row gathers the unprotected
service's slices from beside every variant (`gRPC, none` those of the
unprotected tonic service, beside the gRPC variants). Then the goals of issue 18,
each marked met or missed by how much.

    python3 benches/load/report.py [RESULTS] [--smoke]

With --smoke (run.sh --smoke: a debug build, small token lists, one short
round) the table is printed as proof that every variant answered, without
the goals: its figures are not measurements.
"""

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

CEILING = "none"
GRPC_CEILING = "gRPC, none"


def ceiling_of(label):
    return GRPC_CEILING if label.startswith("gRPC") else CEILING


def load(path):
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    by_label = defaultdict(list)
    for row in rows:
        by_label[row["label"]].append(row)
        # The unprotected service, as measured beside every variant.
        if "ceiling" in row:
            by_label[ceiling_of(row["label"])].append({**row["ceiling"], "round": row["round"], "ratio": 1.0,
                                      "cpu_ratio": 1.0, "p99_ratio": 1.0})
    return rows, by_label


def hit_rate(row):
    start, end = row.get("server_stats_start"), row.get("server_stats_end")
    if not start or not end or "cache_hits" not in end:
        return None
    hits = end["cache_hits"] - start["cache_hits"]
    misses = end["cache_misses"] - start["cache_misses"]
    return hits / (hits + misses) if hits + misses else None


def summarize(rows):
    def med(xs):
        xs = [x for x in xs if x is not None]
        return statistics.median(xs) if xs else None

    return {
        "rps": med([r["rps"] for r in rows]),
        "ratio": med([r.get("ratio") for r in rows]),
        "p50": med([r["p50_us"] for r in rows]),
        "p99": med([r["p99_us"] for r in rows]),
        "p999": med([r["p999_us"] for r in rows]),
        "p99_ratio": med([r.get("p99_ratio") for r in rows]),
        "hit_rate": med([hit_rate(r) for r in rows]),
        "cpu": med([r.get("server_cpu_us_per_request") for r in rows]),
        "cpu_ratio": med([r.get("cpu_ratio") for r in rows]),
        "ceiling_cpu": med([r.get("ceiling", {}).get("server_cpu_us_per_request") for r in rows]),
        "server_busy": med([r.get("server_busy") for r in rows]),
        "load_busy": med([r.get("load_busy") for r in rows]),
        "errors": sum(r["errors"] for r in rows),
        "exhausted": any(r.get("exhausted") for r in rows),
    }


def fmt(x, spec):
    return "—" if x is None else format(x, spec)


def main():
    args = [a for a in sys.argv[1:] if a != "--smoke"]
    smoke = "--smoke" in sys.argv[1:]
    path = args[0] if args else Path(__file__).parent / "target/load-results.jsonl"
    rows, by_label = load(path)
    if not rows:
        sys.exit(f"{path}: no results")
    floor = rows[0]["floor"]
    s = {label: summarize(group) for label, group in by_label.items()}
    # The HTTP variants under their ceiling, then the gRPC ones under theirs.
    order = sorted(s, key=lambda label: (label.startswith("gRPC"), label not in (CEILING, GRPC_CEILING)))
    s = {label: s[label] for label in order}
    print(f"rounds: {max(r['round'] for r in rows)}, connections: {rows[0]['connections']}, "
          f"floor: one RS256 check {floor['rs256_verify_us']:.1f} µs, "
          f"jwt-gate cold validation {floor['jwt_gate_cold_validate_us']:.1f} µs, "
          f"one ES256 check {fmt(floor.get('es256_verify_us'), '.1f')} µs (in-process)\n")
    print("| variant | requests/s | × unprotected | server CPU µs/request | × unprotected (CPU) | p50 µs | p99 µs | p99.9 µs "
          "| p99 × unprotected | cache hit rate | server / generator busy | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    pct = lambda x: "—" if x is None else f"{x * 100:.0f} %"  # noqa: E731
    for label, v in s.items():
        rate = "—" if v["hit_rate"] is None else f"{v['hit_rate'] * 100:.1f} %"
        note = " (tokens ran out)" if v["exhausted"] else ""
        print(f"| {label}{note} | {v['rps']:,.0f} | {fmt(v['ratio'], '.2f')} | {fmt(v['cpu'], '.1f')} | "
              f"{fmt(v['cpu_ratio'], '.2f')} | {v['p50']:.0f} | {v['p99']:.0f} | {v['p999']:.0f} | "
              f"{fmt(v['p99_ratio'], '.2f')} | {rate} | {pct(v['server_busy'])} / {pct(v['load_busy'])} | {v['errors']} |")
    print()
    if smoke:
        print("smoke run (debug build, small token lists): every variant answered 200; these are not measurements")
    else:
        goals(s, floor)


def goals(s, floor):
    def get(label):
        return s.get(label)

    lines = []

    def goal(name, value, target, met, how):
        lines.append(f"- {'met' if met else 'MISSED'}: {name}: {value} (goal {target}){how}")

    for label in ("jwt-gate, 1 client", "jwt-gate, 1 000 clients",
                  "gRPC, jwt-gate, 1 client", "gRPC, jwt-gate, 1 000 clients"):
        v = get(label)
        if v and v["ratio"] is not None:
            goal(f"{label}, requests/s", f"{v['ratio']:.3f}×", "≥ 0.97×", v["ratio"] >= 0.97,
                 ("" if v["ratio"] >= 0.97 else f", short by {(0.97 - v['ratio']) * 100:.1f} points")
                 + f"; by server CPU per request {fmt(v['cpu_ratio'], '.3f')}×")
            goal(f"{label}, p99", f"{v['p99_ratio']:.2f}×", "≤ 1.10×", v["p99_ratio"] <= 1.10, "")
    v = get("jwt-gate, 100 000 clients")
    off = get("jwt-gate, cache off, 100 000 clients") or get("jwt-gate, cache off, 1 000 clients")
    if v and v["ratio"] is not None:
        goal("100 000 clients, default cache, requests/s", f"{v['ratio']:.3f}×", "≥ 0.90×",
             v["ratio"] >= 0.90, f"; by server CPU per request {fmt(v['cpu_ratio'], '.3f')}×")
        if off and off["ratio"] is not None:
            goal("100 000 clients = twice the default bound, against the cache off",
                 f"{v['ratio']:.3f}× vs {off['ratio']:.3f}×", "never below", v["ratio"] >= off["ratio"], "")
        if v["hit_rate"] is not None:
            goal("twice the bound, hit rate", f"{v['hit_rate'] * 100:.1f} %", "≥ 40 %", v["hit_rate"] >= 0.40, "")
    cold = get("jwt-gate, every token new")
    if cold and cold["cpu"] and cold["ceiling_cpu"]:
        # Server CPU per request: what the request costs, whoever else runs.
        per_request, bound = cold["cpu"], cold["ceiling_cpu"] + floor["rs256_verify_us"]
        goal("every token new, server CPU per request", f"{per_request:.1f} µs",
             f"≤ 1.05 × ({cold['ceiling_cpu']:.1f} µs unprotected + {floor['rs256_verify_us']:.1f} µs one RS256 check)"
             f" = {1.05 * bound:.1f} µs", per_request <= 1.05 * bound,
             f" ({per_request / bound:.3f}× the floor)")
    dpop = get("jwt-gate, DPoP, 1 000 clients")
    if dpop and dpop["cpu"] and dpop["ceiling_cpu"] and floor.get("es256_verify_us"):
        # No goal in the issue: how far the proof's check is from its floor.
        bound = dpop["ceiling_cpu"] + floor["es256_verify_us"]
        lines.append(f"- DPoP (a new proof each request, the token cached), server CPU per request: "
                     f"{dpop['cpu']:.1f} µs against {dpop['ceiling_cpu']:.1f} µs unprotected + "
                     f"{floor['es256_verify_us']:.1f} µs one ES256 check = {bound:.1f} µs "
                     f"({dpop['cpu'] / bound:.3f}× that floor; no goal set)")
    for peer in ("jwt-authorizer", "aliri_tower"):
        for clients in ("1 client", "1 000 clients"):
            ours, theirs = get(f"jwt-gate, {clients}"), get(f"{peer}, {clients}")
            if ours and theirs:
                lines.append(f"- jwt-gate against {peer}, {clients}: "
                             f"{ours['rps'] / theirs['rps']:.2f}× the requests/s, "
                             f"p99 {ours['p99'] / theirs['p99']:.2f}×")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
