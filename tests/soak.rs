//! A chaos soak: an axum server behind the layer under constant load from
//! several client tasks over thousands of tokens, while the issuer rotates
//! keys every few seconds, retires old ones, and in windows that follow and
//! overlap the rotations goes down, answers slowly, answers 500, serves
//! garbage and serves an oversized JWK Set.
//!
//! What must hold, checked on every response:
//! - a valid token of a key the validator holds (its snapshot hook said so
//!   before the request began) and that is still published is accepted;
//! - a token of a retired key is never accepted once a fetch made after
//!   the retirement has replaced the keys;
//! - garbage and unknown `kid`s are never accepted;
//! - no request waits longer than its budget (the key wait plus a margin);
//!
//! and at the end: fetches to the issuer stay within what the cooldown and
//! the backoff allow, and resident memory after warm-up stays within the
//! bound below.
//!
//! `JWT_GATE_SOAK_SECS` sets the length (CI: the default, 20 s; by hand:
//! `JWT_GATE_SOAK_SECS=600 cargo test --release --test soak -- --nocapture`).

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use common::serve;
use jwt_gate::testing::{IssuerMode, TestIssuer};
use jwt_gate::{Algorithm, JwtAuthLayer, KeySnapshot, Validator};

const AUD: &str = "api://orders";
const CLIENTS: usize = 8;
const TOKENS_PER_KEY: usize = 200;
const KEY_WAIT: Duration = Duration::from_millis(300);
/// The longest any request may take: the key wait, plus a margin for a
/// loaded two-core machine.
const BUDGET: Duration = Duration::from_millis(1500);
const COOLDOWN: Duration = Duration::from_secs(1);
const BACKOFF_MIN: Duration = Duration::from_millis(200);
const ROTATE_EVERY: Duration = Duration::from_millis(2500);
/// Growth of resident memory allowed after warm-up: the token cache's
/// 8 MiB bound, plus allocator slack.
const RSS_BOUND: u64 = 32 * 1024 * 1024;

/// What the validator held, from its snapshot hook: when, and which kids.
#[derive(Default)]
struct Held(Mutex<Vec<(Instant, HashSet<String>)>>);

impl Held {
    fn record(&self, snapshot: &KeySnapshot) {
        let jwks: serde_json::Value = serde_json::from_slice(snapshot.jwks()).unwrap();
        let kids = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|k| k["kid"].as_str().map(str::to_owned))
            .collect();
        self.0.lock().unwrap().push((Instant::now(), kids));
    }

    /// Whether the last fetch before `at` held `kid`.
    fn held_at(&self, kid: &str, at: Instant) -> bool {
        let timeline = self.0.lock().unwrap();
        timeline
            .iter()
            .rev()
            .find(|(t, _)| *t <= at)
            .is_some_and(|(_, kids)| kids.contains(kid))
    }

    /// When a fetch after `retired` first lacked `kid`.
    fn removed_at(&self, kid: &str, retired: Instant) -> Option<Instant> {
        let timeline = self.0.lock().unwrap();
        timeline
            .iter()
            .find(|(t, kids)| *t >= retired && !kids.contains(kid))
            .map(|(t, _)| *t)
    }
}

/// The tokens clients send, by key.
#[derive(Default)]
struct Pools {
    /// Keys published and signing or recently signing.
    valid: Vec<(String, Arc<Vec<String>>)>,
    /// Keys retired, with when they left the JWK Set.
    retired: Vec<(String, Instant, Arc<Vec<String>>)>,
}

/// Counts, and the first violations.
#[derive(Default)]
struct Ledger {
    requests: AtomicU64,
    accepted: AtomicU64,
    valid_held: AtomicU64,
    valid_not_held: AtomicU64,
    retired_checked: AtomicU64,
    junk: AtomicU64,
    unavailable: AtomicU64,
    max_latency_us: AtomicU64,
    violations: AtomicUsize,
    first_violations: Mutex<Vec<String>>,
}

