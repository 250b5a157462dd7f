//! The verified-token cache, measured in one run:
//!
//! 1. a cache hit against a cold validation (cache off), RS256-2048 and
//!    RSA-4096 (criterion and interleaved rounds): one token again and
//!    again (the thread's own copy), and 256 clients' tokens in turn (the
//!    shared level), and 100 000 clients' tokens in turn (the shared level,
//!    its entries out of the CPU's caches; against cold RS256); and the same hit through a validator trusting two
//!    issuers; and through the Entra ID preset (client id, maximum age,
//!    roles: the maximum age is checked again on every hit);
//!    and certificate-bound tokens (RFC 8705) served from the cache through
//!    `validate_http_request`, against an unbound token through the same
//!    function: the certificate from the TLS stack (its thumbprint computed
//!    when the connection's `ClientCertificate` was made: a comparison per
//!    request), and from a proxy's RFC 9440 `Client-Cert` header (a 1 KiB
//!    certificate, decoded from base64 and hashed the first time its value
//!    is seen, then remembered); and what that first sight costs on its own
//!    (`certificate/first_sight`: base64 decode and SHA-256 of 1 KiB);
//!    and opaque tokens (RFC 7662): an introspection cache hit
//!    (`introspection/hit`) against a JWT cache hit through the same
//!    validator (`introspection/jwt_hit`), both `validate_without_waiting`
//!    after a real introspection at a `TestIssuer` on loopback (nothing on
//!    the network while measured), and the SHA-256 of the opaque token
//!    alone (`introspection/digest`, what keying that cache by digest
//!    costs); and API keys through
//!    `validate_http_request` (`api_key/16_keys`, `api_key/1000_keys`:
//!    SHA-256 of the key, then a constant-time comparison with every
//!    configured hash), against `RS256/request_hit`, a token through the
//!    same function;
//! 2. 1 against 2 threads hammering one `Validator` with cache hits
//!    (`validate_without_waiting`), as throughput;
//! 3. a mixed workload: 10 000 distinct live ES256 tokens round-robin plus
//!    10 % garbage, as throughput, with the cache's memory at the end; and
//!    garbage alone against its parse.
//!
//! Run: `cargo bench --bench cache`, then `python3 benches/report.py cache`.

#[path = "support/fixture.rs"]
mod fixture;
#[path = "support/rounds.rs"]
mod rounds;

use std::hint::black_box;
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use fixture::{AUDIENCE, ISSUER, claims, hmac32};
use jwt_gate::mtls::{CertificateBinding, ClientCertificate};
use jwt_gate::testing::SigningKey;
use jwt_gate::{Algorithm, Claims, IssuerBuilder, KeySet, Validator};
use serde_json::json;

fn validator(keys: KeySet, cached: bool) -> Validator {
    let builder = Validator::builder()
        .keys(keys)
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .algorithms([Algorithm::RS256, Algorithm::ES256, Algorithm::HS256]);
    let builder = if cached {
        builder
    } else {
        builder.token_cache(0, 0)
    };
    builder.build().unwrap()
}

fn token(key: &SigningKey, alg: Algorithm) -> String {
    fixture::token(
        key,
        alg,
        json!({"typ": "at+jwt"}),
        &claims(json!({"exp": 4_102_444_800u64})),
    )
}

/// One live token per client, `client-0` … `client-{n-1}`.
fn client_tokens(key: &SigningKey, alg: Algorithm, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            fixture::token(
                key,
                alg,
                json!({"typ": "at+jwt"}),
                &claims(json!({"exp": 4_102_444_800u64, "sub": format!("client-{i}")})),
            )
        })
        .collect()
}

use rounds::{Run, median};

/// `validator` validating `token` again and again (a cache hit once warm).
fn again(validator: Validator, token: String) -> Run {
    Box::new(move |n| {
        for _ in 0..n {
            let claims: Claims = validator
                .validate_without_waiting(black_box(&token))
                .unwrap();
            black_box(claims);
        }
    })
}

