//! Cold validation per algorithm, side by side in one run:
//!
//! - `floor`: aws-lc-rs verifying the signing input, key parsed once,
//!   signature already decoded — the physical floor of any validator;
//! - `jwt_gate`: `jwt_gate::validate` with a `KeySet` and `Validation`;
//! - `parse`: what any validator must do besides the signature: base64url-
//!   decode header and payload and deserialize them (header into a
//!   `serde_json::Value`, payload into the claims struct), no checks;
//! - `jsonwebtoken`: `jsonwebtoken::decode` with a prebuilt `DecodingKey`
//!   and `Validation` doing the same checks (iss, aud, exp, nbf, leeway, the
//!   same typed claims struct, then the scope check by hand);
//! - `validator`: `Validator::validate().await` with warm (static) keys and
//!   the verified-token cache off (cold tokens; `benches/cache.rs` has hits);
//! - `preset` and `preset_plain` (RS256 only): `Validator::validate().await`
//!   on the same claims re-issued by an Entra tenant, through
//!   `providers::entra` (client id, maximum age, app roles, a key bound to
//!   its `issuer`) and with plain rules (issuer, audience): what the claim
//!   rules cost.
//!
//! Tokens are ~900-byte access tokens minted at startup with the committed
//! test keys in `tests/keys/`. `jwt_gate` runs at a pinned time; jsonwebtoken
//! reads the clock, so `exp` is far in the future for both.
//!
//! Run: `cargo bench --bench validate`, then `python3 benches/report.py` for
//! the table in BENCHMARKS.md.

#[path = "support/fixture.rs"]
mod fixture;
#[path = "support/rounds.rs"]
mod rounds;

use std::hint::black_box;

use aws_lc_rs::hmac;
use aws_lc_rs::signature::{self as sig, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group};
use fixture::{AUDIENCE, ISSUER, NOW, hmac32};
use jwt_gate::testing::SigningKey;
use jwt_gate::{Algorithm, KeySet, UnixTime, Validation, Validator};
use serde::Deserialize;
use serde_json::{Value, json};

/// What a handler wants from the token; identical for both validators.
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct BenchClaims {
    sub: String,
    scope: String,
    #[serde(
        rename = "tenantId",
        deserialize_with = "jwt_gate::de::string_or_number"
    )]
    tenant_id: String,
    #[serde(default, deserialize_with = "jwt_gate::de::bool_or_string")]
    admin: bool,
}

const EXP: u64 = 4_102_444_800; // 2100-01-01

fn bench_claims() -> Value {
    json!({
        "iss": ISSUER,
        "sub": "auth0|5f7c8ec7c33c6c004bbafe82",
        "aud": [AUDIENCE, "https://issuer.example.com/userinfo"],
        "iat": NOW,
        "nbf": NOW,
        "exp": EXP,
        "jti": "6e9a1c3f-1d5b-4c4f-9f33-2b7a4f0d9e11",
        "client_id": "orders-web-7f3a9c",
        "azp": "orders-web-7f3a9c",
        "scope": "openid profile email orders.read orders.write",
        "tenantId": "1741",
        "admin": "false",
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "roles": ["orders-admin", "billing-viewer"],
        "sid": "a7c1e2d4-5f6b-4a3c-8e9d-0b1c2d3e4f50",
    })
}

fn decoding_key(key: &SigningKey, alg: Algorithm) -> jsonwebtoken::DecodingKey {
    let jwk = key.public_jwk("k1");
    let s = |k: &str| jwk[k].as_str().unwrap().to_owned();
    match alg {
        Algorithm::HS256 => jsonwebtoken::DecodingKey::from_base64_secret(
            &base64::engine::general_purpose::STANDARD
                .encode(URL_SAFE_NO_PAD.decode(s("k")).unwrap()),
        )
        .unwrap(),
        Algorithm::ES256 | Algorithm::ES384 => {
            jsonwebtoken::DecodingKey::from_ec_components(&s("x"), &s("y")).unwrap()
        }
        Algorithm::EdDSA => jsonwebtoken::DecodingKey::from_ed_components(&s("x")).unwrap(),
        _ => jsonwebtoken::DecodingKey::from_rsa_components(&s("n"), &s("e")).unwrap(),
    }
}

/// The floor: the key parsed once, the signature decoded once.
enum Floor {
    Public(ParsedPublicKey),
    Hmac(Box<hmac::Key>),
}

