#!/usr/bin/env python3
"""Generates wycheproof_es512.json: ES512 (ECDSA P-521, SHA-512) cases in the
format of README.md, so ES512 is held to the same vectors as ES256.

Wycheproof's ecdsa_secp521r1_sha512_p1363_test.json (C2SP/wycheproof,
commit 81ee421) defects are re-applied to a real access token: its
message-independent special-case signatures (r, s in {0, 1, n - 1, n, n + 1,
p, p + 1}), its range and overflow modifications of a valid signature
(r + n, s + n, r + 2^521, s + 2^521, r + 256n, n - r), and signature shape
defects; plus key defects and a control. The P-521 key is derived from a
fixed scalar, so the keys are stable; ECDSA signatures are randomized, so
rerunning changes the tokens, not the cases.

Run: python3 tests/data/es512.py > tests/data/wycheproof_es512.json
Needs: the `cryptography` package.
"""
import base64
import json

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

N = int("01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409", 16)
P = 2**521 - 1
LEN = 66
SOURCE = {
    "repo": "C2SP/wycheproof",
    "commit": "81ee4212308ec0c715755c813edf9ec0d4e82e34",
    "file": "testvectors_v1/ecdsa_secp521r1_sha512_p1363_test.json",
}
CONFIG = {
    "issuer": "https://issuer.example.com/",
    "audience": "api://orders",
    "required_scopes": ["orders.read"],
    "algorithms": ["ES512"],
    "leeway_s": 60,
    "now": 1767225600,
    "require_typ": None,
    "max_token_bytes": 16384,
}
CLAIMS = {
    "iss": "https://issuer.example.com/",
    "sub": "user-1234",
    "aud": "api://orders",
    "exp": 1767229200,
    "nbf": 1767225300,
    "iat": 1767225300,
    "jti": "4f1c2b9e-jti",
    "client_id": "orders-web",
    "scope": "orders.read",
    "tenantId": "tenant-42",
    "admin": False,
}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


key = ec.derive_private_key(0x5EC2_1A77_E5_7E_5512 * 0x1_0000_0001 + 521, ec.SECP521R1())
numbers = key.public_key().public_numbers()
JWK = {
    "kty": "EC",
    "crv": "P-521",
    "kid": "kid-p521",
    "use": "sig",
    "alg": "ES512",
    "x": b64(numbers.x.to_bytes(LEN, "big")),
    "y": b64(numbers.y.to_bytes(LEN, "big")),
}
HEADER = {"alg": "ES512", "typ": "at+jwt", "kid": "kid-p521"}
INPUT = f"{b64(compact(HEADER))}.{b64(compact(CLAIMS))}"
r, s = decode_dss_signature(key.sign(INPUT.encode(), ec.ECDSA(hashes.SHA512())))


def token(signature: bytes) -> str:
    return f"{INPUT}.{b64(signature)}"


def p1363(r: int, s: int, size: int = LEN) -> bytes:
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def case(id_, description, tok, expect, error=None, jwks=None, source=None):
    c = {
        "id": f"wycheproof-es512-{id_}",
        "category": "vector_wycheproof_transplant",
        "description": description,
        "token": tok,
        "jwks": jwks or {"keys": [JWK]},
        "config": CONFIG,
        "expect": expect,
    }
    if expect == "accept":
        c["claims"] = {"sub": "user-1234", "tenantId": "tenant-42", "admin": False, "scopes": ["orders.read"]}
    else:
        c["error"] = error
        c["error_any_of"] = [error]
    c["source"] = dict(SOURCE, **(source or {}))
    return c


