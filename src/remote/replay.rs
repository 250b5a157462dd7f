//! Replay stores for DPoP proofs (RFC 9449 §11.1): each proof's
//! [`replay_key`](crate::dpop::DpopProof::replay_key) is accepted once
//! within the proof window. [`MemoryReplayStore`] serves one process;
//! [`RedisReplayStore`] (feature `redis`) a fleet of replicas.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Why a replay store could not answer (Redis unreachable, a full store).
pub type ReplayError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The future of [`ReplayStore::first_use`].
pub type ReplayFuture<'a> = Pin<Box<dyn Future<Output = Result<bool, ReplayError>> + Send + 'a>>;

/// Remembers DPoP proofs so that each is accepted once.
///
/// `first_use` records a proof's key for `ttl` and says whether it was new,
/// atomically: of two concurrent calls with one key, exactly one sees
/// `true`, on every replica that shares the store. An error refuses the
/// request (HTTP 503): a store that cannot answer must not let a replay
/// through.
///
/// Implement it to keep proofs elsewhere (a database with a unique index,
/// memcached `add`); [`first_use_now`](Self::first_use_now) lets a store
/// that answers without I/O skip the boxed future.
pub trait ReplayStore: fmt::Debug + Send + Sync + 'static {
    /// Records `key` for `ttl`; `Ok(true)` when it was not recorded yet.
    fn first_use(&self, key: [u8; 32], ttl: Duration) -> ReplayFuture<'_>;

    /// The answer of [`first_use`](Self::first_use) without waiting, when
    /// the store can give it at once (an in-process store). Defaults to
    /// `None`: the future is awaited.
    fn first_use_now(&self, key: [u8; 32], ttl: Duration) -> Option<Result<bool, ReplayError>> {
        let _ = (key, ttl);
        None
    }
}

/// Independent shards of the in-process store.
const SHARDS: usize = 16;

/// The in-process replay store: right for one process (or replicas behind
/// a load balancer that pins each client to one replica; otherwise a proof
/// refused here can be replayed on another replica: use
/// [`RedisReplayStore`]).
///
/// Bounded twice: each key is kept for at least its `ttl` and at most
/// twice that (two generations that rotate), and the store holds at most
/// `max_entries` keys. A full store refuses new proofs (HTTP 503) rather
/// than forget one early, which would let that proof be replayed: size it
/// for your peak of proofs per window (each key costs about 50 bytes).
///
/// ```
/// use std::time::Duration;
/// use jwt_gate::dpop::{MemoryReplayStore, ReplayStore};
///
/// let store = MemoryReplayStore::new(100_000);
/// let ttl = Duration::from_secs(70);
/// assert_eq!(store.first_use_now([1; 32], ttl).unwrap().unwrap(), true);
/// assert_eq!(store.first_use_now([1; 32], ttl).unwrap().unwrap(), false);
/// ```
pub struct MemoryReplayStore {
    shards: [Mutex<Shard>; SHARDS],
    /// Keys held, over all shards and both generations.
    held: AtomicUsize,
    max_entries: usize,
    epoch: Instant,
}

#[derive(Default)]
struct Shard {
    current: HashSet<[u8; 32], foldhash::fast::RandomState>,
    previous: HashSet<[u8; 32], foldhash::fast::RandomState>,
    /// When `current` began, in milliseconds since the store's epoch.
    started_ms: u64,
}

impl fmt::Debug for MemoryReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReplayStore")
            .field("held", &self.held.load(Ordering::Relaxed))
            .field("max_entries", &self.max_entries)
            .finish()
    }
}

impl Default for MemoryReplayStore {
    /// Room for 1 000 000 proofs (about 50 MB when full).
    fn default() -> Self {
        Self::new(1_000_000)
    }
}

/// The error of a full [`MemoryReplayStore`].
#[derive(Debug)]
struct Full;

impl fmt::Display for Full {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the in-process DPoP replay store is full")
    }
}

impl std::error::Error for Full {}

impl MemoryReplayStore {
    /// A store holding at most `max_entries` proofs.
    pub fn new(max_entries: usize) -> Self {
        Self {
            shards: std::array::from_fn(|_| Mutex::new(Shard::default())),
            held: AtomicUsize::new(0),
            max_entries,
            epoch: Instant::now(),
        }
    }