/// `validator` validating `clients`' tokens in turn: none is seen twice in
/// a row, so every hit is served by the shared level.
fn in_turn(validator: Validator, clients: Vec<String>) -> Run {
    let next = std::cell::Cell::new(0usize);
    Box::new(move |n| {
        for _ in 0..n {
            let i = next.get();
            next.set((i + 1) % clients.len());
            let claims: Claims = validator
                .validate_without_waiting(black_box(&clients[i]))
                .unwrap();
            black_box(claims);
        }
    })
}

/// A cached validator of the contenders, by key, with its misses after
/// warming up.
type Warmed = (&'static str, Validator, u64);

/// The contenders, and the cached validators behind them with their miss
/// count after warming up (to read the counters after the rounds).
fn contenders() -> (Vec<(String, Run)>, Vec<Warmed>) {
    let mut cached_validators = Vec::new();
    let mut runs: Vec<(String, Run)> = Vec::new();
    for (name, key) in [
        ("RS256", fixture::key(Algorithm::RS256, "rsa2048")),
        ("RS256-4096", fixture::key(Algorithm::RS256, "rsa4096")),
    ] {
        let token = token(&key, Algorithm::RS256);
        // Hits on 256 clients' tokens in turn: none is seen twice in a row,
        // so every hit is served by the shared level, never a thread's copy.
        let clients = client_tokens(&key, Algorithm::RS256, 256);
        for (kind, cached) in [("cold", false), ("hit", true)] {
            let validator = validator(key.key_set("k1"), cached);
            let _: Claims = validator.validate_without_waiting(&token).unwrap();
            let token = token.clone();
            if cached {
                let validator = validator.clone();
                let clients = clients.clone();
                for t in &clients {
                    let _: Claims = validator.validate_without_waiting(t).unwrap();
                }
                let warmed_up = validator.token_cache_stats().misses;
                cached_validators.push((name, validator.clone(), warmed_up));
                runs.push((format!("{name}/shared_hit"), in_turn(validator, clients)));
            }
            runs.push((format!("{name}/{kind}"), again(validator, token)));
        }
    }
    // Hits on 100 000 clients' tokens in turn, a cache raised to hold them
    // all: entries no longer in the CPU's caches, as in a busy service.
    // ES256 tokens, minted in seconds (100 000 RSA signatures would take
    // minutes); the hit does not depend on the algorithm, only on the
    // token's length (446 bytes here, 702 for the RS256 ones). Compared
    // with the cold RS256 validation. 2 000 under `cargo test --benches`.
    let many = if rounds::full() { 100_000 } else { 2_000 };
    let ec = fixture::key(Algorithm::ES256, "p256");
    let clients = client_tokens(&ec, Algorithm::ES256, many);
    let validator = Validator::builder()
        .keys(ec.key_set("k1"))
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .algorithms([Algorithm::ES256])
        .token_cache(200_000, 1 << 30)
        .build()
        .unwrap();
    for t in &clients {
        let _: Claims = validator.validate_without_waiting(t).unwrap();
    }
    let warmed_up = validator.token_cache_stats().misses;
    cached_validators.push(("many_clients", validator.clone(), warmed_up));
    runs.push((
        "many_clients/shared_hit".into(),
        in_turn(validator, clients),
    ));
    // The same RS256 hit through a validator trusting two issuers: what
    // reading the unverified `iss` to pick one adds.
    let key = fixture::key(Algorithm::RS256, "rsa2048");
    let token = token(&key, Algorithm::RS256);
    let other = IssuerBuilder::new()
        .issuer("https://other.example.com")
        .keys(key.key_set("k1"))
        .audience(AUDIENCE);
    let multi = Validator::multi_issuer()
        .trust(other)
        .trust(
            IssuerBuilder::new()
                .issuer(ISSUER)
                .keys(key.key_set("k1"))
                .audience(AUDIENCE)
                .algorithms([Algorithm::RS256]),
        )
        .build()
        .unwrap();
    let _: Claims = multi.validate_without_waiting(&token).unwrap();
    runs.push(("RS256/multi_issuer_hit".into(), again(multi, token)));
    // The same hit through a provider preset: its maximum age is checked
    // again on every hit.
    let (preset_token, preset, plain) = fixture::entra_preset(
        &key,
        &claims(json!({"exp": 4_102_444_800u64, "roles": ["orders-admin"]})),
        "orders-web",
        50_000,
    );
    for (name, validator) in [
        ("RS256/preset_plain_hit", plain),
        ("RS256/preset_hit", preset),
    ] {
        let _: Claims = validator.validate_without_waiting(&preset_token).unwrap();
        runs.push((name.into(), again(validator, preset_token.clone())));
    }
    runs.extend(certificate_bound(&key));
    runs.extend(introspected());
    runs.extend(api_keys());
    (runs, cached_validators)
}

/// An opaque token and a JWT, each a cache hit of one validator that
/// introspects opaque tokens at a `TestIssuer` (kept running, though the
/// hits never reach it).
fn introspected() -> Vec<(String, Run)> {
    use jwt_gate::introspection::Introspection;
    use jwt_gate::testing::{INTROSPECTION_CLIENT_ID, INTROSPECTION_CLIENT_SECRET, TestIssuer};
    let runtime = Box::leak(Box::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap(),
    ));
    let issuer: &'static TestIssuer = Box::leak(Box::new(runtime.block_on(TestIssuer::start())));
    let day = std::time::Duration::from_secs(24 * 3600);
    let validator = Validator::builder()
        .issuer(issuer.issuer())
        .audience(AUDIENCE)
        .allow_http()
        .introspection(
            Introspection::client_secret_basic(
                INTROSPECTION_CLIENT_ID,
                INTROSPECTION_CLIENT_SECRET,
            )
            .max_cache_age(day),
        )
        .build()
        .unwrap();
    let opaque = issuer.token().audience(AUDIENCE).expires_in(day).opaque();
    let jwt = issuer.token().audience(AUDIENCE).expires_in(day).sign();
    for token in [&opaque, &jwt] {
        let _: Claims = runtime.block_on(validator.validate(token)).expect("valid");
    }
    // What keying the cache by digest costs: SHA-256 of the token alone.
    let token = opaque.clone();
    let digest: Run = Box::new(move |n| {
        for _ in 0..n {
            black_box(aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA256,
                black_box(token.as_bytes()),
            ));
        }
    });
    vec![
        ("introspection/hit".into(), again(validator.clone(), opaque)),
        ("introspection/jwt_hit".into(), again(validator, jwt)),
        ("introspection/digest".into(), digest),
    ]
}

