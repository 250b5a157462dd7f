//! `mint DIR [--small]`: the public JWK Set (`jwks.json`), the token lists
//! of `TOKEN_SETS`, signed with the repository's committed test keys
//! (`tests/keys/rsa2048`, `tests/keys/p256`) on every core, and the DPoP
//! list of `DPOP_SET` (tokens bound to fresh client keys, with a proof
//! each). A list already there with the right count is kept (RSA signing
//! 250 000 tokens takes a minute or two).

use std::path::{Path, PathBuf};

use jwt_gate::Algorithm;
use jwt_gate::testing::{DpopKey, SigningKey};
use jwt_gate_load::{
    AUDIENCE, DPOP_ORIGIN, DPOP_SET, EXPIRES, ISSUER, JWKS_FILE, TOKEN_SETS, read_tokens,
};
use serde_json::json;

fn key(alg: Algorithm, name: &str) -> SigningKey {
    let path = format!(
        "{}/../../tests/keys/{name}.pk8.der",
        env!("CARGO_MANIFEST_DIR")
    );
    let der = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    SigningKey::from_pkcs8(alg, &der).expect("a committed test key")
}

fn token(key: &SigningKey, alg: Algorithm, kid: &str, subject: &str) -> String {
    bound_token(key, alg, kid, subject, None)
}

/// A token as `token` makes, bound to `dpop` (`cnf.jkt`) if given.
fn bound_token(
    key: &SigningKey,
    alg: Algorithm,
    kid: &str,
    subject: &str,
    dpop: Option<&DpopKey>,
) -> String {
    let header = json!({ "alg": alg.as_str(), "kid": kid, "typ": "at+jwt" });
    let mut claims = json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "client_id": "orders-web",
        "scope": "orders.read",
        "iat": 1_767_225_600u64,
        "nbf": 1_767_225_600u64,
        "exp": EXPIRES,
        "jti": subject,
        "tenantId": "1741",
        "admin": false,
    });
    if let Some(dpop) = dpop {
        claims["cnf"] = json!({ "jkt": dpop.thumbprint() });
    }
    key.sign_token(&header, &claims)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().expect("usage: mint DIR [--small]"));
    let small = args.next().as_deref() == Some("--small");
    std::fs::create_dir_all(&dir).unwrap();
    let rs = key(Algorithm::RS256, "rsa2048");
    let es = key(Algorithm::ES256, "p256");
    let jwks = json!({ "keys": [
        with_alg(rs.public_jwk("rs"), "RS256"),
        with_alg(es.public_jwk("es"), "ES256"),
    ]});
    std::fs::write(
        dir.join(JWKS_FILE),
        serde_json::to_vec_pretty(&jwks).unwrap(),
    )
    .unwrap();
    for (name, alg, full, reduced) in TOKEN_SETS {
        let count = if small { reduced } else { full };
        let path = dir.join(name);
        if read_tokens(&path).is_ok_and(|t| t.len() == count) {
            continue;
        }
        let (key, alg, kid) = match alg {
            "RS256" => (&rs, Algorithm::RS256, "rs"),
            _ => (&es, Algorithm::ES256, "es"),
        };
        let started = std::time::Instant::now();
        write_tokens(&path, count, |i| {
            token(key, alg, kid, &format!("{name}-client-{i}"))
        });
        eprintln!("minted {count} {name} tokens in {:.1?}", started.elapsed());
    }
    let (name, clients, full, reduced) = DPOP_SET;
    let count = if small { reduced } else { full };
    let path = dir.join(name);
    if !read_tokens(&path).is_ok_and(|t| t.len() == count) {
        let started = std::time::Instant::now();
        let keys: Vec<DpopKey> = (0..clients)
            .map(|_| DpopKey::generate(Algorithm::ES256))
            .collect();
        let tokens: Vec<String> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                bound_token(
                    &rs,
                    Algorithm::RS256,
                    "rs",
                    &format!("{name}-client-{i}"),
                    Some(k),
                )
            })
            .collect();
        let url = format!("{DPOP_ORIGIN}/orders");
        write_tokens(&path, count, |i| {
            let (key, token) = (&keys[i % clients], &tokens[i % clients]);
            let proof = key.proof("GET", &url).access_token(token).sign();
            format!("{token} {proof}")
        });
        eprintln!("minted {count} {name} proofs in {:.1?}", started.elapsed());
    }
}

fn with_alg(mut jwk: serde_json::Value, alg: &str) -> serde_json::Value {
    jwk["alg"] = json!(alg);
    jwk["use"] = json!("sig");
    jwk
}

/// Signs `count` tokens on every core, in order, one a line.
fn write_tokens(path: &Path, count: usize, mint: impl Fn(usize) -> String + Sync) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = count.div_ceil(threads);
    let parts: Vec<Vec<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let mint = &mint;
                s.spawn(move || {
                    (t * chunk..((t + 1) * chunk).min(count))
                        .map(mint)
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut text = parts.concat().join("\n");
    text.push('\n');
    std::fs::write(path, text).unwrap();
}