    /// Proofs held now (including expired ones not yet dropped).
    pub fn len(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// Whether no proof is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn check(&self, key: [u8; 32], ttl: Duration, now_ms: u64) -> Result<bool, ReplayError> {
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let index = usize::from(key[0]) % SHARDS;
        let mut shard = self.shards[index]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.rotate(&mut shard, ttl_ms, now_ms);
        if shard.current.contains(&key) || shard.previous.contains(&key) {
            return Ok(false);
        }
        if self.held.load(Ordering::Relaxed) >= self.max_entries {
            // Drop what other shards hold past its time before refusing.
            drop(shard);
            for (i, other) in self.shards.iter().enumerate() {
                if i != index {
                    let mut other = other
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    self.rotate(&mut other, ttl_ms, now_ms);
                }
            }
            shard = self.shards[index]
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if shard.current.contains(&key) || shard.previous.contains(&key) {
                return Ok(false);
            }
            if self.held.load(Ordering::Relaxed) >= self.max_entries {
                return Err(Box::new(Full));
            }
        }
        shard.current.insert(key);
        self.held.fetch_add(1, Ordering::Relaxed);
        Ok(true)
    }

    /// Rotates `shard`'s generations when due: a key in `previous` was
    /// inserted at least `ttl` ago once `current` is older than `ttl`, and
    /// two rotations drop it.
    fn rotate(&self, shard: &mut Shard, ttl_ms: u64, now_ms: u64) {
        let age = now_ms.saturating_sub(shard.started_ms);
        if age < ttl_ms {
            return;
        }
        let dropped = if age >= 2 * ttl_ms {
            let dropped = shard.previous.len() + shard.current.len();
            shard.previous.clear();
            shard.current.clear();
            dropped
        } else {
            let current = std::mem::take(&mut shard.current);
            std::mem::replace(&mut shard.previous, current).len()
        };
        shard.started_ms = now_ms;
        self.held.fetch_sub(dropped, Ordering::Relaxed);
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

impl ReplayStore for MemoryReplayStore {
    fn first_use(&self, key: [u8; 32], ttl: Duration) -> ReplayFuture<'_> {
        let result = self.check(key, ttl, self.now_ms());
        Box::pin(std::future::ready(result))
    }

    fn first_use_now(&self, key: [u8; 32], ttl: Duration) -> Option<Result<bool, ReplayError>> {
        Some(self.check(key, ttl, self.now_ms()))
    }
}

#[cfg(feature = "redis")]
pub use self::redis_store::RedisReplayStore;

#[cfg(feature = "redis")]
mod redis_store {
    use std::fmt;
    use std::time::Duration;

    use redis::aio::{ConnectionManager, ConnectionManagerConfig};

    use super::{ReplayFuture, ReplayStore};
    use crate::jose::error::ConfigError;

    /// A replay store in Redis, for services running many replicas: a
    /// proof accepted by one replica is refused by every other.
    ///
    /// Each proof is one `SET jwt-gate:dpop:<key> 1 NX PX <ttl>`: atomic,
    /// expiring on its own, one round trip. One connection, multiplexed
    /// and reconnecting by itself (redis-rs's `ConnectionManager`, made on
    /// first use). Every command has a time limit (default 500 ms); when
    /// Redis is unreachable or slow, requests with DPoP proofs are refused
    /// with 503 and `Retry-After` (fail closed), unless
    /// [`accept_when_unreachable`](Self::accept_when_unreachable).
    ///
    /// ```no_run
    /// use jwt_gate::dpop::{Dpop, RedisReplayStore};
    ///
    /// # fn f() -> Result<(), jwt_gate::ConfigError> {
    /// let store = RedisReplayStore::new("redis://127.0.0.1:6379/")?;
    /// let dpop = Dpop::allowed().replay_store(store);
    /// # let _ = dpop; Ok(()) }
    /// ```
    #[derive(Clone)]
    pub struct RedisReplayStore {
        client: redis::Client,
        manager: std::sync::Arc<tokio::sync::OnceCell<ConnectionManager>>,
        timeout: Duration,
        prefix: String,
        fail_open: bool,
    }

    impl fmt::Debug for RedisReplayStore {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("RedisReplayStore")
                .field(
                    "server",
                    &self.client.get_connection_info().addr().to_string(),
                )
                .field("timeout", &self.timeout)
                .field("prefix", &self.prefix)
                .field("fail_open", &self.fail_open)
                .finish()
        }
    }

    impl RedisReplayStore {
        /// A store on the Redis server at `url` (`redis://host:port/db`,
        /// `rediss://` for TLS when redis-rs is built with it). Nothing is
        /// connected until the first proof.
        ///
        /// # Errors
        ///
        /// A [`ConfigError`] (setting `redis`) for a URL redis-rs cannot
        /// use.
        pub fn new(url: &str) -> Result<Self, ConfigError> {
            let client = redis::Client::open(url).map_err(|e| {
                ConfigError::new("redis", "not a Redis URL redis-rs can use").with_source(e)
            })?;
            Ok(Self {
                client,
                manager: std::sync::Arc::default(),
                timeout: Duration::from_millis(500),
                prefix: "jwt-gate:dpop:".to_owned(),
                fail_open: false,
            })
        }