/// An API key found among 16 and among 1 000, through
/// `validate_http_request`.
fn api_keys() -> Vec<(String, Run)> {
    let mut runs = Vec::new();
    for n in [16, 1000] {
        let keys = (0..n).fold(jwt_gate::ApiKeys::new(), |keys, i| {
            keys.key(
                &format!("key-{i:04}-0123456789abcdef0123456789abcdef"),
                json!({"sub": format!("job-{i}"), "tenantId": "1741", "scope": "orders.read"}),
            )
        });
        let validator = Validator::builder()
            .keys(hmac32().key_set("k1"))
            .audience(AUDIENCE)
            .api_keys(keys)
            .build()
            .unwrap();
        // The last configured key: every comparison is made anyway.
        let request = http::Request::get("/orders")
            .header(
                "x-api-key",
                format!("key-{:04}-0123456789abcdef0123456789abcdef", n - 1),
            )
            .body(())
            .unwrap();
        runs.push((
            format!("api_key/{n}_keys"),
            request_again(validator, request),
        ));
    }
    runs
}

/// A DER certificate of 1 KiB (an RSA-2048 client certificate's size): a
/// SEQUENCE whose content the check never reads, only hashes.
fn certificate_der() -> Vec<u8> {
    let mut der = vec![0x30, 0x82, 0x03, 0xfc];
    der.extend((0..1020).map(|i| (i * 7 % 251) as u8));
    der
}