fn floor_key(key: &SigningKey, alg: Algorithm) -> Floor {
    let jwk = key.public_jwk("k1");
    let d = |k: &str| URL_SAFE_NO_PAD.decode(jwk[k].as_str().unwrap()).unwrap();
    match alg {
        Algorithm::HS256 => Floor::Hmac(Box::new(hmac::Key::new(hmac::HMAC_SHA256, &d("k")))),
        Algorithm::ES256 | Algorithm::ES384 => {
            let point = [vec![4], d("x"), d("y")].concat();
            let a: &'static dyn sig::VerificationAlgorithm = if alg == Algorithm::ES256 {
                &sig::ECDSA_P256_SHA256_FIXED
            } else {
                &sig::ECDSA_P384_SHA384_FIXED
            };
            Floor::Public(ParsedPublicKey::new(a, point).unwrap())
        }
        Algorithm::EdDSA => Floor::Public(ParsedPublicKey::new(&sig::ED25519, d("x")).unwrap()),
        _ => {
            let params: &'static sig::RsaParameters = if alg == Algorithm::PS256 {
                &sig::RSA_PSS_2048_8192_SHA256
            } else {
                &sig::RSA_PKCS1_2048_8192_SHA256
            };
            let (n, e) = (d("n"), d("e"));
            Floor::Public(
                RsaPublicKeyComponents {
                    n: &n[..],
                    e: &e[..],
                }
                .to_parsed_public_key(params)
                .unwrap(),
            )
        }
    }
}

