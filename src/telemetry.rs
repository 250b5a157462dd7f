//! What jwt-gate counts, and (with the `metrics` feature) how it reaches
//! the [`metrics`](https://docs.rs/metrics) facade: the names, labels and
//! units of every metric are written here and nowhere else.
//!
//! Two kinds of numbers. Events that are rare next to requests (a key
//! fetch, an introspection call, a replayed DPoP proof, a snapshot
//! written) are recorded when they happen. Numbers that change on every
//! request (validations by outcome, token-cache hits) are counted in
//! striped atomics, which threads do not fight over, and handed to the
//! facade when [`Validator::record_metrics`](crate::Validator::record_metrics)
//! runs: a request pays a few nanoseconds, never a registry lookup.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::jose::error::Error;
#[cfg(feature = "metrics")]
use crate::jose::error::KINDS;

/// A counter striped over cache lines, so that threads counting do not
/// fight over one.
#[derive(Default)]
pub(crate) struct Striped([Padded; 8]);

#[derive(Default)]
#[repr(align(128))]
struct Padded(AtomicU64);

impl Striped {
    pub(crate) fn add(&self) {
        thread_local! {
            static STRIPE: usize = {
                static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
                NEXT.fetch_add(1, Ordering::Relaxed) % 8
            };
        }
        STRIPE.with(|i| self.0[*i].0.fetch_add(1, Ordering::Relaxed));
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.iter().map(|p| p.0.load(Ordering::Relaxed)).sum()
    }
}

/// Credentials accepted, process-wide.
#[cfg(feature = "metrics")]
static ACCEPTED: Striped = Striped([const { Padded(AtomicU64::new(0)) }; 8]);

/// Credentials refused, by [`Error::kind`], process-wide.
#[cfg(feature = "metrics")]
static REJECTED: [AtomicU64; KINDS.len()] = [const { AtomicU64::new(0) }; KINDS.len()];

/// A credential was judged: accepted, or refused with `error`. A no-op
/// without the `metrics` feature.
#[inline]
pub(crate) fn judged<T>(result: &Result<T, Error>) {
    judged_as(result.as_ref().err());
}