impl Ledger {
    fn violation(&self, what: String) {
        if self.violations.fetch_add(1, Ordering::Relaxed) < 20 {
            self.first_violations.lock().unwrap().push(what);
        }
    }
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// A tiny deterministic generator (xorshift), so a failing run can be
/// replayed with the same `JWT_GATE_SOAK_SEED`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn tokens(issuer: &TestIssuer, n: usize) -> Arc<Vec<String>> {
    Arc::new(
        (0..n)
            .map(|i| {
                issuer
                    .token()
                    .audience(AUD)
                    .subject(&format!("user-{i}"))
                    .scope("orders.read")
                    .sign()
            })
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_under_load_survives_rotations_and_overlapping_idp_faults() {
    let secs: u64 = std::env::var("JWT_GATE_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("JWT_GATE_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x9e37_79b9_7f4a_7c15);
    let duration = Duration::from_secs(secs);

    let issuer = Arc::new(
        TestIssuer::builder()
            .algorithm(Algorithm::ES256)
            .cache_max_age(Some(2))
            .start()
            .await,
    );
    let held = Arc::new(Held::default());
    let hook = Arc::clone(&held);
    let validator = Validator::builder()
        .issuer(issuer.issuer())
        .audience(AUD)
        .allow_http()
        .fetch_timeout(Duration::from_secs(1))
        .max_key_wait(KEY_WAIT)
        .unknown_kid_cooldown(COOLDOWN)
        .retry_backoff(BACKOFF_MIN, Duration::from_secs(2))
        .jwks_ttl_bounds(Duration::from_secs(1), Duration::from_secs(60))
        .max_staleness(Duration::from_secs(3600))
        .token_cache(20_000, 8 * 1024 * 1024)
        .on_key_snapshot(move |s| hook.record(s))
        .build()
        .unwrap();
    validator.warm_up().await.unwrap();
    let app = Router::new()
        .route("/claims", get(|| async { "ok" }))
        .layer(JwtAuthLayer::new(validator.clone()));
    let base = Arc::new(serve(app).await);

    let pools = Arc::new(RwLock::new(Pools::default()));
    pools.write().unwrap().valid.push((
        issuer.kids().last().unwrap().clone(),
        tokens(&issuer, TOKENS_PER_KEY),
    ));
    let ledger = Arc::new(Ledger::default());
    let started = Instant::now();
    let deadline = started + duration;

    // The clients: 90 % valid tokens, 5 % tokens of retired keys, 5 %
    // garbage or unknown kids.
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (pools, ledger, held, base, issuer) = (
            Arc::clone(&pools),
            Arc::clone(&ledger),
            Arc::clone(&held),
            Arc::clone(&base),
            Arc::clone(&issuer),
        );
        let junk: Arc<Vec<String>> = Arc::new(
            (0..50)
                .map(|i| match i % 2 {
                    0 => issuer
                        .token()
                        .audience(AUD)
                        .kid(&format!("nobody-{c}-{i}"))
                        .sign(),
                    _ => format!("garbage-{c}-{i}"),
                })
                .collect(),
        );
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let url = format!("{base}/claims");
            let mut rng = Rng(seed ^ (c as u64 + 1).wrapping_mul(0x2545_f491_4f6c_dd1d));
            while Instant::now() < deadline {
                enum Sent {
                    Valid(String),
                    Retired(String, Instant),
                    Junk,
                }
                let roll = rng.below(100);
                let (token, sent) = {
                    let pools = pools.read().unwrap();
                    if roll < 5 && !pools.retired.is_empty() {
                        let (kid, at, tokens) =
                            &pools.retired[rng.below(pools.retired.len() as u64) as usize];
                        let t = &tokens[rng.below(tokens.len() as u64) as usize];
                        (t.clone(), Sent::Retired(kid.clone(), *at))
                    } else if roll < 10 {
                        (junk[rng.below(junk.len() as u64) as usize].clone(), Sent::Junk)
                    } else {
                        let (kid, tokens) =
                            &pools.valid[rng.below(pools.valid.len() as u64) as usize];
                        let t = &tokens[rng.below(tokens.len() as u64) as usize];
                        (t.clone(), Sent::Valid(kid.clone()))
                    }
                };
                let begun = Instant::now();
                let status = match http.get(&url).bearer_auth(&token).send().await {
                    Ok(res) => res.status().as_u16(),
                    Err(e) => {
                        ledger.violation(format!("request failed: {e}"));
                        continue;
                    }
                };
                let elapsed = begun.elapsed();
                ledger.requests.fetch_add(1, Ordering::Relaxed);
                ledger
                    .max_latency_us
                    .fetch_max(elapsed.as_micros() as u64, Ordering::Relaxed);
                if elapsed > BUDGET {
                    ledger.violation(format!("a request took {elapsed:?}"));
                }
                if status == 200 {
                    ledger.accepted.fetch_add(1, Ordering::Relaxed);
                }
                if status == 503 {
                    ledger.unavailable.fetch_add(1, Ordering::Relaxed);
                }
                match sent {
                    Sent::Valid(kid) if held.held_at(&kid, begun) => {
                        ledger.valid_held.fetch_add(1, Ordering::Relaxed);
                        if status != 200 {
                            ledger.violation(format!("a valid token of held key {kid} got {status}"));
                        }
                    }
                    Sent::Valid(_) => {
                        ledger.valid_not_held.fetch_add(1, Ordering::Relaxed);
                        if ![200, 401, 503].contains(&status) {
                            ledger.violation(format!("a valid token got {status}"));
                        }
                    }
                    Sent::Retired(kid, retired) => {
                        if held.removed_at(&kid, retired).is_some_and(|t| t <= begun) {
                            ledger.retired_checked.fetch_add(1, Ordering::Relaxed);
                            // 401, or 503 while a refetch it asked for is
                            // slow: a kid not held may be a new key.
                            if status == 200 {
                                ledger.violation(format!(
                                    "a token of retired key {kid} was accepted after the refresh that removed it"
                                ));
                            }
                        }
                    }
                    Sent::Junk => {
                        ledger.junk.fetch_add(1, Ordering::Relaxed);
                        if status == 200 {
                            ledger.violation("garbage or an unknown kid was accepted".into());
                        }
                    }
                }
            }
        }));
    }

    // The chaos: rotations every 2.5 s (the new key signs at once, the
    // oldest of three is retired), and fault windows of 0.3 to 2.5 s, each
    // kind in turn, starting at random times, so that they fall on
    // rotations, refreshes and one another's ends.
    let faults = [
        IssuerMode::Down,
        IssuerMode::Slow(Duration::from_millis(1500)),
        IssuerMode::Status(500),
        IssuerMode::Garbage,
        IssuerMode::Oversized(2 * 1024 * 1024),
    ];
    let mut fault_counts = [0u32; 5];
    let (mut rotations, mut retirements) = (0u32, 0u32);
    let mut rng = Rng(seed);
    let mut next_rotation = started + ROTATE_EVERY;
    let mut fault_until: Option<Instant> = None;
    let mut next_fault = 0usize;
    let mut rss_warm = 0u64;
    let mut rss_max = 0u64;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = Instant::now();
        if rss_warm == 0 && now >= started + duration / 5 {
            rss_warm = rss_bytes();
        }
        if rss_warm > 0 {
            rss_max = rss_max.max(rss_bytes());
        }
        if fault_until.is_some_and(|t| now >= t) {
            issuer.set_mode(IssuerMode::Normal);
            fault_until = None;
        } else if fault_until.is_none() && rng.below(100) < 12 {
            let i = next_fault % faults.len();
            next_fault += 1;
            issuer.set_mode(faults[i].clone());
            fault_counts[i] += 1;
            fault_until = Some(now + Duration::from_millis(300 + rng.below(2200)));
        }
        if now >= next_rotation {
            next_rotation = now + ROTATE_EVERY;
            let kid = issuer.rotate();
            rotations += 1;
            let fresh = tokens(&issuer, TOKENS_PER_KEY);
            let oldest = {
                let mut pools = pools.write().unwrap();
                pools.valid.push((kid, fresh));
                (pools.valid.len() > 3).then(|| pools.valid.remove(0))
            };
            if let Some((kid, tokens)) = oldest {
                // Clients stop sending its tokens as valid; those in flight
                // finish; then it leaves the JWK Set.
                tokio::time::sleep(Duration::from_millis(500)).await;
                issuer.retire(&kid);
                retirements += 1;
                let mut pools = pools.write().unwrap();
                pools.retired.push((kid, Instant::now(), tokens));
                if pools.retired.len() > 3 {
                    pools.retired.remove(0);
                }
            }
        }
    }
    issuer.set_mode(IssuerMode::Normal);
    for client in clients {
        client.await.unwrap();
    }
    let rss_end = rss_bytes();

    let status = validator.status();
    let elapsed = started.elapsed().as_secs_f64();
    let jwks_fetches = issuer.jwks_fetches() as u64;
    let ledger = &*ledger;
    let report = format!(
        "soak {elapsed:.0} s: {} requests ({} accepted, {} answered 503), {} valid with held keys, {} valid before their key was held, {} of retired keys checked, {} junk; \
         {rotations} rotations, {retirements} retirements, faults {:?} (down, slow, 500, garbage, oversized); \
         key fetches {} ({} failed), JWKS requests {jwks_fetches}, cooldown hits {}; max latency {:.1} ms; RSS after warm-up {:.1} MiB, max {:.1} MiB, end {:.1} MiB",
        ledger.requests.load(Ordering::Relaxed),
        ledger.accepted.load(Ordering::Relaxed),
        ledger.unavailable.load(Ordering::Relaxed),
        ledger.valid_held.load(Ordering::Relaxed),
        ledger.valid_not_held.load(Ordering::Relaxed),
        ledger.retired_checked.load(Ordering::Relaxed),
        ledger.junk.load(Ordering::Relaxed),
        fault_counts,
        status.fetches,
        status.failures,
        status.cooldown_hits,
        ledger.max_latency_us.load(Ordering::Relaxed) as f64 / 1000.0,
        rss_warm as f64 / 1048576.0,
        rss_max as f64 / 1048576.0,
        rss_end as f64 / 1048576.0,
    );
    println!("{report}");

    let violations = ledger.first_violations.lock().unwrap();
    assert!(violations.is_empty(), "{report}\n{violations:#?}");
    // The run did what it claims: load, rotations, retirements checked,
    // every kind of fault.
    assert!(
        ledger.requests.load(Ordering::Relaxed) > 1000 * secs / 10,
        "{report}"
    );
    assert!(
        u64::from(rotations) + 1 >= secs / 4 && retirements >= 1,
        "{report}"
    );
    assert!(
        ledger.retired_checked.load(Ordering::Relaxed) > 0,
        "{report}"
    );
    assert!(
        ledger.valid_held.load(Ordering::Relaxed) > ledger.requests.load(Ordering::Relaxed) / 2,
        "{report}"
    );
    if secs >= 20 {
        assert!(fault_counts.iter().all(|&n| n > 0), "{report}");
    }
    // Fetches: one at a time, none during a backoff, unknown kids at most
    // one per cooldown: at most one attempt per backoff step, whatever the
    // thousands of unknown kids asked.
    let bound = (elapsed / BACKOFF_MIN.as_secs_f64()) as u64 + 5;
    assert!(
        status.fetches <= bound,
        "{} fetches > {bound}: {report}",
        status.fetches
    );
    assert!(
        status.fetches * 20 < ledger.junk.load(Ordering::Relaxed),
        "unknown kids drove the fetches: {report}"
    );
    assert!(
        rss_max.saturating_sub(rss_warm) <= RSS_BOUND,
        "resident memory grew by more than {} MiB after warm-up: {report}",
        RSS_BOUND / 1048576
    );
}
