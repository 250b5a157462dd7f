//! The shared level of the verified-token cache: entries found by a 64-bit
//! key in a few shards, each a hash table behind a read-write lock, with
//! second-chance (CLOCK) eviction under one byte bound.
//!
//! Why not moka, which the key store and the introspection cache use: a
//! moka hit is a probe of a table of pointers to buckets (each probe
//! follows one), a clone of the value behind another pointer, and an
//! entry in a read log that housekeeping later replays into an access
//! deque and a frequency sketch (more lines of memory, touched per hit).
//! With many clients' tokens those lines are not in the CPU's caches:
//! `benches/cache.rs` measured a shared hit at 869 ns with 256 clients in
//! turn and 1.66 µs with 100 000, against 283 ns and 887 ns with this
//! table (same run conditions). Here a hit reads the table's control bytes
//! and slot (the entry is in the slot), the token and the claims, and sets
//! one flag when it is not already set. What moka also brought is
//! kept: a bound (bytes, with a least weight per entry so that it bounds
//! entries too), expiry (checked on every read; expired entries go first
//! when room is needed), and admission (the doorkeeper in
//! [`admission`](super::admission); CLOCK keeps what is read again).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Shards of a table that holds this many entries or more (a power of
/// two); a smaller table is one shard, so that its bound is exact.
const SHARDS: usize = 16;
const SHARDED_FROM: u64 = 1024;

pub(crate) struct Table<V> {
    shards: Box<[RwLock<Shard<V>>]>,
    /// Each shard's share of the byte bound.
    shard_bytes: u64,
    /// Bytes held in all shards (for the admission's "full").
    bytes: AtomicU64,
}

struct Shard<V> {
    map: HashMap<u64, Slot<V>, BuildHasherDefault<KeyHasher>>,
    /// The keys in the order the clock hand visits them (`None`: a place
    /// freed, taken by the next entry the hand makes room for).
    ring: Vec<Option<u64>>,
    hand: usize,
    bytes: u64,
}

struct Slot<V> {
    value: V,
    weight: u64,
    /// Unix time (seconds) from which the entry is expired.
    until: u64,
    /// Read since the clock hand last passed: spared once.
    referenced: AtomicBool,
}

impl<V> Shard<V> {
    /// Frees the place of `key` on the ring (a walk: only when an entry is
    /// replaced or dropped before its time).
    fn untrack(&mut self, key: u64) {
        if let Some(at) = self.ring.iter().position(|&k| k == Some(key)) {
            self.ring[at] = None;
        }
    }
}