/// One algorithm's contenders, each a closure that validates (or verifies)
/// the same token once.
struct Case {
    name: &'static str,
    runs: Vec<(&'static str, rounds::Run)>,
}

fn cases() -> Vec<Case> {
    // (row, algorithm, committed key in tests/keys/; HMAC: a fixed secret)
    let cases = [
        ("RS256", Algorithm::RS256, "rsa2048"),
        ("RS256-4096", Algorithm::RS256, "rsa4096"),
        ("PS256", Algorithm::PS256, "rsa2048"),
        ("ES256", Algorithm::ES256, "p256"),
        ("ES384", Algorithm::ES384, "p384"),
        ("EdDSA", Algorithm::EdDSA, "ed25519"),
        ("HS256", Algorithm::HS256, ""),
    ];
    cases
        .into_iter()
        .map(|(name, alg, file)| {
            let key = match alg {
                Algorithm::HS256 => hmac32(),
                _ => fixture::key(alg, file),
            };
            let token = fixture::token(&key, alg, json!({"typ": "at+jwt"}), &bench_claims());
            let keys: KeySet = key.key_set("k1");
            let rules = Validation::new()
                .issuer(ISSUER)
                .audience(AUDIENCE)
                .require_scopes(["orders.read"])
                .algorithms([alg]);
            let now = UnixTime::from_secs(NOW + 60);
            // Every contender must accept the token before it is timed.
            jwt_gate::validate::<BenchClaims>(&token, &keys, &rules, now)
                .expect("jwt_gate accepts");

            let jwt_key = decoding_key(&key, alg);
            let mut jwt_rules = jsonwebtoken::Validation::new(alg.as_str().parse().unwrap());
            jwt_rules.set_issuer(&[ISSUER]);
            jwt_rules.set_audience(&[AUDIENCE]);
            jwt_rules.leeway = 60;
            jwt_rules.validate_nbf = true;
            let jsonwebtoken_validate = move |token: &str| {
                let data = jsonwebtoken::decode::<BenchClaims>(token, &jwt_key, &jwt_rules).ok()?;
                data.claims
                    .scope
                    .split(' ')
                    .any(|s| s == "orders.read")
                    .then_some(data)
            };
            jsonwebtoken_validate(&token).expect("jsonwebtoken accepts");

            let floor = floor_key(&key, alg);
            let (input, signature) = token.rsplit_once('.').unwrap();
            let (input, signature) = (input.to_owned(), URL_SAFE_NO_PAD.decode(signature).unwrap());
            let floor_verify = move || match &floor {
                Floor::Public(k) => k
                    .verify_sig(black_box(input.as_bytes()), black_box(&signature))
                    .unwrap(),
                Floor::Hmac(k) => {
                    hmac::verify(k, black_box(input.as_bytes()), black_box(&signature)).unwrap()
                }
            };
            floor_verify();

            let (header_b64, payload_b64) = {
                let (i, _) = token.rsplit_once('.').unwrap();
                let (h, p) = i.split_once('.').unwrap();
                (h.to_owned(), p.to_owned())
            };
            let parse = move || {
                let header = URL_SAFE_NO_PAD.decode(black_box(&header_b64)).unwrap();
                let payload = URL_SAFE_NO_PAD.decode(black_box(&payload_b64)).unwrap();
                let header: Value = serde_json::from_slice(&header).unwrap();
                let claims: BenchClaims = serde_json::from_slice(&payload).unwrap();
                black_box((header, claims));
            };
            // The async front door with warm (here: static) keys, driven
            // by one `block_on` per batch so the executor is not measured.
            // The token cache is off: this compares cold validations.
            let validator = Validator::builder()
                .keys(keys.clone())
                .validation(rules.clone())
                .token_cache(0, 0)
                .build()
                .unwrap();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let validator_token = token.clone();
            let validator_run: rounds::Run = Box::new(move |n| {
                runtime.block_on(async {
                    for _ in 0..n {
                        black_box(
                            validator
                                .validate::<BenchClaims>(black_box(&validator_token))
                                .await
                                .unwrap(),
                        );
                    }
                })
            });
            let ours = {
                let token = token.clone();
                move || {
                    black_box(
                        jwt_gate::validate::<BenchClaims>(black_box(&token), &keys, &rules, now)
                            .unwrap(),
                    );
                }
            };
            let theirs = move || {
                black_box(jsonwebtoken_validate(black_box(&token)).unwrap());
            };
            let mut runs = vec![
                ("floor", rounds::times(floor_verify)),
                ("parse", rounds::times(parse)),
                ("jwt_gate", rounds::times(ours)),
                ("jsonwebtoken", rounds::times(theirs)),
                ("validator", validator_run),
            ];
            if name == "RS256" {
                runs.extend(preset_runs(&key));
            }
            Case { name, runs }
        })
        .collect()
}

/// `Validator::validate().await` on an Entra ID token, cache off: through
/// the Entra ID preset, and with plain rules (issuer and audience).
fn preset_runs(key: &SigningKey) -> [(&'static str, rounds::Run); 2] {
    let (token, preset, plain) =
        fixture::entra_preset(key, &bench_claims(), "orders-web-7f3a9c", 0);
    let run = |validator: Validator| -> rounds::Run {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let token = token.clone();
        runtime
            .block_on(validator.validate::<BenchClaims>(&token))
            .expect("accepted");
        Box::new(move |n| {
            runtime.block_on(async {
                for _ in 0..n {
                    black_box(
                        validator
                            .validate::<BenchClaims>(black_box(&token))
                            .await
                            .unwrap(),
                    );
                }
            })
        })
    };
    [("preset_plain", run(plain)), ("preset", run(preset))]
}

fn cold_validation(c: &mut Criterion) {
    for case in cases() {
        rounds::bench_group(c, &format!("cold/{}", case.name), &case.runs);
    }
}

/// The same contenders again, in interleaved rounds (see `support/rounds.rs`);
/// results in `target/criterion/paired.json` for `benches/report.py`.
fn paired(_: &mut Criterion) {
    let rounds = if rounds::full() { 150 } else { 1 };
    let mut out = serde_json::Map::new();
    for case in cases() {
        let times = rounds::interleave(&case.runs, rounds);
        let (floor, parse, ours, theirs, validator) = (0, 1, 2, 3, 4);
        let ratio =
            |a: usize, b: &dyn Fn(usize) -> f64| rounds::per_round(rounds, |r| times[a][r] / b(r));
        let mut entry = json!({
            "median_ns": case.runs.iter().enumerate()
                .map(|(i, (f, _))| (f.to_string(), json!(rounds::median(times[i].clone()))))
                .collect::<serde_json::Map<_, _>>(),
            "jwt_gate_over_floor": ratio(ours, &|r| times[floor][r]),
            "jwt_gate_over_budget": ratio(ours, &|r| 1.08 * times[floor][r] + times[parse][r]),
            "jwt_gate_over_jsonwebtoken": ratio(ours, &|r| times[theirs][r]),
            "validator_over_jwt_gate": ratio(validator, &|r| times[ours][r]),
            "rounds": rounds,
        });
        let at = |name: &str| case.runs.iter().position(|(f, _)| *f == name);
        if let (Some(preset), Some(plain)) = (at("preset"), at("preset_plain")) {
            entry["preset_over_plain"] = json!(ratio(preset, &|r| times[plain][r]));
        }
        out.insert(case.name.to_owned(), entry);
    }
    rounds::save("paired.json", &serde_json::Value::Object(out));
}

criterion_group! {
    name = benches;
    config = rounds::config(4, 100);
    targets = cold_validation, paired
}
/// `VALIDATE_BENCH_ONLY=<case>/<contender> VALIDATE_BENCH_N=<n>` runs one
/// contender `n` times and exits, for instruction counts under callgrind
/// (`benches/instructions.sh`); otherwise the criterion benches run.
fn main() {
    if let Ok(only) = std::env::var("VALIDATE_BENCH_ONLY") {
        let n = std::env::var("VALIDATE_BENCH_N").map_or(1000, |n| n.parse().unwrap());
        let (case, contender) = only.split_once('/').expect("<case>/<contender>");
        let cases = cases();
        let case = cases.iter().find(|c| c.name == case).expect("a case name");
        let (_, run) = case
            .runs
            .iter()
            .find(|(name, _)| *name == contender)
            .expect("a contender name");
        run(n);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