/// [`judged`], from the error alone (`None`: accepted).
#[inline]
pub(crate) fn judged_as(error: Option<&Error>) {
    #[cfg(feature = "metrics")]
    match error {
        None => ACCEPTED.add(),
        Some(e) => {
            REJECTED[e.kind_index()].fetch_add(1, Ordering::Relaxed);
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = error;
}

/// The metrics, as documented in the README's table: each name once.
#[cfg(feature = "metrics")]
pub(crate) mod names {
    pub(crate) const VALIDATIONS: &str = "jwt_gate_validations_total";
    pub(crate) const CACHE_HITS: &str = "jwt_gate_token_cache_hits_total";
    pub(crate) const CACHE_MISSES: &str = "jwt_gate_token_cache_misses_total";
    pub(crate) const CACHE_ENTRIES: &str = "jwt_gate_token_cache_entries";
    pub(crate) const CACHE_BYTES: &str = "jwt_gate_token_cache_bytes";
    pub(crate) const KEY_FETCHES: &str = "jwt_gate_key_fetches_total";
    pub(crate) const KEY_FETCH_SECONDS: &str = "jwt_gate_key_fetch_duration_seconds";
    pub(crate) const KEYS_LOADED: &str = "jwt_gate_keys_loaded";
    pub(crate) const KEYS: &str = "jwt_gate_keys";
    pub(crate) const KEY_AGE: &str = "jwt_gate_key_age_seconds";
    pub(crate) const KEYS_STALE: &str = "jwt_gate_keys_stale";
    pub(crate) const KEYS_RESTORED: &str = "jwt_gate_keys_restored";
    pub(crate) const COOLDOWN_HITS: &str = "jwt_gate_unknown_kid_cooldown_hits_total";
    pub(crate) const SNAPSHOT_WRITES: &str = "jwt_gate_key_snapshot_writes_total";
    pub(crate) const INTROSPECTIONS: &str = "jwt_gate_introspection_calls_total";
    pub(crate) const DPOP_REPLAYS: &str = "jwt_gate_dpop_replays_total";
}

/// A key fetch ended: `result` is `"ok"` or the kind of failure.
pub(crate) fn key_fetch(result: &'static str, elapsed: std::time::Duration) {
    #[cfg(feature = "metrics")]
    {
        describe();
        let outcome = if result == "ok" { "ok" } else { "error" };
        metrics::counter!(names::KEY_FETCHES, "result" => result).increment(1);
        metrics::histogram!(names::KEY_FETCH_SECONDS, "result" => outcome)
            .record(elapsed.as_secs_f64());
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (result, elapsed);
}

/// A key snapshot was written to its file, or could not be.
pub(crate) fn snapshot_written(ok: bool) {
    #[cfg(feature = "metrics")]
    {
        describe();
        let result = if ok { "ok" } else { "error" };
        metrics::counter!(names::SNAPSHOT_WRITES, "result" => result).increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = ok;
}

/// An introspection call was answered: `"active"`, `"inactive"`, or
/// `"error"` (no usable answer).
pub(crate) fn introspection_call(result: &'static str) {
    #[cfg(feature = "metrics")]
    {
        describe();
        metrics::counter!(names::INTROSPECTIONS, "result" => result).increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = result;
}

/// A DPoP proof was presented a second time.
pub(crate) fn dpop_replay() {
    #[cfg(feature = "metrics")]
    {
        describe();
        metrics::counter!(names::DPOP_REPLAYS).increment(1);
    }
}

/// What one validator holds, handed over by `record`.
#[cfg(feature = "metrics")]
pub(crate) struct Held {
    pub(crate) cache_hits: u64,
    pub(crate) cache_misses: u64,
    pub(crate) cache_entries: u64,
    pub(crate) cache_bytes: u64,
    pub(crate) keys_loaded: bool,
    pub(crate) key_count: usize,
    pub(crate) key_age: Option<std::time::Duration>,
    pub(crate) keys_stale: bool,
    pub(crate) keys_restored: bool,
    pub(crate) cooldown_hits: u64,
}

/// Hands the request counters (process-wide) and `held` (one
/// validator's cache and keys) to the facade; registers the event metrics
/// that have not happened yet at zero, so that every documented metric is
/// there from the first scrape.
#[cfg(feature = "metrics")]
pub(crate) fn record(held: &Held) {
    use metrics::{counter, gauge};
    describe();
    counter!(names::VALIDATIONS, "outcome" => "accepted", "error" => "none")
        .absolute(ACCEPTED.get());
    for (kind, count) in KINDS.iter().zip(&REJECTED) {
        let count = count.load(Ordering::Relaxed);
        if count > 0 {
            counter!(names::VALIDATIONS, "outcome" => "rejected", "error" => *kind).absolute(count);
        }
    }
    counter!(names::CACHE_HITS).absolute(held.cache_hits);
    counter!(names::CACHE_MISSES).absolute(held.cache_misses);
    gauge!(names::CACHE_ENTRIES).set(held.cache_entries as f64);
    gauge!(names::CACHE_BYTES).set(held.cache_bytes as f64);
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    gauge!(names::KEYS_LOADED).set(flag(held.keys_loaded));
    gauge!(names::KEYS).set(held.key_count as f64);
    gauge!(names::KEY_AGE).set(held.key_age.map_or(0.0, |a| a.as_secs_f64()));
    gauge!(names::KEYS_STALE).set(flag(held.keys_stale));
    gauge!(names::KEYS_RESTORED).set(flag(held.keys_restored));
    counter!(names::COOLDOWN_HITS).absolute(held.cooldown_hits);
    counter!(names::KEY_FETCHES, "result" => "ok").increment(0);
    counter!(names::SNAPSHOT_WRITES, "result" => "ok").increment(0);
    counter!(names::INTROSPECTIONS, "result" => "active").increment(0);
    counter!(names::DPOP_REPLAYS).increment(0);
}

/// Descriptions and units, given to the recorder once.
#[cfg(feature = "metrics")]
fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        describe_counter!(
            names::VALIDATIONS,
            "Credentials judged (tokens, API keys): outcome accepted or rejected, error the Error kind"
        );
        describe_counter!(names::CACHE_HITS, "Tokens served from the verified-token cache");
        describe_counter!(names::CACHE_MISSES, "Tokens whose signature was checked");
        describe_gauge!(names::CACHE_ENTRIES, "Tokens in the verified-token cache");
        describe_gauge!(names::CACHE_BYTES, Unit::Bytes, "Weight of the verified-token cache");
        describe_counter!(
            names::KEY_FETCHES,
            "Key fetches (discovery and JWKS) by result: ok or the kind of failure"
        );
        describe_histogram!(
            names::KEY_FETCH_SECONDS,
            Unit::Seconds,
            "Duration of each key fetch, by result ok or error"
        );
        describe_gauge!(names::KEYS_LOADED, "1 when usable signing keys are held");
        describe_gauge!(names::KEYS, "Usable signing keys held");
        describe_gauge!(names::KEY_AGE, Unit::Seconds, "Since the keys held were fetched");
        describe_gauge!(
            names::KEYS_STALE,
            "1 when the last refresh failed and keys past their TTL are served"
        );
        describe_gauge!(
            names::KEYS_RESTORED,
            "1 when the keys held came from a snapshot and no fetch has succeeded since"
        );
        describe_counter!(
            names::COOLDOWN_HITS,
            "Unknown-kid refetches refused by the cooldown"
        );
        describe_counter!(names::SNAPSHOT_WRITES, "Key snapshot files written, by result");
        describe_counter!(
            names::INTROSPECTIONS,
            "Introspection calls by result: active, inactive or error"
        );
        describe_counter!(names::DPOP_REPLAYS, "DPoP proofs presented a second time");
    });
}