/// The keys are keyed hashes already: used as they are.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl<V> Table<V> {
    /// A table of at most `max_bytes` (weights as given to
    /// [`insert`](Self::insert)), sized for about `entries` entries.
    pub(crate) fn new(max_bytes: u64, entries: u64) -> Self {
        let shards = if entries >= SHARDED_FROM { SHARDS } else { 1 };
        Self {
            shards: (0..shards)
                .map(|_| {
                    RwLock::new(Shard {
                        map: HashMap::default(),
                        ring: Vec::new(),
                        hand: 0,
                        bytes: 0,
                    })
                })
                .collect(),
            shard_bytes: max_bytes / shards as u64,
            bytes: AtomicU64::new(0),
        }
    }

    fn shard(&self, key: u64) -> &RwLock<Shard<V>> {
        // Middle bits: the shard's hash table indexes by the low bits and
        // tags its slots with the top seven, which must vary within a shard.
        &self.shards[(key >> 32) as usize % self.shards.len()]
    }

    fn read(&self, key: u64) -> RwLockReadGuard<'_, Shard<V>> {
        self.shard(key)
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self, key: u64) -> RwLockWriteGuard<'_, Shard<V>> {
        self.shard(key)
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// `read` of the live entry of `key`, if any; an answer marks the entry
    /// as read.
    pub(crate) fn get<R>(
        &self,
        key: u64,
        now: u64,
        read: impl FnOnce(&V) -> Option<R>,
    ) -> Option<R> {
        let shard = self.read(key);
        let slot = shard.map.get(&key).filter(|slot| slot.until > now)?;
        let answer = read(&slot.value)?;
        // Written only when not set already: a hot entry's line stays
        // shared between cores.
        if !slot.referenced.load(Ordering::Relaxed) {
            slot.referenced.store(true, Ordering::Relaxed);
        }
        Some(answer)
    }

    /// Holds `value` under `key` (replacing what was there) until `until`,
    /// making room first: the clock hand drops expired entries and those
    /// not read since it last passed, and the new entry takes the first
    /// place it freed (so it is the last the hand visits). A value heavier
    /// than a shard's bound is not held.
    pub(crate) fn insert(&self, key: u64, value: V, weight: u64, until: u64, now: u64) {
        if weight > self.shard_bytes {
            return;
        }
        let slot = Slot {
            value,
            weight,
            until,
            referenced: AtomicBool::new(false),
        };
        let mut guard = self.write(key);
        let shard = &mut *guard;
        if let Some(old) = shard.map.get_mut(&key) {
            // Replaced in its place on the ring (two claims types of one
            // token, or two threads that missed it at once).
            shard.bytes = shard.bytes - old.weight + weight;
            self.bytes.fetch_sub(old.weight, Ordering::Relaxed);
            self.bytes.fetch_add(weight, Ordering::Relaxed);
            *old = slot;
            return;
        }
        let mut freed = None;
        // Two turns of the hand at most: the first clears every flag.
        let mut steps = 2 * shard.ring.len();
        while shard.bytes + weight > self.shard_bytes && steps > 0 {
            steps -= 1;
            if shard.hand >= shard.ring.len() {
                shard.hand = 0;
            }
            let at = shard.hand;
            shard.hand += 1;
            if let Some(candidate) = shard.ring[at] {
                let spare = shard.map.get(&candidate).is_some_and(|slot| {
                    slot.until > now && slot.referenced.swap(false, Ordering::Relaxed)
                });
                if spare {
                    continue;
                }
                if let Some(gone) = shard.map.remove(&candidate) {
                    shard.bytes -= gone.weight;
                    self.bytes.fetch_sub(gone.weight, Ordering::Relaxed);
                }
                shard.ring[at] = None;
            }
            freed.get_or_insert(at);
        }
        if shard.bytes + weight > self.shard_bytes {
            return;
        }
        shard.map.insert(key, slot);
        shard.bytes += weight;
        self.bytes.fetch_add(weight, Ordering::Relaxed);
        match freed {
            Some(at) => shard.ring[at] = Some(key),
            None => shard.ring.push(Some(key)),
        }
        // Places freed and not taken again: compacted once they are many.
        if shard.ring.len() > 2 * shard.map.len() + 64 {
            shard.ring.retain(Option::is_some);
            shard.hand = 0;
        }
    }

    /// Drops the entry of `key` if `matches` it.
    pub(crate) fn remove_if(&self, key: u64, matches: impl FnOnce(&V) -> bool) {
        let mut guard = self.write(key);
        let shard = &mut *guard;
        if shard.map.get(&key).is_some_and(|slot| matches(&slot.value)) {
            let gone = shard.map.remove(&key).map_or(0, |slot| slot.weight);
            shard.bytes -= gone;
            self.bytes.fetch_sub(gone, Ordering::Relaxed);
            shard.untrack(key);
        }
    }

    /// Keeps the entries `keep` says to keep (and not expired); returns how
    /// many it dropped.
    pub(crate) fn retain(&self, now: u64, mut keep: impl FnMut(&V) -> bool) -> usize {
        let mut dropped = 0;
        for shard in &self.shards {
            let mut guard = shard.write().unwrap_or_else(PoisonError::into_inner);
            let shard = &mut *guard;
            let mut freed = 0;
            shard.map.retain(|_, slot| {
                let expired = slot.until <= now;
                let kept = !expired && keep(&slot.value);
                if !kept {
                    freed += slot.weight;
                    dropped += usize::from(!expired);
                }
                kept
            });
            let map = &shard.map;
            shard
                .ring
                .retain(|key| key.is_some_and(|key| map.contains_key(&key)));
            shard.hand = 0;
            shard.bytes -= freed;
            self.bytes.fetch_sub(freed, Ordering::Relaxed);
        }
        dropped
    }

    /// Bytes held (the sum of the weights).
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Entries held, expired ones not yet dropped included.
    pub(crate) fn len(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(PoisonError::into_inner).map.len() as u64)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_holds_and_what_is_read_again_stays() {
        let table = Table::new(10 * 100, 10);
        for key in 0..10u64 {
            table.insert(key, key, 100, 1000, 0);
        }
        assert_eq!(table.bytes(), 1000);
        // Keys 0..5 are read: the next five inserts push out 5..10.
        for key in 0..5u64 {
            assert_eq!(table.get(key, 0, |v| Some(*v)), Some(key));
        }
        for key in 10..15u64 {
            table.insert(key, key, 100, 1000, 0);
        }
        assert_eq!(table.bytes(), 1000);
        assert_eq!(table.len(), 10);
        for key in 0..5u64 {
            assert_eq!(table.get(key, 0, |v| Some(*v)), Some(key), "{key}");
        }
        for key in 5..10u64 {
            assert_eq!(table.get(key, 0, |v| Some(*v)), None, "{key}");
        }
    }

    #[test]
    fn expired_entries_are_not_answered_and_go_first() {
        let table = Table::new(300, 3);
        table.insert(1, 1u64, 100, 50, 0);
        table.insert(2, 2, 100, 1000, 0);
        table.insert(3, 3, 100, 1000, 0);
        assert_eq!(table.get(1, 49, |v| Some(*v)), Some(1));
        assert_eq!(table.get(1, 50, |v| Some(*v)), None);
        for key in [2, 3] {
            assert!(table.get(key, 60, |v| Some(*v)).is_some());
        }
        // Full: key 1 is read (flag set) but expired, so it goes.
        table.insert(4, 4, 100, 1000, 60);
        assert_eq!(table.len(), 3);
        for key in [2, 3, 4] {
            assert!(table.get(key, 60, |v| Some(*v)).is_some(), "{key}");
        }
    }

    #[test]
    fn replacing_removing_and_retaining_keep_the_count_of_bytes() {
        let table = Table::new(1 << 20, 4096);
        for key in 0..2000u64 {
            table.insert(key.wrapping_mul(0x9e37_79b9_7f4a_7c15), key, 10, 1000, 0);
        }
        table.insert(0, 7, 30, 1000, 0);
        assert_eq!(table.bytes(), 2000 * 10 + 20);
        table.remove_if(0, |v| *v == 8);
        assert_eq!(table.len(), 2000, "a different value is not removed");
        table.remove_if(0, |v| *v == 7);
        assert_eq!(table.bytes(), 1999 * 10);
        assert_eq!(table.retain(0, |v| v % 2 == 0), 1000);
        assert_eq!(table.len(), 999);
        assert_eq!(table.bytes(), 999 * 10);
        assert!(table.shards.iter().all(|s| {
            let s = s.read().unwrap();
            s.ring.iter().flatten().count() == s.map.len()
        }));
    }

    #[test]
    fn a_value_heavier_than_a_shard_is_not_held() {
        let table = Table::new(100, 1);
        table.insert(1, 1u64, 101, 1000, 0);
        assert_eq!(table.len(), 0);
        assert_eq!(table.bytes(), 0);
    }
}