        /// The time limit of each command (and of connecting).
        ///
        /// Defaults to 500 ms.
        #[must_use]
        pub fn timeout(mut self, timeout: Duration) -> Self {
            self.timeout = timeout;
            self
        }

        /// The prefix of the keys written (to share a Redis database with
        /// other applications, or to keep several APIs' proofs apart).
        ///
        /// Defaults to `jwt-gate:dpop:`.
        #[must_use]
        pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
            self.prefix = prefix.into();
            self
        }

        /// Accepts proofs without the replay check while Redis cannot be
        /// reached (logged at warn), instead of refusing them with 503:
        /// availability over replay protection, for services where DPoP is
        /// defence in depth. Off by default.
        #[must_use]
        pub fn accept_when_unreachable(mut self) -> Self {
            self.fail_open = true;
            self
        }

        async fn set_nx(&self, key: [u8; 32], ttl: Duration) -> Result<bool, redis::RedisError> {
            let manager = self
                .manager
                .get_or_try_init(|| {
                    let config = ConnectionManagerConfig::new()
                        .set_connection_timeout(Some(self.timeout))
                        .set_response_timeout(Some(self.timeout))
                        .set_number_of_retries(1);
                    ConnectionManager::new_with_config(self.client.clone(), config)
                })
                .await?;
            let mut name = String::with_capacity(self.prefix.len() + 43);
            name.push_str(&self.prefix);
            name.push_str(&base64_simd::URL_SAFE_NO_PAD.encode_to_string(key));
            let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
            let reply: Option<String> = redis::cmd("SET")
                .arg(&name)
                .arg(1)
                .arg("NX")
                .arg("PX")
                .arg(ttl_ms)
                .query_async(&mut manager.clone())
                .await?;
            Ok(reply.is_some())
        }
    }

    impl ReplayStore for RedisReplayStore {
        fn first_use(&self, key: [u8; 32], ttl: Duration) -> ReplayFuture<'_> {
            Box::pin(async move {
                let result = tokio::time::timeout(self.timeout, self.set_nx(key, ttl)).await;
                let error: super::ReplayError = match result {
                    Ok(Ok(first)) => return Ok(first),
                    Ok(Err(e)) => Box::new(e),
                    Err(elapsed) => Box::new(elapsed),
                };
                if self.fail_open {
                    tracing::warn!(target: "jwt_gate", %error, "DPoP replay store unreachable: proof accepted unchecked");
                    return Ok(true);
                }
                Err(error)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(60);

    fn key(i: u32) -> [u8; 32] {
        let mut k = [0; 32];
        k[..4].copy_from_slice(&i.to_be_bytes());
        k[31] = 1;
        k
    }

    #[test]
    fn same_key_twice_refused_within_ttl() {
        let store = MemoryReplayStore::new(10);
        assert!(store.check(key(1), TTL, 0).unwrap());
        assert!(!store.check(key(1), TTL, 59_000).unwrap());
        // Rotated once: still remembered.
        assert!(!store.check(key(1), TTL, 60_500).unwrap());
        // Two windows later: forgotten (and the proof's iat too old by then).
        assert!(store.check(key(1), TTL, 200_000).unwrap());
    }

    #[test]
    fn full_store_refuses_instead_of_forgetting() {
        let store = MemoryReplayStore::new(3);
        for i in 0..3 {
            assert!(store.check(key(i), TTL, 0).unwrap());
        }
        assert!(store.check(key(9), TTL, 1).is_err());
        // Old keys are still known while the store is full.
        assert!(!store.check(key(0), TTL, 2).unwrap());
        assert_eq!(store.len(), 3);
    }

    #[test]
    fn flood_of_unique_keys_stays_bounded() {
        let store = MemoryReplayStore::new(1_000);
        let mut refused = 0;
        for i in 0..100_000u32 {
            let mut k = [0; 32];
            k[..4].copy_from_slice(&i.to_le_bytes());
            // A new window every 10 000 proofs: expired keys are dropped.
            if store
                .check(k, TTL, u64::from(i / 10_000) * 130_000)
                .is_err()
            {
                refused += 1;
            }
            assert!(store.len() <= 1_000);
        }
        assert!(refused > 0);
    }
}
