//! The verified-token cache: a token seen before skips the signature check
//! and the parse. Found by a keyed hash of the token's end (its signature)
//! and answered only when the whole token is equal to the one stored (never
//! a hash of it alone), it holds the validated claims only: no verdict that
//! depends on a route.
//!
//! Two levels. The shared level is a [`Table`], bounded by entries and
//! bytes. In front of it each thread keeps a few tokens it sees again and
//! again, with claims of its own (read once more from the payload), so that
//! a hot token served by several threads at once writes no shared memory:
//! a shared hit takes its shard's read lock and the claims' reference
//! count, which two cores would otherwise pass back and forth.

use std::any::Any;
use std::cell::RefCell;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::admission::Doorkeeper;
use super::issuers::Picked;
use super::token_table::Table;
use crate::jose::claims::Claims;
use crate::jose::error::Error;
use crate::jose::time::UnixTime;
use crate::remote::key_store::HeldKeys;
use crate::telemetry::Striped;

/// An issuer's configuration and the keys it holds now: what a cache hit
/// is checked against.
pub(crate) struct Checked<'v> {
    pub(crate) trusted: Picked<'v>,
    pub(crate) keys: HeldKeys,
}

/// The longest an entry lives, whatever its token's `exp`.
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Bookkeeping per entry besides the token and its claims (a rough count).
const ENTRY_OVERHEAD: usize = 256;
/// The least an access token's entry weighs, about (token, claims and
/// bookkeeping): to tell how many fit in a byte bound.
const TYPICAL_WEIGHT: u64 = 1024;

struct Entry {
    /// The whole token, compared with the one presented: the key is only a
    /// hash.
    token: Box<str>,
    /// Claims of the type they were validated for ([`Claims::to_any`]).
    claims: Arc<dyn Any + Send + Sync>,
    /// The tag of the key that verified it (see `KeySet::has_tag`).
    key_tag: u64,
    /// Reads `sub` from `claims` (which knows its claims type).
    subject: fn(&Arc<dyn Any + Send + Sync>) -> Option<Box<str>>,
}

/// `sub` of type-erased claims of type `C`.
fn subject_of<C: Send + Sync + 'static>(claims: &Arc<dyn Any + Send + Sync>) -> Option<Box<str>> {
    Claims::<C>::from_any(Arc::clone(claims))?
        .subject()
        .map(Box::from)
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
    /// Valid tokens not cached: the cache was full and they had not been
    /// seen a short while before (a working set larger than the cache keeps
    /// the tokens it holds instead of churning through them).
    pub declined: u64,
}

