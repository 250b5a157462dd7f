//! Test support: committed test keys (`tests/keys/`, made with openssl), a
//! signer that signs any header and payload bytes, JWKs for the keys, and a
//! fixed clock. Tokens are minted at test time, never hard-coded.
#![allow(dead_code, unreachable_pub)]

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use aws_lc_rs::{hmac, rsa};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jwt_gate::{Algorithm, KeySet, UnixTime, Validation};
use serde_json::{Value, json};

/// The claims our users' handlers want, whatever the provider's spelling:
/// IdentityServer's `"tenantId": "1741"` and `"admin": "false"`, or numbers
/// and booleans from others.
#[derive(Debug, serde::Deserialize)]
pub struct TenantClaims {
    #[serde(
        rename = "tenantId",
        deserialize_with = "jwt_gate::de::string_or_number"
    )]
    pub tenant_id: String,
    #[serde(default, deserialize_with = "jwt_gate::de::bool_or_string")]
    pub admin: bool,
}

/// The fixed "now" of every test: 2026-01-01T00:00:00Z.
pub const NOW: u64 = 1_767_225_600;
pub const ISSUER: &str = "https://issuer.example.com/";
pub const AUDIENCE: &str = "api://orders";

pub fn now() -> UnixTime {
    UnixTime::from_secs(NOW)
}

/// A private key the tests sign with.
pub enum TestKey {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair, Algorithm),
    Ed(Ed25519KeyPair),
    Hmac(Vec<u8>),
}

fn pk8(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/keys/{name}.pk8.der",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

pub fn pub_pem(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/keys/{name}.pub.pem",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

pub fn rsa2048() -> TestKey {
    TestKey::Rsa(RsaKeyPair::from_pkcs8(&pk8("rsa2048")).unwrap())
}
pub fn rsa4096() -> TestKey {
    TestKey::Rsa(RsaKeyPair::from_pkcs8(&pk8("rsa4096")).unwrap())
}
pub fn p256() -> TestKey {
    TestKey::Ec(
        EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &pk8("p256"))
            .unwrap(),
        Algorithm::ES256,
    )
}
pub fn p384() -> TestKey {
    TestKey::Ec(
        EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P384_SHA384_FIXED_SIGNING, &pk8("p384"))
            .unwrap(),
        Algorithm::ES384,
    )
}
pub fn ed25519() -> TestKey {
    TestKey::Ed(Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pk8("ed25519")).unwrap())
}
pub fn hmac_key(len: usize) -> TestKey {
    TestKey::Hmac((0..len).map(|i| (i * 7 + 3) as u8).collect())
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    B64.encode(bytes)
}