/// `validate_http_request` on `request` again and again, on one runtime.
fn request_again(validator: Validator, request: http::Request<()>) -> Run {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime
        .block_on(validator.validate_http_request::<(), _>(&request))
        .expect("accepted");
    Box::new(move |n| {
        runtime.block_on(async {
            for _ in 0..n {
                black_box(
                    validator
                        .validate_http_request::<(), _>(black_box(&request))
                        .await
                        .unwrap(),
                );
            }
        })
    })
}

/// Cache hits through `validate_http_request`: an unbound token, and a
/// certificate-bound one with its certificate from TLS and from a header.
fn certificate_bound(key: &SigningKey) -> Vec<(String, Run)> {
    let der = certificate_der();
    let certificate = ClientCertificate::from_der(&der);
    let bound = fixture::token(
        key,
        Algorithm::RS256,
        json!({"typ": "at+jwt"}),
        &claims(json!({
            "exp": 4_102_444_800u64,
            "cnf": {"x5t#S256": certificate.thumbprint()},
        })),
    );
    let request = |token: &str| {
        http::Request::get("/orders")
            .header("authorization", format!("Bearer {token}"))
            .body(())
            .unwrap()
    };
    let with_binding = |binding: CertificateBinding| {
        Validator::builder()
            .keys(key.key_set("k1"))
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .certificate_binding(binding)
            .build()
            .unwrap()
    };
    let mut tls = request(&bound);
    tls.extensions_mut().insert(certificate);
    let mut header = request(&bound);
    let value = format!(
        ":{}:",
        base64::engine::general_purpose::STANDARD.encode(&der)
    );
    header
        .headers_mut()
        .insert("client-cert", value.parse().unwrap());
    let value = value.into_bytes();
    let first_sight: Run = Box::new(move |n| {
        for _ in 0..n {
            let der = base64_simd::STANDARD
                .decode_to_vec(black_box(&value[1..value.len() - 1]))
                .unwrap();
            black_box(ClientCertificate::from_der(&der));
        }
    });
    vec![
        ("certificate/first_sight".into(), first_sight),
        (
            "RS256/request_hit".into(),
            request_again(
                validator(key.key_set("k1"), true),
                request(&token(key, Algorithm::RS256)),
            ),
        ),
        (
            "RS256/bound_tls_hit".into(),
            request_again(with_binding(CertificateBinding::allowed()), tls),
        ),
        (
            "RS256/bound_header_hit".into(),
            request_again(
                with_binding(CertificateBinding::allowed().from_client_cert_header()),
                header,
            ),
        ),
    ]
}

fn hit_vs_cold(c: &mut Criterion) {
    rounds::bench_group(c, "cache", &contenders().0);
}