pub(crate) struct TokenCache {
    /// Tells this cache's entries in the threads' front slots from those of
    /// other caches.
    id: u64,
    hasher: foldhash::fast::FixedState,
    /// Keyed by [`Self::hash`]: a lookup compares eight bytes in the table,
    /// and the whole token once, with the entry's.
    cache: Table<Entry>,
    /// Each entry weighs at least this, so that `max_entries` bounds the
    /// count while `max_bytes` bounds the memory.
    min_weight: usize,
    /// From this weighted size on, the cache is full: tokens must pass the
    /// doorkeeper to be offered to it.
    full_at: u64,
    door: Doorkeeper,
    /// Bumped when tokens are forgotten: the threads' front copies made
    /// before are no longer served.
    generation: AtomicU64,
    hits: Striped,
    misses: Striped,
    declined: Striped,
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
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        // About how many tokens it holds, for the doorkeeper's window (the
        // order of magnitude is enough): `max_entries`, or fewer when the
        // bytes run out first (an access token weighs a kilobyte or more).
        let capacity = max_entries.min(max_bytes / TYPICAL_WEIGHT);
        Some(Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            hasher: foldhash::fast::FixedState::with_seed(rand_seed()),
            cache: Table::new(max_bytes, capacity),
            min_weight,
            full_at: max_bytes - max_bytes / 16,
            door: Doorkeeper::new(capacity),
            generation: AtomicU64::new(0),
            hits: Striped::default(),
            misses: Striped::default(),
            declined: Striped::default(),
        })
    }

    /// The claims cached for `token`, if they were validated as a `C`, the
    /// issuer they name (verified) is still trusted, the key that verified
    /// them is still in its key set, and their times still hold (else the
    /// entry is dropped and the time error returned). `None`: validate.
    ///
    /// `issuer` gives the configuration of the claims' issuer and its keys
    /// held now, if any.
    pub(crate) fn get<'v, C>(
        &self,
        token: &str,
        now: UnixTime,
        issuer: impl FnOnce(&Claims<C>) -> Option<Checked<'v>>,
    ) -> Option<Result<Claims<C>, Error>>
    where
        C: DeserializeOwned + Send + Sync + 'static,
    {
        let hash = self.hash(token);
        let generation = self.generation.load(Ordering::Acquire);
        let (claims, key_tag, promote) =
            match front(|f| f.get::<C>(self.id, generation, hash, token)) {
                Some(Front::Hit(claims, key_tag)) => (claims, key_tag, false),
                // Seen twice in a row by this thread: worth a copy of its own.
                Some(Front::Again) => self
                    .get_shared(hash, token, now)
                    .map(|(c, t)| (c, t, true))?,
                _ => self
                    .get_shared(hash, token, now)
                    .map(|(c, t)| (c, t, false))?,
            };
        let checked = issuer(&claims).filter(|c| c.keys.keys.has_tag(key_tag));
        let Some(checked) = checked else {
            // The key left the key set (or the issuer is gone): verify again.
            self.invalidate_hashed(hash, token);
            return None;
        };
        let rules = &checked.trusted.rules;
        if let Err(e) = claims.recheck(rules, now) {
            self.invalidate_hashed(hash, token);
            return Some(Err(e));
        }
        self.hits.add();
        if promote && let Some(own) = claims.reparse(rules, now) {
            front(|f| f.put(self.id, generation, hash, token, own, key_tag));
        }
        Some(Ok(claims))
    }

    /// The key of `token`: a keyed hash of its length and its last
    /// [`HASHED_TAIL`] bytes. A signed token ends with its signature, which
    /// tells tokens apart as well as the whole token would, for a fraction
    /// of the hashing (an RS256 token is over a kilobyte). Equal keys only
    /// say where to look: a token is answered from an entry only when it
    /// is equal to the entry's token, byte for byte.
    fn hash(&self, token: &str) -> u64 {
        let tail = &token.as_bytes()[token.len().saturating_sub(HASHED_TAIL)..];
        self.hasher.hash_one((token.len(), tail))
    }

    /// From the shared level, with the tag of the key that verified it.
    fn get_shared<C: Send + Sync + 'static>(
        &self,
        hash: u64,
        token: &str,
        now: UnixTime,
    ) -> Option<(Claims<C>, u64)> {
        self.cache.get(hash, now.as_secs(), |entry| {
            // Another token with the same key is not this one.
            if *entry.token != *token {
                return None;
            }
            Some((Claims::from_any(Arc::clone(&entry.claims))?, entry.key_tag))
        })
    }

    /// Counts a validation that checked the signature.
    pub(crate) fn count_miss(&self) {
        self.misses.add();
    }

    /// Caches valid claims until their `exp` (plus leeway), at most a day;
    /// when the cache is full, only if the token was missed a short while
    /// before (see [`admission`](super::admission)).
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
        let hash = self.hash(token);
        if self.cache.bytes() >= self.full_at && !self.door.missed_before(hash) {
            self.declined.add();
            return;
        }
        let size = token.len() + 2 * claims.payload_len() + ENTRY_OVERHEAD;
        let weight = size.max(self.min_weight) as u64;
        let entry = Entry {
            token: Box::from(token),
            claims: claims.to_any(),
            key_tag,
            subject: subject_of::<C>,
        };
        let until = now.as_secs().saturating_add(lifetime.as_secs());
        self.cache.insert(hash, entry, weight, until, now.as_secs());
    }

    /// Drops `token`, in every thread's front copy too.
    pub(crate) fn forget(&self, token: &str) {
        self.drop_shared(self.hash(token), token);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Drops the shared level's entry of `token`, and only of `token`: a
    /// token that merely shares its key evicts nothing.
    fn drop_shared(&self, hash: u64, token: &str) {
        self.cache.remove_if(hash, |entry| *entry.token == *token);
    }

    /// Drops every token whose `sub` is `subject` (a walk over all entries).
    pub(crate) fn forget_subject(&self, subject: &str) -> usize {
        let now = UnixTime::now().as_secs();
        let dropped = self.cache.retain(now, |entry| {
            (entry.subject)(&entry.claims).as_deref() != Some(subject)
        });
        self.generation.fetch_add(1, Ordering::AcqRel);
        dropped
    }

    /// Drops `token` from the shared level and this thread's front slot.
    fn invalidate_hashed(&self, hash: u64, token: &str) {
        front(|f| f.remove(self.id, hash, token));
        self.drop_shared(hash, token);
    }

    pub(crate) fn stats(&self) -> TokenCacheStats {
        TokenCacheStats {
            entries: self.cache.len(),
            bytes: self.cache.bytes(),
            hits: self.hits.get(),
            misses: self.misses.get(),
            declined: self.declined.get(),
        }
    }
}