pub fn alg_name(alg: Algorithm) -> String {
    serde_json::to_value(alg)
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

impl TestKey {
    /// Signs `message` with `alg` (which must fit the key).
    pub fn sign(&self, alg: Algorithm, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match self {
            Self::Rsa(kp) => {
                let enc: &'static dyn signature::RsaEncoding = match alg {
                    Algorithm::RS256 => &signature::RSA_PKCS1_SHA256,
                    Algorithm::RS384 => &signature::RSA_PKCS1_SHA384,
                    Algorithm::RS512 => &signature::RSA_PKCS1_SHA512,
                    Algorithm::PS256 => &signature::RSA_PSS_SHA256,
                    Algorithm::PS384 => &signature::RSA_PSS_SHA384,
                    Algorithm::PS512 => &signature::RSA_PSS_SHA512,
                    other => panic!("{other:?} is not an RSA algorithm"),
                };
                let mut sig = vec![0; kp.public_modulus_len()];
                kp.sign(enc, &rng, message, &mut sig).unwrap();
                sig
            }
            Self::Ec(kp, _) => kp.sign(&rng, message).unwrap().as_ref().to_vec(),
            Self::Ed(kp) => kp.sign(message).as_ref().to_vec(),
            Self::Hmac(secret) => {
                let a = match alg {
                    Algorithm::HS384 => hmac::HMAC_SHA384,
                    Algorithm::HS512 => hmac::HMAC_SHA512,
                    _ => hmac::HMAC_SHA256,
                };
                hmac::sign(&hmac::Key::new(a, secret), message)
                    .as_ref()
                    .to_vec()
            }
        }
    }

    /// The default algorithm for this key.
    pub fn alg(&self) -> Algorithm {
        match self {
            Self::Rsa(_) => Algorithm::RS256,
            Self::Ec(_, alg) => *alg,
            Self::Ed(_) => Algorithm::EdDSA,
            Self::Hmac(_) => Algorithm::HS256,
        }
    }

    /// The public JWK (`oct` for HMAC), with `kid` and `use: sig`.
    pub fn jwk(&self, kid: &str) -> Value {
        match self {
            Self::Rsa(kp) => {
                let public: &rsa::PublicKey = kp.public_key();
                json!({
                    "kty": "RSA", "kid": kid, "use": "sig",
                    "n": b64(public.modulus().big_endian_without_leading_zero()),
                    "e": b64(public.exponent().big_endian_without_leading_zero()),
                })
            }
            Self::Ec(kp, alg) => {
                let point = kp.public_key().as_ref();
                let len = (point.len() - 1) / 2;
                json!({
                    "kty": "EC", "kid": kid, "use": "sig",
                    "crv": if *alg == Algorithm::ES256 { "P-256" } else { "P-384" },
                    "x": b64(&point[1..1 + len]), "y": b64(&point[1 + len..]),
                })
            }
            Self::Ed(kp) => json!({
                "kty": "OKP", "kid": kid, "use": "sig", "crv": "Ed25519",
                "x": b64(kp.public_key().as_ref()),
            }),
            Self::Hmac(secret) => json!({"kty": "oct", "kid": kid, "k": b64(secret)}),
        }
    }

    /// A one-key JWK Set for this key.
    pub fn key_set(&self, kid: &str) -> KeySet {
        KeySet::from_jwks(&json!({ "keys": [self.jwk(kid)] })).unwrap()
    }
}

/// Signs the exact header and payload bytes given: the way to build tokens
/// that are malformed on purpose.
pub fn sign_raw(key: &TestKey, alg: Algorithm, header: &[u8], payload: &[u8]) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let sig = key.sign(alg, input.as_bytes());
    format!("{input}.{}", b64(sig))
}

/// Signs `claims` with a header of `alg`, `kid` and any `extra` members.
pub fn sign_with(
    key: &TestKey,
    alg: Algorithm,
    kid: Option<&str>,
    extra: Value,
    claims: &Value,
) -> String {
    let mut header = json!({ "alg": alg_name(alg) });
    if let Some(kid) = kid {
        header["kid"] = json!(kid);
    }
    if let Value::Object(extra) = extra {
        for (k, v) in extra {
            header[k] = v;
        }
    }
    sign_raw(
        key,
        alg,
        header.to_string().as_bytes(),
        claims.to_string().as_bytes(),
    )
}

/// Signs `claims` with the key's default algorithm and `kid` "k1".
pub fn sign(key: &TestKey, claims: &Value) -> String {
    sign_with(key, key.alg(), Some("k1"), json!({}), claims)
}

/// A good access token's claims at [`NOW`].
pub fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "sub": "user-1234",
        "aud": AUDIENCE,
        "exp": NOW + 3600,
        "nbf": NOW - 300,
        "iat": NOW - 300,
        "jti": "4f1c2b9e",
        "client_id": "orders-web",
        "scope": "orders.read",
        "tenantId": "tenant-42",
        "admin": false,
    })
}

/// `claims()` with `patch` merged in (a `null` value removes the member).
pub fn claims_with(patch: Value) -> Value {
    let mut c = claims();
    for (k, v) in patch.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

/// The rules matching [`claims`].
pub fn rules() -> Validation {
    Validation::new()
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .leeway(std::time::Duration::from_secs(60))
}
