//! The verified-token cache: a token seen before skips the signature check
//! and the parse. Keyed by the whole token (never a hash of it alone), it
//! holds the validated claims only: no verdict that depends on a route.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::sync::SegmentedCache;

use crate::{Claims, KeySet, UnixTime};

/// Independent segments of the cache (a power of two).
const SEGMENTS: usize = 16;
/// The longest an entry lives, whatever its token's `exp`.
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Bookkeeping per entry besides the token and its claims (a rough count).
const ENTRY_OVERHEAD: usize = 256;

#[derive(Clone)]
struct Entry {
    /// A `Claims<C>` of the type it was validated for.
    claims: Arc<dyn Any + Send + Sync>,
    /// The tag of the key that verified it (see `KeySet::has_tag`).
    key_tag: u64,
    lifetime: Duration,
    weight: u32,
}

struct UntilExp;

impl Expiry<Arc<str>, Entry> for UntilExp {
    fn expire_after_create(&self, _: &Arc<str>, entry: &Entry, _: Instant) -> Option<Duration> {
        Some(entry.lifetime)
    }
}

/// Counters of the verified-token cache, from
/// [`Validator::token_cache_stats`](crate::Validator::token_cache_stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TokenCacheStats {
    /// Tokens held (approximate: evictions are applied in batches).
    pub entries: u64,
    /// Their estimated size in bytes (token, claims, bookkeeping).
    pub bytes: u64,
    /// Validations answered from the cache.
    pub hits: u64,
    /// Validations that checked the signature (and were cached if valid).
    pub misses: u64,
}

pub(crate) struct TokenCache {
    /// Segmented: each segment records reads on its own, so threads
    /// serving different tokens do not contend.
    cache: SegmentedCache<Arc<str>, Entry, foldhash::fast::RandomState>,
    /// Each entry weighs at least this, so that `max_entries` bounds the
    /// count while `max_bytes` bounds the memory.
    min_weight: usize,
    hits: Counter,
    misses: Counter,
}

/// A counter striped over cache lines, so that threads counting hits do not
/// fight over one.
#[derive(Default)]
struct Counter([Padded; 8]);

#[derive(Default)]
#[repr(align(128))]
struct Padded(AtomicU64);

impl Counter {
    fn add(&self) {
        thread_local! {
            static STRIPE: usize = {
                static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
                NEXT.fetch_add(1, Ordering::Relaxed) % 8
            };
        }
        STRIPE.with(|i| self.0[*i].0.fetch_add(1, Ordering::Relaxed));
    }

    fn get(&self) -> u64 {
        self.0.iter().map(|p| p.0.load(Ordering::Relaxed)).sum()
    }
}

impl TokenCache {
    /// `None` when either bound is 0 (the cache is off).
    pub(crate) fn new(max_entries: u64, max_bytes: u64) -> Option<Self> {
        if max_entries == 0 || max_bytes == 0 {
            return None;
        }
        let min_weight = usize::try_from(max_bytes / max_entries)
            .unwrap_or(usize::MAX)
            .max(1);
        let cache = SegmentedCache::builder(SEGMENTS)
            .max_capacity(max_bytes)
            .weigher(|_: &Arc<str>, entry: &Entry| entry.weight)
            .expire_after(UntilExp)
            .build_with_hasher(foldhash::fast::RandomState::default());
        Some(Self {
            cache,
            min_weight,
            hits: Counter::default(),
            misses: Counter::default(),
        })
    }

    /// The claims cached for `token`, if they were validated as a `C` and
    /// the key that verified them is still in `keys`. The caller re-checks
    /// the times.
    pub(crate) fn get<C: Send + Sync + 'static>(
        &self,
        token: &str,
        keys: &KeySet,
    ) -> Option<Claims<C>> {
        let Some(entry) = self.cache.get(token) else {
            self.misses.add();
            return None;
        };
        if !keys.has_tag(entry.key_tag) {
            // The key left the key set: the token must be verified again.
            self.cache.invalidate(token);
            self.misses.add();
            return None;
        }
        let claims = entry.claims.downcast_ref::<Claims<C>>().cloned();
        let counter = if claims.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.add();
        claims
    }

    /// Caches valid claims until their `exp` (plus leeway), at most a day.
    pub(crate) fn insert<C: Send + Sync + 'static>(
        &self,
        token: &str,
        claims: &Claims<C>,
        key_tag: u64,
        now: UnixTime,
        leeway: Duration,
    ) {
        let until = claims.expires_at().saturating_add(leeway);
        let lifetime =
            Duration::from_secs(until.as_secs().saturating_sub(now.as_secs())).min(MAX_LIFETIME);
        if lifetime.is_zero() {
            return;
        }
        let size = token.len() + 2 * claims.payload_len() + ENTRY_OVERHEAD;
        let weight = u32::try_from(size.max(self.min_weight)).unwrap_or(u32::MAX);
        self.cache.insert(
            Arc::from(token),
            Entry {
                claims: Arc::new(claims.clone()),
                key_tag,
                lifetime,
                weight,
            },
        );
    }

    pub(crate) fn invalidate(&self, token: &str) {
        self.cache.invalidate(token);
    }

    pub(crate) fn stats(&self) -> TokenCacheStats {
        self.cache.run_pending_tasks();
        TokenCacheStats {
            entries: self.cache.entry_count(),
            bytes: self.cache.weighted_size(),
            hits: self.hits.get(),
            misses: self.misses.get(),
        }
    }
}