/// A seed that differs between processes, so that the slot a token lands in
/// cannot be chosen from outside.
fn rand_seed() -> u64 {
    std::collections::hash_map::RandomState::new().hash_one(0u8)
}

/// How many bytes at a token's end its key is made of: the whole
/// signature of an HS256 token (43 characters) and more, a good part of
/// any other.
const HASHED_TAIL: usize = 64;

/// Front slots per thread (a power of two).
const FRONT_SLOTS: usize = 32;

/// A thread's own copies of the tokens it sees again and again: a
/// direct-mapped table, so a slot holds the last token admitted to it.
struct FrontCache {
    slots: [Slot; FRONT_SLOTS],
}

#[derive(Default)]
struct Slot {
    /// The cache and token hash of the last shared hit that landed here: a
    /// token is copied in when it is seen twice in a row.
    seen: (u64, u64),
    held: Option<FrontEntry>,
}

struct FrontEntry {
    cache: u64,
    /// The cache's generation when copied (see `TokenCache::generation`).
    generation: u64,
    hash: u64,
    token: Box<str>,
    /// Claims owned by this thread ([`Claims::to_any`]).
    claims: Arc<dyn Any + Send + Sync>,
    key_tag: u64,
}

enum Front<C> {
    Hit(Claims<C>, u64),
    /// The shared level's hit before this one was the same token.
    Again,
    Miss,
}

/// Runs `f` on this thread's front cache; `None` while the thread is being
/// torn down or re-entered (a claims type's deserializer calling back in).
fn front<R>(f: impl FnOnce(&mut FrontCache) -> R) -> Option<R> {
    thread_local! {
        static FRONT: RefCell<FrontCache> = RefCell::new(FrontCache {
            slots: Default::default(),
        });
    }
    FRONT
        .try_with(|front| front.try_borrow_mut().ok().map(|mut front| f(&mut front)))
        .ok()
        .flatten()
}

impl FrontCache {
    fn slot(&mut self, hash: u64) -> &mut Slot {
        &mut self.slots[(hash as usize) % FRONT_SLOTS]
    }

    fn get<C: Send + Sync + 'static>(
        &mut self,
        cache: u64,
        generation: u64,
        hash: u64,
        token: &str,
    ) -> Front<C> {
        let slot = self.slot(hash);
        if let Some(held) = &slot.held
            && held.cache == cache
            && held.generation == generation
            && held.hash == hash
            && *held.token == *token
        {
            if let Some(claims) = Claims::from_any(Arc::clone(&held.claims)) {
                return Front::Hit(claims, held.key_tag);
            }
            // Another claims type: the shared level decides.
            slot.held = None;
        }
        if std::mem::replace(&mut slot.seen, (cache, hash)) == (cache, hash) {
            Front::Again
        } else {
            Front::Miss
        }
    }

    fn put<C: Send + Sync + 'static>(
        &mut self,
        cache: u64,
        generation: u64,
        hash: u64,
        token: &str,
        claims: Claims<C>,
        key_tag: u64,
    ) {
        let slot = self.slot(hash);
        slot.held = Some(FrontEntry {
            cache,
            generation,
            hash,
            token: token.into(),
            claims: claims.to_any(),
            key_tag,
        });
    }

    fn remove(&mut self, cache: u64, hash: u64, token: &str) {
        let slot = self.slot(hash);
        if slot
            .held
            .as_ref()
            .is_some_and(|h| h.cache == cache && h.hash == hash && *h.token == *token)
        {
            slot.held = None;
        }
    }
}
