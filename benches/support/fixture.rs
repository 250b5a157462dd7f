//! What the benches share: the committed test keys (`tests/keys/`), the
//! issuer, audience and time of the token fixtures, and minting with
//! jwt-gate's one test signer (`jwt_gate::testing::SigningKey`).
#![allow(dead_code)]

use jwt_gate::Algorithm;
use jwt_gate::testing::SigningKey;
use serde_json::{Value, json};

/// The fixtures' "now" (2026-01-01T00:00:00Z).
pub(crate) const NOW: u64 = 1_767_225_600;
pub(crate) const ISSUER: &str = "https://issuer.example.com/";
pub(crate) const AUDIENCE: &str = "api://orders";

/// The committed private key `tests/keys/{name}.pk8.der`, to sign `alg`.
pub(crate) fn key(alg: Algorithm, name: &str) -> SigningKey {
    let path = format!("{}/tests/keys/{name}.pk8.der", env!("CARGO_MANIFEST_DIR"));
    let der = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    SigningKey::from_pkcs8(alg, &der).expect("a committed test key")
}

/// A fixed 32-byte HMAC secret.
pub(crate) fn hmac32() -> SigningKey {
    let secret: Vec<u8> = (0..32).map(|i| (i * 7 + 3) as u8).collect();
    SigningKey::hmac(Algorithm::HS256, &secret)
}

/// A token of `claims` signed with `alg`, header `kid: k1` plus `extra`.
pub(crate) fn token(key: &SigningKey, alg: Algorithm, extra: Value, claims: &Value) -> String {
    let mut header = json!({ "alg": alg.as_str(), "kid": "k1" });
    if let Value::Object(extra) = extra {
        for (name, value) in extra {
            header[name] = value;
        }
    }
    key.sign_token(&header, claims)
}

/// An access token's claims, valid until 2100, with `patch` merged in.
pub(crate) fn claims(patch: Value) -> Value {
    let mut claims = json!({
        "iss": ISSUER,
        "sub": "user-1234",
        "aud": AUDIENCE,
        "exp": 4_102_444_800u64,
        "nbf": NOW - 300,
        "iat": NOW - 300,
        "jti": "4f1c2b9e",
        "client_id": "orders-web",
        "scope": "orders.read",
        "tenantId": "tenant-42",
        "admin": false,
    });
    if let Value::Object(patch) = patch {
        for (name, value) in patch {
            claims[name] = value;
        }
    }
    claims
}

/// The tenant of the Entra ID preset contender.
pub(crate) const ENTRA_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// The preset contender: `claims` re-issued by an Entra ID tenant (its v2.0
/// `iss`, `tid`, `iat` now: the preset's maximum age reads the clock); a
/// `Validator` (token cache `cache`: entries, or off for 0) from
/// `providers::entra` with a client id, a maximum age and the app roles it
/// reads, whose key names its `issuer` as Entra's JWK Sets do; and the plain
/// `Validator` of the same token (issuer and audience only, a key without
/// `issuer`): the same bytes, so the difference is the rules alone.
pub(crate) fn entra_preset(
    key: &SigningKey,
    claims: &Value,
    client: &str,
    cache: u64,
) -> (String, jwt_gate::Validator, jwt_gate::Validator) {
    let issuer = format!("https://login.microsoftonline.com/{ENTRA_TENANT}/v2.0");
    let now = jwt_gate::UnixTime::now().as_secs();
    let mut claims = claims.clone();
    claims["iss"] = issuer.clone().into();
    claims["tid"] = ENTRA_TENANT.into();
    claims["iat"] = (now - 60).into();
    claims["nbf"] = (now - 60).into();
    let token = self::token(key, Algorithm::RS256, json!({"typ": "JWT"}), &claims);
    let plain = jwt_gate::Validator::builder()
        .keys(key.key_set("k1"))
        .issuer(&issuer)
        .audience(AUDIENCE)
        .token_cache(cache, if cache == 0 { 0 } else { 64 << 20 })
        .build()
        .expect("the plain contender builds");
    let mut jwk = key.public_jwk("k1");
    jwk["issuer"] = issuer.into();
    let keys = jwt_gate::KeySet::from_jwks(&json!({ "keys": [jwk] })).expect("a JWK Set");
    let validator = jwt_gate::providers::entra(ENTRA_TENANT)
        .keys(keys)
        .audience(AUDIENCE)
        .client_ids([client])
        .max_age(std::time::Duration::from_secs(24 * 3600))
        .token_cache(cache, if cache == 0 { 0 } else { 64 << 20 })
        .build()
        .expect("the preset contender builds");
    (token, validator, plain)
}
