//! Admission to a full verified-token cache.
//!
//! A bounded cache whose working set outgrows it must degrade towards "no
//! cache", never below it. Left to itself, the shared level inserts every
//! token validated, and once full each insert pushes out another token
//! (moka, which held the shared level then, weighed each in its
//! housekeeping and threw most out again): with tokens that come back no
//! more often than those held, every miss pays for an insert and a removal
//! (with HS256 tokens, 20 000 clients over 10 000 entries: 10 µs a
//! request, against 4 µs with the cache off), and the hits go down as
//! well.
//!
//! So, once the cache is full, a token is offered to it only when it was
//! already missed a short while before: within the last `window` to
//! `2 × window` misses, `window` being a quarter of the cache's capacity
//! in tokens. A token that comes back that soon is worth more than what it
//! would push out; one that comes back after more misses than the cache
//! holds tokens would only push out another token that comes back as late.
//! The tokens held then stay held (a stable subset is hot: with twice as
//! many clients as the cache holds, about half the requests are hits), and
//! a miss costs the signature check and two bit probes. While the cache is
//! not full, every token is offered.
//!
//! The memory of recent misses is two generations of a bit set (two bits
//! per token, 16 bits per token of the window), swapped every `window`
//! misses: a false "seen" (about 3 %) only offers a token to the cache,
//! whose clock hand still spares the entries read since it last passed.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Bits per token of the window, per generation.
const BITS_PER_TOKEN: u64 = 16;

pub(crate) struct Doorkeeper {
    generations: [Box<[AtomicU64]>; 2],
    /// Which generation is being written (0 or 1).
    current: AtomicUsize,
    /// Misses recorded in the current generation.
    recorded: AtomicU64,
    window: u64,
    /// Bits per generation less one (a power of two less one).
    mask: u64,
}

impl Doorkeeper {
    /// For a cache that holds about `capacity` tokens.
    pub(crate) fn new(capacity: u64) -> Self {
        let window = (capacity / 4).clamp(64, 1 << 20);
        let words = (window * BITS_PER_TOKEN / 64).next_power_of_two();
        let generation = || (0..words).map(|_| AtomicU64::new(0)).collect();
        Self {
            generations: [generation(), generation()],
            current: AtomicUsize::new(0),
            recorded: AtomicU64::new(0),
            window,
            mask: words * 64 - 1,
        }
    }

    /// Records a miss of the token hashed `hash` and says whether it was
    /// missed before, within the last `window` to `2 × window` misses.
    pub(crate) fn missed_before(&self, hash: u64) -> bool {
        let current = self.current.load(Ordering::Relaxed) & 1;
        // Two probes from the two halves of the hash.
        let probes = [hash, hash.rotate_left(32)].map(|h| {
            let bit = h & self.mask;
            ((bit / 64) as usize, 1u64 << (bit % 64))
        });
        let mut in_current = true;
        let mut in_previous = true;
        for (word, bit) in probes {
            in_current &=
                self.generations[current][word].fetch_or(bit, Ordering::Relaxed) & bit != 0;
            in_previous &= self.generations[current ^ 1][word].load(Ordering::Relaxed) & bit != 0;
        }
        if self.recorded.fetch_add(1, Ordering::Relaxed) + 1 >= self.window {
            self.rotate(current);
        }
        in_current || in_previous
    }

    /// Starts a new generation in place of the previous one. Races with
    /// other threads only lose or keep a few bits: the set is approximate.
    fn rotate(&self, current: usize) {
        if self
            .current
            .compare_exchange(current, current ^ 1, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        for word in &self.generations[current ^ 1] {
            word.store(0, Ordering::Relaxed);
        }
        self.recorded.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(i: u64) -> u64 {
        use std::hash::BuildHasher;
        std::collections::hash_map::RandomState::new().hash_one(i)
    }

    #[test]
    fn a_token_missed_again_soon_passes_one_missed_again_late_does_not() {
        let door = Doorkeeper::new(4_000); // a window of 1 000 misses
        let hashes: Vec<u64> = (0..10_000).map(hash).collect();
        // The first sighting never passes.
        assert!(!door.missed_before(hashes[0]));
        // Again after 100 other misses: passes.
        for h in &hashes[1..=100] {
            door.missed_before(*h);
        }
        assert!(door.missed_before(hashes[0]));
        // Round-robin over 4 000 tokens (4 windows): each comes back after
        // 4 000 misses, long forgotten; only false positives pass.
        let mut passed = 0;
        for round in 0..3 {
            for h in &hashes[5_000..9_000] {
                if door.missed_before(*h) && round > 0 {
                    passed += 1;
                }
            }
        }
        assert!(passed < 8_000 / 20, "{passed} of 8 000 passed");
        // Round-robin over 200 tokens: all pass from the second round on.
        let mut passed = 0;
        for round in 0..3 {
            for h in &hashes[..200] {
                if door.missed_before(*h) && round > 0 {
                    passed += 1;
                }
            }
        }
        assert_eq!(passed, 400);
    }
}