/// Interleaved rounds of the hit/cold contenders, the thread scaling and the
/// mixed workload; written to `target/criterion/cache.json`.
fn paired(_: &mut Criterion) {
    let full = rounds::full();
    let rounds = if full { 100 } else { 1 };
    let (runs, cached_validators) = contenders();
    let times = rounds::interleave(&runs, rounds);
    let mut out = serde_json::Map::new();
    for (i, (name, _)) in runs.iter().enumerate() {
        out.insert(name.clone(), json!(median(times[i].clone())));
    }
    // Every hit in the rounds was a hit: no signature check hides in them.
    for (name, validator, warmed_up) in &cached_validators {
        let misses = validator.token_cache_stats().misses - warmed_up;
        out.insert(format!("{name}/misses_after_warm_up"), json!(misses));
    }
    let index = |name: &str| runs.iter().position(|(n, _)| n == name).unwrap();
    let (multi, single) = (index("RS256/multi_issuer_hit"), index("RS256/hit"));
    out.insert(
        "RS256/multi_issuer_hit_over_hit".into(),
        json!(rounds::per_round(rounds, |r| times[multi][r] / times[single][r])),
    );
    // What checking the certificate binding adds to a cache hit (ns).
    let base = index("RS256/request_hit");
    for row in ["RS256/bound_tls_hit", "RS256/bound_header_hit"] {
        let bound = index(row);
        out.insert(
            format!("{row}_added_ns"),
            json!(rounds::per_round(rounds, |r| times[bound][r] - times[base][r])),
        );
    }
    // Opaque tokens against JWTs, API keys against tokens (goals ≤ 1.2 and
    // ≤ 0.5 µs).
    let (opaque, jwt) = (index("introspection/hit"), index("introspection/jwt_hit"));
    out.insert(
        "introspection/hit_over_jwt_hit".into(),
        json!(rounds::per_round(rounds, |r| times[opaque][r] / times[jwt][r])),
    );
    for row in ["api_key/16_keys", "api_key/1000_keys"] {
        let key = index(row);
        out.insert(
            format!("{row}_over_request_hit"),
            json!(rounds::per_round(rounds, |r| times[key][r] / times[base][r])),
        );
    }
    let (preset, plain) = (index("RS256/preset_hit"), index("RS256/preset_plain_hit"));
    out.insert(
        "RS256/preset_hit_over_plain_hit".into(),
        json!(rounds::per_round(rounds, |r| times[preset][r] / times[plain][r])),
    );
    for alg in ["RS256", "RS256-4096"] {
        let cold = index(&format!("{alg}/cold"));
        for kind in ["hit", "shared_hit"] {
            let hit = index(&format!("{alg}/{kind}"));
            let ratio = rounds::per_round(rounds, |r| times[hit][r] / times[cold][r]);
            out.insert(format!("{alg}/{kind}_over_cold"), json!(ratio));
        }
    }
    let (many, cold) = (index("many_clients/shared_hit"), index("RS256/cold"));
    out.insert(
        "many_clients/shared_hit_over_cold".into(),
        json!(rounds::per_round(rounds, |r| times[many][r] / times[cold][r])),
    );

    // 1 against 2 threads, cache hits on one shared Validator: each thread
    // with its own client's token, and both on the very same token.
    let key = hmac32();
    let shared = validator(key.key_set("k1"), true);
    // The control: cold HS256 validations (no shared state but the keys) show
    // how far two threads can scale on this machine at all.
    let uncached = validator(key.key_set("k1"), false);
    let own = client_tokens(&key, Algorithm::HS256, 2);
    for t in &own {
        let _: Claims = shared.validate_without_waiting(t).unwrap();
    }
    // Short runs (~30 ms) of every case with 1 and 2 threads, interleaved
    // round after round, so that the control sees the same machine as the
    // cache does; ratios are taken per round, then the median.
    let per_thread = if full { 60_000 } else { 1_000 };
    let throughput = |threads: usize, same: bool, validator: &Validator| {
        let per_thread = if std::ptr::eq(validator, &uncached) {
            per_thread / 8
        } else {
            per_thread
        };
        let t = Instant::now();
        std::thread::scope(|s| {
            for i in 0..threads {
                let token = if same { &own[0] } else { &own[i] };
                s.spawn(move || {
                    for _ in 0..per_thread {
                        let claims: Claims = validator
                            .validate_without_waiting(black_box(token))
                            .unwrap();
                        black_box(claims);
                    }
                });
            }
        });
        (threads * per_thread) as f64 / t.elapsed().as_secs_f64()
    };
    let cases = [
        ("own_tokens", false, &shared),
        ("same_token", true, &shared),
        ("cold_control", false, &uncached),
    ];
    let thread_rounds = if full { 25 } else { 1 };
    let mut one = vec![Vec::new(); cases.len()];
    let mut two = vec![Vec::new(); cases.len()];
    for _ in 0..thread_rounds {
        for (i, (_, same, validator)) in cases.iter().enumerate() {
            one[i].push(throughput(1, *same, validator));
            two[i].push(throughput(2, *same, validator));
        }
    }
    let ratio = |i: usize| rounds::per_round(thread_rounds, |r| two[i][r] / one[i][r]);
    for (i, (label, _, _)) in cases.iter().enumerate() {
        out.insert(
            format!("threads/{label}/one_per_s"),
            json!(median(one[i].clone())),
        );
        out.insert(
            format!("threads/{label}/two_per_s"),
            json!(median(two[i].clone())),
        );
        out.insert(format!("threads/{label}/two_over_one"), json!(ratio(i)));
        // Scaling relative to what the machine allowed in the same rounds.
        out.insert(
            format!("threads/{label}/relative_to_control"),
            json!(rounds::per_round(thread_rounds, |r| (two[i][r]
                / one[i][r])
                / (two[2][r] / one[2][r]))),
        );
    }

    // Mixed: 10 000 distinct live tokens round-robin, one request in ten garbage.
    let ec = fixture::key(Algorithm::ES256, "p256");
    let mixed = validator(ec.key_set("k1"), true);
    let count = if full { 10_000 } else { 100 };
    let tokens: Vec<String> = (0..count)
        .map(|i| {
            fixture::token(&ec, Algorithm::ES256, json!({"typ": "at+jwt"}),
                &claims(json!({"exp": 4_102_444_800u64, "sub": format!("user-{i}"), "jti": format!("jti-{i}")})))
        })
        .collect();
    let garbage: Vec<String> = tokens
        .iter()
        .map(|t| {
            let (input, _) = t.rsplit_once('.').unwrap();
            format!("{input}.{}", URL_SAFE_NO_PAD.encode([7u8; 64]))
        })
        .collect();
    let mut requests = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        requests.push(t.as_str());
        if i % 9 == 8 {
            requests.push(garbage[i].as_str());
        }
    }
    let passes = if full { 5 } else { 1 };
    let mut per_pass = Vec::new();
    for _ in 0..passes {
        let t = Instant::now();
        for token in &requests {
            black_box(mixed.validate_without_waiting::<()>(black_box(token)).ok());
        }
        per_pass.push(requests.len() as f64 / t.elapsed().as_secs_f64());
    }
    let stats = mixed.token_cache_stats();
    out.insert("mixed/first_pass_per_s".into(), json!(per_pass[0]));
    out.insert(
        "mixed/warm_pass_per_s".into(),
        json!(median(per_pass[1.min(per_pass.len() - 1)..].to_vec())),
    );
    out.insert("mixed/requests".into(), json!(requests.len()));
    out.insert("mixed/cache_entries".into(), json!(stats.entries));
    out.insert("mixed/cache_bytes".into(), json!(stats.bytes));

    // Garbage alone (a forged signature: the full signature check), against
    // a token that is not even JSON (the parse only).
    let forged = &garbage[0];
    let t = Instant::now();
    let n = if full { 20_000 } else { 10 };
    for _ in 0..n {
        black_box(mixed.validate_without_waiting::<()>(black_box(forged)).ok());
    }
    out.insert(
        "garbage/forged_signature_ns".into(),
        json!(t.elapsed().as_secs_f64() * 1e9 / f64::from(n)),
    );
    let junk = "eyJhbGciOiJFUzI1NiJ9.not-json.c2ln";
    let t = Instant::now();
    for _ in 0..n * 10 {
        black_box(mixed.validate_without_waiting::<()>(black_box(junk)).ok());
    }
    out.insert(
        "garbage/unparsable_ns".into(),
        json!(t.elapsed().as_secs_f64() * 1e9 / f64::from(n * 10)),
    );
    rounds::save("cache.json", &serde_json::Value::Object(out));
}

criterion_group! {
    name = benches;
    config = rounds::config(3, 60);
    targets = hit_vs_cold, paired
}
criterion_main!(benches);
