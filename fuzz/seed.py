#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, from the JOSE vectors in tests/data
and the shapes the hostile tests use. Writes fuzz/seeds/<target>/ (not
kept in git: made again by this script, which `fuzz/run.sh` calls).

Also writes fuzz/keys.json, the public keys of the vectors the `token`
target validates with, when --keys is given.

Run: python3 fuzz/seed.py [--keys]
"""
import base64
import hashlib
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent
DATA = ROOT.parent / "tests" / "data"
SEEDS = ROOT / "seeds"


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def vectors():
    for name in ["rfc7515.json", "wycheproof_jws.json", "wycheproof_transplant.json", "wycheproof_es512.json", "wycheproof_jwk.json"]:
        for case in json.loads((DATA / name).read_text()):
            yield case


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    out = SEEDS / target
    out.mkdir(parents=True, exist_ok=True)
    (out / hashlib.sha1(data).hexdigest()).write_bytes(data)


def main():
    keys = {}
    for case in vectors():
        token = case.get("token")
        if isinstance(token, str):
            put("token", token)
            parts = token.split(".")
            if len(parts) == 3:
                try:
                    header, payload = b64d(parts[0]), b64d(parts[1])
                    put("signed_claims", header + b"\0" + payload)
                    put("signed_claims", payload)
                    put("dpop_proof", token)
                    put("request", b"\x00/orders\nauthorization: Bearer " + token.encode())
                except Exception:
                    pass
        jwks = case.get("jwks")
        if isinstance(jwks, dict):
            put("jwks", json.dumps(jwks))
            for key in jwks.get("keys", []):
                if key.get("kty") in ("RSA", "EC", "OKP") and "d" not in key and key.get("kid"):
                    keys.setdefault(key["kid"], key)
        jwk = case.get("jwk")
        if isinstance(jwk, dict):
            put("jwks", json.dumps({"keys": [jwk]}))
    # The hostile tests' shapes (tests/hostile.rs): `none`, `crit`, odd
    # numbers and strings, duplicates, deep nesting, under the HS256 key.
    now = 1767225400
    good = {"iss": "https://issuer.example.com/", "aud": "api://orders", "exp": now + 600,
            "iat": now, "sub": "u1", "scope": "orders.read", "tenantId": "1741", "admin": "false"}
    headers = [
        {"alg": "HS256", "kid": "fuzz"},
        {"alg": "none", "kid": "fuzz"},
        {"alg": "HS256", "kid": "fuzz", "crit": ["exp"]},
        {"alg": "HS256", "kid": "fuzz", "typ": "at+jwt", "b64": False, "crit": ["b64"]},
        {"alg": "HS256", "kid": "fuzz", "jku": "https://evil.example/jwks", "x5u": "https://evil.example/c"},
        {"alg": "HS256", "kid": "fuzz", "jwk": {"kty": "oct", "k": "AAAA"}},
    ]
    payloads = [
        json.dumps(good),
        json.dumps({**good, "exp": 1e400}),
        json.dumps({**good, "aud": []}),
        json.dumps({**good, "iss": "https://issuer.example.com/\u0000"}),
        json.dumps({**good, "tenantId": 1741, "admin": False, "groups": ["a", "b"]}),
        json.dumps({**good, "cnf": {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}),
        json.dumps({**good, "realm_access": {"roles": ["orders.admin"]}}),
        json.dumps(good)[:-1] + ', "exp": 1}',
        '{"a":' * 200 + "1" + "}" * 200,
    ]
    for header in headers:
        for payload in payloads:
            put("signed_claims", json.dumps(header).encode() + b"\0" + payload.encode())
    # Discovery and metadata documents, good and odd.
    issuer = "https://issuer.example.com/"
    for doc in [
        {"issuer": issuer, "jwks_uri": issuer + "jwks", "introspection_endpoint": issuer + "introspect"},
        {"issuer": issuer, "jwks_uri": "http://127.0.0.1/jwks"},
        {"issuer": issuer + "x", "jwks_uri": issuer + "jwks"},
        {"issuer": issuer, "jwks_uri": 7},
        {"issuer": issuer, "jwks_uri": issuer + "jwks", "issuer": "dup"},
    ]:
        put("discovery", json.dumps(doc))
    put("discovery", "[]")
    # Introspection answers: active with the claims a tenant API reads,
    # inactive, odd `active`, DPoP-bound.
    active = {"active": True, "iss": issuer, "aud": "api://orders", "exp": now + 600, "iat": now,
              "sub": "u1", "scope": "orders.read", "client_id": "c1", "tenantId": "1741", "admin": "false"}
    put("introspection", json.dumps(active))
    put("introspection", json.dumps({**active, "tenantId": 1741, "admin": False, "groups": "g"}))
    put("introspection", json.dumps({**active, "cnf": {"jkt": "x"}, "token_type": "DPoP"}))
    put("introspection", json.dumps({"active": False}))
    put("introspection", json.dumps({"active": "true"}))
    put("introspection", '{"active":true,"active":false}')
    # Requests: each header the layer reads.
    for line in [
        b"authorization: Bearer a.b.c",
        b"authorization: DPoP a.b.c\ndpop: x.y.z",
        b"authorization: Bearer a.b.c\nauthorization: Bearer d.e.f",
        b"x-api-key: the-fuzzing-api-key",
        b"x-api-key: wrong\nauthorization: Bearer a.b.c",
        b"client-cert: :MIIB:\nauthorization: Bearer a.b.c",
        b'client-cert: Hash=abc;Cert="-----BEGIN%20CERTIFICATE-----";Subject="CN=a;b"',
        b"client-cert: -----BEGIN%20CERTIFICATE-----%0AMIIB%0A-----END%20CERTIFICATE-----%0A",
    ]:
        for pick in range(4):
            put("request", bytes([pick]) + b"/orders?access_token=q\n" + line)
    if "--keys" in sys.argv:
        (ROOT / "keys.json").write_text(json.dumps({"keys": list(keys.values())}, indent=1) + "\n")
    counts = {p.name: len(list(p.iterdir())) for p in sorted(SEEDS.iterdir())}
    print("seeds:", ", ".join(f"{k} {v}" for k, v in counts.items()))


main()
