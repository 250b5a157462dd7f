//! A DPoP request (RFC 9449) against its physical floor, in one run of
//! interleaved rounds:
//!
//! - `floor_cold`: aws-lc-rs verifying the proof's ES256 signature and the
//!   token's RS256 signature (keys parsed once, signatures decoded once)
//!   plus one SHA-256 of the token (`ath`);
//! - `dpop_cold`: `Validator::validate_request` with `Authorization: DPoP`
//!   and a proof, the verified-token cache off: the token and the proof
//!   verified, the proof key parsed from its `jwk`, the binding, `htu`;
//! - `floor_cold_ours`: the proof's ES256 signature and the SHA-256 (as in
//!   `floor_cold`), and the token validated by the same validator as a
//!   bearer token (`validate_request`, cache off): what DPoP adds to
//!   jwt-gate's own token validation;
//! - `floor_hit`: the proof's ES256 signature, the SHA-256, and a bearer
//!   cache hit of the same validator (`validate_request` with an unbound
//!   token served from the cache): what a cached DPoP request cannot avoid;
//! - `dpop_hit`: `validate_request` with the token cached: the proof still
//!   verified on every request (the cache saves the token's signature only);
//! - `bearer_cold`, `bearer_hit`: the same validator with a bearer token,
//!   for reference.
//!
//! The replay store is left out of these rows (a store that accepts every
//! proof), and measured on its own: `replay_memory` (the in-process store,
//! a new proof key each call) and, when a Redis server is at hand
//! (`JWT_GATE_REDIS_URL`, or `redis-server` on the PATH), `replay_redis`
//! (one `SET NX PX` round trip on loopback).
//!
//! Run: `cargo bench --bench dpop`, then `python3 benches/report.py dpop`.

#[path = "support/fixture.rs"]
mod fixture;
#[path = "support/rounds.rs"]
mod rounds;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self as sig, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group};
use fixture::{AUDIENCE, ISSUER};
use http::{HeaderMap, HeaderValue, Method, Uri};
use jwt_gate::dpop::{
    Dpop, DpopRules, MemoryReplayStore, RedisReplayStore, ReplayFuture, ReplayStore,
};
use jwt_gate::testing::DpopKey;
use jwt_gate::{Algorithm, Validator};
use serde_json::json;

const URL: &str = "https://api.example.com/orders";

/// Accepts every proof: the rows without the replay store's cost.
#[derive(Debug)]
struct AcceptAll;

impl ReplayStore for AcceptAll {
    fn first_use(&self, _: [u8; 32], _: Duration) -> ReplayFuture<'_> {
        Box::pin(std::future::ready(Ok(true)))
    }
    fn first_use_now(
        &self,
        _: [u8; 32],
        _: Duration,
    ) -> Option<Result<bool, jwt_gate::dpop::ReplayError>> {
        Some(Ok(true))
    }
}

fn validator(cache: bool, keys: jwt_gate::KeySet) -> Validator {
    let builder = Validator::builder()
        .keys(keys)
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .require_scopes(["orders.read"])
        .dpop(
            Dpop::allowed()
                .public_origin("https://api.example.com")
                // Proofs are made once, before minutes of measuring.
                .rules(DpopRules::new().max_age(Duration::from_secs(86_400)))
                .replay_store(AcceptAll),
        );
    let builder = if cache {
        builder
    } else {
        builder.token_cache(0, 0)
    };
    builder.build().unwrap()
}

fn headers(scheme: &str, token: &str, proof: Option<&str>) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "authorization",
        HeaderValue::from_str(&format!("{scheme} {token}")).unwrap(),
    );
    if let Some(proof) = proof {
        h.insert("dpop", HeaderValue::from_str(proof).unwrap());
    }
    h
}

/// `validate_request` `n` times on one runtime.
fn request_run(validator: Validator, headers: HeaderMap) -> rounds::Run {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let uri: Uri = "/orders".parse().unwrap();
    runtime
        .block_on(validator.validate_request::<()>(&Method::GET, &uri, &headers))
        .expect("accepted");
    Box::new(move |n| {
        runtime.block_on(async {
            for _ in 0..n {
                black_box(
                    validator
                        .validate_request::<()>(&Method::GET, black_box(&uri), black_box(&headers))
                        .await
                        .unwrap(),
                );
            }
        })
    })
}

