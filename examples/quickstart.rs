//! Quickstart: validate real tokens offline, and see what a client would get.
//!
//! An embedded RSA key plays the identity provider: it signs a few access
//! tokens (a good one, an expired one, one for another audience, one without
//! the scope, an IdentityServer-shaped one with `"admin": "false"` and
//! `"tenantId": "1741"`, and a tampered one). jwt-gate validates each against
//! the provider's JWKS and prints the outcome, the HTTP status and the
//! `WWW-Authenticate` challenge a resource server would answer with.
//!
//! ```text
//! cargo run --example quickstart
//! ```

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, KeyPair, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jwt_gate::{Claims, KeySet, UnixTime, Validation};
use serde::Deserialize;
use serde_json::{Value, json};

/// The test key committed in `tests/keys/` (never use it for anything real).
const PRIVATE_KEY: &[u8] = include_bytes!("../tests/keys/rsa2048.pk8.der");
const ISSUER: &str = "https://auth.example.com/";
const AUDIENCE: &str = "api://orders";

/// Your claims: IdentityServer sends strings where others send bools and
/// numbers; the `jwt_gate::de` helpers read both.
#[derive(Debug, Deserialize)]
struct MyClaims {
    #[serde(
        rename = "tenantId",
        deserialize_with = "jwt_gate::de::string_or_number"
    )]
    tenant_id: String,
    #[serde(default, deserialize_with = "jwt_gate::de::bool_or_string")]
    admin: bool,
}

fn main() {
    let key = RsaKeyPair::from_pkcs8(PRIVATE_KEY).expect("embedded key");
    let jwks = json!({"keys": [{
        "kty": "RSA", "kid": "2026-01", "use": "sig", "alg": "RS256",
        "n": B64.encode(key.public_key().modulus().big_endian_without_leading_zero()),
        "e": B64.encode(key.public_key().exponent().big_endian_without_leading_zero()),
    }]});

    // What a resource server configures once at startup.
    let keys = KeySet::from_jwks_json(jwks.to_string()).expect("a JWK Set");
    let rules = Validation::new()
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .require_scopes(["orders.read"]);
    let now = UnixTime::now();

    let t = now.as_secs();
    let good = json!({
        "iss": ISSUER, "sub": "user-1", "aud": AUDIENCE, "iat": t, "exp": t + 3600,
        "scope": "orders.read", "tenantId": 42, "admin": true,
    });
    let with = |patch: Value| {
        let mut c = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let identityserver = json!({
        "iss": ISSUER, "sub": "974899", "aud": AUDIENCE, "nbf": t, "iat": t, "exp": t + 3600,
        "scope": ["orders.read", "tamarack"], "client_id": "ext-1741-sample-client",
        "admin": "false", "tenantId": "1741",
    });
    let tampered = {
        let token = sign(&key, &good);
        let (rest, _sig) = token.rsplit_once('.').unwrap();
        let (header, _payload) = rest.split_once('.').unwrap();
        let forged = B64.encode(with(json!({"admin": true, "sub": "admin"})).to_string());
        format!("{header}.{forged}.{}", B64.encode([0u8; 256]))
    };

    let cases = [
        ("good token", sign(&key, &good)),
        ("IdentityServer-shaped", sign(&key, &identityserver)),
        (
            "expired",
            sign(&key, &with(json!({"exp": t - 3600, "iat": t - 7200}))),
        ),
        (
            "wrong audience",
            sign(&key, &with(json!({"aud": "api://billing"}))),
        ),
        (
            "missing scope",
            sign(&key, &with(json!({"scope": "profile"}))),
        ),
        ("tampered payload", tampered),
        ("not a JWT", "hello".to_owned()),
    ];

    println!("{:<22} {:<6} outcome", "token", "status");
    println!("{}", "-".repeat(100));
    for (name, token) in cases {
        match jwt_gate::validate::<MyClaims>(&token, &keys, &rules, now) {
            Ok(claims) => print_ok(name, &claims),
            Err(err) => {
                let challenge = err
                    .www_authenticate(Some("orders"))
                    .map(|v| v.to_str().unwrap_or_default().to_owned())
                    .unwrap_or_default();
                println!("{name:<22} {:<6} {err}", err.status().as_u16());
                println!("{:<29} WWW-Authenticate: {challenge}", "");
            }
        }
    }
}

fn print_ok(name: &str, claims: &Claims<MyClaims>) {
    println!(
        "{name:<22} {:<6} sub={} tenant_id={:?} admin={} scopes=[{}]",
        200,
        claims.subject().unwrap_or("-"),
        claims.tenant_id,
        claims.admin,
        claims.scopes(),
    );
}

fn sign(key: &RsaKeyPair, claims: &Value) -> String {
    let header = json!({"alg": "RS256", "kid": "2026-01", "typ": "at+jwt"});
    let input = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let mut sig = vec![0; key.public_modulus_len()];
    key.sign(
        &signature::RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .expect("signing");
    format!("{input}.{}", B64.encode(sig))
}
