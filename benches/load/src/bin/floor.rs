//! `floor DIR`: the physical floor of the cold path, measured on this core
//! in the same run: one RS256 signature check (aws-lc-rs, the library
//! jwt-gate verifies with) over the minted tokens of `rs256-fresh`, and
//! jwt-gate's whole cold validation (`validate` with no cache) of the same
//! tokens; and one ES256 signature check (the floor of a DPoP request,
//! whose proof is new every time) over the tokens of `es256-1000`. Prints
//! one JSON line (µs, medians of 15 rounds).

use std::hint::black_box;
use std::time::Instant;

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jwt_gate::{Algorithm, KeySet, UnixTime, Validation};
use jwt_gate_load::{AUDIENCE, ISSUER, JWKS_FILE, read_tokens};

fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).expect("usage: floor DIR"));
    let tokens = read_tokens(&dir.join("rs256-fresh")).expect("run mint first");
    let tokens = &tokens[..tokens.len().min(2_000)];
    let pem = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/keys/rsa2048.pub.pem"
    ))
    .unwrap();
    let der: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let spki = STANDARD.decode(der).unwrap();
    let key = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, spki);
    let verify = signature_check(tokens, &key);
    let jwks = std::fs::read(dir.join(JWKS_FILE)).unwrap();
    let es256 = es256_verify(&dir, &jwks);
    let keys = KeySet::from_jwks_json(&jwks).unwrap();
    let rules = Validation::new()
        .algorithms([Algorithm::RS256])
        .issuer(ISSUER)
        .audience(AUDIENCE);
    let now = UnixTime::now();
    let validate = median_per_op(tokens.len(), || {
        for token in tokens {
            black_box(jwt_gate::validate::<()>(token, &keys, &rules, now).unwrap());
        }
    });
    println!(
        "{}",
        serde_json::json!({
            "rs256_verify_us": verify,
            "jwt_gate_cold_validate_us": validate,
            "es256_verify_us": es256,
        })
    );
}

/// One ES256 check of the `es256-1000` tokens with the JWK Set's P-256
/// key (`kid` "es"), µs.
fn es256_verify(dir: &std::path::Path, jwks: &[u8]) -> f64 {
    let tokens = read_tokens(&dir.join("es256-1000")).expect("run mint first");
    let jwks: serde_json::Value = serde_json::from_slice(jwks).unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == "es")
        .expect("the ES256 key");
    let coordinate = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
    let point = [vec![4], coordinate("x"), coordinate("y")].concat();
    let key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point);
    signature_check(&tokens, &key)
}

/// One check of each token's signature with `key` (signatures decoded
/// beforehand), µs.
fn signature_check(tokens: &[String], key: &UnparsedPublicKey<Vec<u8>>) -> f64 {
    let signed: Vec<(&str, Vec<u8>)> = tokens
        .iter()
        .map(|t| {
            let (message, signature) = t.rsplit_once('.').unwrap();
            (message, URL_SAFE_NO_PAD.decode(signature).unwrap())
        })
        .collect();
    median_per_op(signed.len(), || {
        for (message, signature) in &signed {
            key.verify(message.as_bytes(), signature).unwrap();
        }
    })
}

/// The median over 15 rounds of `round`'s time per operation, in µs.
fn median_per_op(ops: usize, mut round: impl FnMut()) -> f64 {
    round();
    let mut times: Vec<f64> = (0..15)
        .map(|_| {
            let started = Instant::now();
            round();
            started.elapsed().as_secs_f64() * 1e6 / ops as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}