fn runs() -> Vec<(&'static str, rounds::Run)> {
    let issuer = fixture::key(Algorithm::RS256, "rsa2048");
    let keys = issuer.key_set("k1");
    let client = DpopKey::from_signing_key(fixture::key(Algorithm::ES256, "p256"));
    let now = jwt_gate::UnixTime::now().as_secs();
    let claims =
        fixture::claims(json!({"cnf": {"jkt": client.thumbprint()}, "iat": now, "nbf": now}));
    let bound = fixture::token(&issuer, Algorithm::RS256, json!({}), &claims);
    let plain = fixture::token(
        &issuer,
        Algorithm::RS256,
        json!({}),
        &fixture::claims(json!({"iat": now, "nbf": now})),
    );
    let proof = client.proof("GET", URL).access_token(&bound).sign();

    // The floor: both signatures with keys parsed once, and one SHA-256.
    let jwk = client.public_jwk();
    let d = |v: &serde_json::Value| URL_SAFE_NO_PAD.decode(v.as_str().unwrap()).unwrap();
    let point = [vec![4], d(&jwk["x"]), d(&jwk["y"])].concat();
    let proof_key = ParsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, point).unwrap();
    let issuer_jwk = issuer.public_jwk("k1");
    let (n, e) = (d(&issuer_jwk["n"]), d(&issuer_jwk["e"]));
    let token_key = RsaPublicKeyComponents {
        n: &n[..],
        e: &e[..],
    }
    .to_parsed_public_key(&sig::RSA_PKCS1_2048_8192_SHA256)
    .unwrap();
    let split = |jws: &str| {
        let (input, signature) = jws.rsplit_once('.').unwrap();
        (input.to_owned(), URL_SAFE_NO_PAD.decode(signature).unwrap())
    };
    let ((proof_input, proof_sig), (token_input, token_sig)) = (split(&proof), split(&bound));
    let proof_part = Arc::new(move || {
        proof_key
            .verify_sig(black_box(proof_input.as_bytes()), black_box(&proof_sig))
            .unwrap();
    });
    let sha = {
        let bound = bound.clone();
        move || {
            black_box(digest::digest(&digest::SHA256, black_box(bound.as_bytes())));
        }
    };
    let floor_cold = {
        let (proof_part, sha) = (Arc::clone(&proof_part), sha.clone());
        move || {
            proof_part();
            token_key
                .verify_sig(black_box(token_input.as_bytes()), black_box(&token_sig))
                .unwrap();
            sha();
        }
    };
    let cached = validator(true, keys.clone());
    // The proof's signature and the SHA-256, then `validator` on the
    // bearer token.
    let with_bearer = |validator: Validator| -> rounds::Run {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let uri: Uri = "/orders".parse().unwrap();
        let h = headers("Bearer", &plain, None);
        let (proof_part, sha) = (Arc::clone(&proof_part), sha.clone());
        Box::new(move |n| {
            runtime.block_on(async {
                for _ in 0..n {
                    proof_part();
                    sha();
                    black_box(
                        validator
                            .validate_request::<()>(&Method::GET, &uri, &h)
                            .await
                            .unwrap(),
                    );
                }
            })
        })
    };
    let floor_hit = with_bearer(cached.clone());
    let floor_cold_ours = with_bearer(validator(false, keys.clone()));
    let mut runs: Vec<(&'static str, rounds::Run)> = vec![
        ("floor_cold", rounds::times(floor_cold)),
        (
            "dpop_cold",
            request_run(
                validator(false, keys.clone()),
                headers("DPoP", &bound, Some(&proof)),
            ),
        ),
        ("floor_cold_ours", floor_cold_ours),
        ("floor_hit", floor_hit),
        (
            "dpop_hit",
            request_run(cached.clone(), headers("DPoP", &bound, Some(&proof))),
        ),
        (
            "bearer_cold",
            request_run(validator(false, keys), headers("Bearer", &plain, None)),
        ),
        (
            "bearer_hit",
            request_run(cached, headers("Bearer", &plain, None)),
        ),
    ];
    runs.push(("replay_memory", replay_memory()));
    if let Some(run) = replay_redis() {
        runs.push(("replay_redis", run));
    }
    runs
}