cases = [case("control", "Control: a correct ES512 access token, P-521 key from the JWK Set.", token(p1363(r, s)), "accept", source={"note": "key and token made here"})]
# Wycheproof's one "valid" modification: (r, n - s) verifies in plain ECDSA (no low-s rule in JWS).
cases.append(case("malleability", "Wycheproof 'signature malleability' (result valid): (r, n - s) of a valid signature verifies; JWS has no low-s rule.", token(p1363(r, N - s)), "accept", source={"comment": "signature malleability", "result": "valid"}))
modified = [
    ("r-plus-n", "replaced r by r + n", "RangeCheck", (r + N, s)),
    ("r-plus-256n", "replaced r by r + 256 * n", "RangeCheck", (r + 256 * N, s)),
    ("n-minus-r", "replaced r by n - r", "ModifiedInteger", (N - r, s)),
    ("r-plus-2pow521", "replaced r by r + 2**521", "IntegerOverflow", (r + 2**521, s)),
    ("s-plus-n", "replaced s by s + n", "RangeCheck", (r, s + N)),
    ("s-plus-256n", "replaced s by s + 256 * n", "RangeCheck", (r, s + 256 * N)),
    ("s-plus-2pow521", "replaced s by s + 2**521", "IntegerOverflow", (r, s + 2**521)),
]
for id_, comment, flag, (rr, ss) in modified:
    size = max(LEN, (max(rr, ss).bit_length() + 7) // 8)
    cases.append(case(id_, f"Wycheproof '{comment}' ({flag}, result invalid) applied to a valid ES512 signature of a real access token.", token(p1363(rr, ss, size)), "reject", "bad_signature", source={"comment": comment, "flags": [flag], "result": "invalid"}))
special = [("0", 0), ("1", 1), ("n - 1", N - 1), ("n", N), ("n + 1", N + 1), ("p", P), ("p + 1", P + 1)]
for rname, rv in special:
    for sname, sv in special:
        comment = f"Signature with special case values r={rname} and s={sname}"
        slug = f"r{rname}-s{sname}".replace(" ", "").replace("+", "plus").replace("-", "minus")
        cases.append(case(f"special-{slug}", f"Wycheproof '{comment}' (InvalidSignature, message independent) attached to a valid access token.", token(p1363(rv, sv)), "reject", "bad_signature", source={"comment": comment, "flags": ["InvalidSignature"], "result": "invalid"}))
valid = p1363(r, s)
shapes = [
    ("too-long", "two extra bytes", valid + b"\x00\x00", "bad_signature"),
    ("truncated", "last byte missing", valid[:-1], "bad_signature"),
    ("r-and-s-of-65-bytes", "r and s one byte short each (SignatureSize)", valid[1:LEN] + valid[LEN + 1:], "bad_signature"),
    ("der", "DER (ASN.1) encoding instead of P1363", key.sign(INPUT.encode(), ec.ECDSA(hashes.SHA512())), "bad_signature"),
    ("empty", "an empty signature", b"", "bad_signature"),
]
for id_, what, sig, error in shapes:
    cases.append(case(f"shape-{id_}", f"ES512 signature of a real access token with {what}.", token(sig), "reject", error, source={"note": "shape defect"}))
p256 = ec.derive_private_key(0x1234567, ec.SECP256R1()).public_key().public_numbers()
key_defects = [
    ("jwk-p256-key", "an ES512 token, and a P-256 key under its kid", {**JWK, "crv": "P-256", "alg": "ES256", "x": b64(p256.x.to_bytes(32, "big")), "y": b64(p256.y.to_bytes(32, "big"))}),
    ("jwk-alg-es256", "the P-521 key labelled alg ES256", {**JWK, "alg": "ES256"}),
    ("jwk-short-coordinates", "x and y of 65 bytes, their first byte dropped (RFC 7518 6.2.1.2 wants all 66)", {**JWK, "x": b64(numbers.x.to_bytes(LEN, "big")[1:]), "y": b64(numbers.y.to_bytes(LEN, "big")[1:])}),
    ("jwk-not-on-curve", "a point not on P-521 (y + 1)", {**JWK, "y": b64(((numbers.y + 1) % P).to_bytes(LEN, "big"))}),
]
for id_, what, jwk in key_defects:
    cases.append(case(id_, f"A valid ES512 access token; the JWK Set has {what}: no usable key.", token(valid), "reject", "unknown_key", jwks={"keys": [jwk]}, source={"note": "key defect"}))
print(json.dumps(cases, indent=1))