/// The in-process store, a new key each call (as every proof is new).
fn replay_memory() -> rounds::Run {
    let store = MemoryReplayStore::new(usize::MAX);
    let counter = std::cell::Cell::new(1u64);
    Box::new(move |n| {
        for _ in 0..n {
            let mut key = [0u8; 32];
            key[..8].copy_from_slice(&counter.get().to_le_bytes());
            counter.set(counter.get() + 1);
            // One second: the store rotates its generations as it goes.
            black_box(
                store
                    .first_use_now(key, Duration::from_secs(1))
                    .unwrap()
                    .unwrap(),
            );
        }
    })
}

/// A `redis-server` of the bench's own, stopped on drop.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One `SET NX PX` per call on a Redis server on loopback, when one is at
/// hand; a server of our own lives as long as the run.
fn replay_redis() -> Option<rounds::Run> {
    let (url, child) = match std::env::var("JWT_GATE_REDIS_URL") {
        Ok(url) => (url, None),
        Err(_) => {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .ok()?
                .local_addr()
                .ok()?
                .port();
            let child = std::process::Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .ok()
                .map(Server)?;
            for _ in 0..100 {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            (format!("redis://127.0.0.1:{port}/"), Some(child))
        }
    };
    let store = RedisReplayStore::new(&url).ok()?.key_prefix("bench:");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(store.first_use([0; 32], Duration::from_secs(1)))
        .ok()?;
    let counter = std::cell::Cell::new(1u64);
    Some(Box::new(move |n| {
        let _server = &child;
        runtime.block_on(async {
            for _ in 0..n {
                let mut key = [0u8; 32];
                key[..8].copy_from_slice(&counter.get().to_le_bytes());
                counter.set(counter.get() + 1);
                black_box(store.first_use(key, Duration::from_secs(1)).await.unwrap());
            }
        })
    }))
}

fn dpop(c: &mut Criterion) {
    rounds::bench_group(c, "dpop", &runs());
}

/// The same contenders in interleaved rounds; `target/criterion/dpop.json`.
fn paired(_: &mut Criterion) {
    let rounds = if rounds::full() { 150 } else { 1 };
    let runs = runs();
    let times = rounds::interleave(&runs, rounds);
    let at = |name: &str| runs.iter().position(|(f, _)| *f == name).unwrap();
    let ratio = |a: &str, b: &str| {
        let (a, b) = (at(a), at(b));
        rounds::per_round(rounds, |r| times[a][r] / times[b][r])
    };
    let out = json!({
        "median_ns": runs.iter().enumerate()
            .map(|(i, (f, _))| (f.to_string(), json!(rounds::median(times[i].clone()))))
            .collect::<serde_json::Map<_, _>>(),
        "cold_over_floor": ratio("dpop_cold", "floor_cold"),
        "cold_over_floor_ours": ratio("dpop_cold", "floor_cold_ours"),
        "hit_over_floor": ratio("dpop_hit", "floor_hit"),
        "cold_over_bearer": ratio("dpop_cold", "bearer_cold"),
        "rounds": rounds,
    });
    rounds::save("dpop.json", &out);
}

criterion_group! {
    name = benches;
    config = rounds::config(3, 50);
    targets = dpop, paired
}

/// `DPOP_BENCH_ONLY=<contender> DPOP_BENCH_N=<n>` runs one contender `n`
/// times and exits, for instruction counts under callgrind; otherwise the
/// criterion benches run.
fn main() {
    if let Ok(only) = std::env::var("DPOP_BENCH_ONLY") {
        let n = std::env::var("DPOP_BENCH_N").map_or(1000, |n| n.parse().unwrap());
        let runs = runs();
        let (_, run) = runs
            .iter()
            .find(|(name, _)| *name == only)
            .expect("a contender");
        run(n);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
