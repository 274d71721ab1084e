//! The perceptual hashes (dHash) of the most recent selfies, searchable for near duplicates
//! without comparing against every one of them.
//!
//! A linear scan of a 50,000-photo window costs ~100 µs a check-in (it was the largest single
//! cost under load). For thresholds up to [`MAX_INDEXED_BITS`] the window is indexed by
//! multi-index hashing: the 64 bits are cut into `threshold + 1` blocks, and two hashes within
//! `threshold` bits of each other agree exactly on at least one block (pigeonhole), so only the
//! hashes sharing a block value with the query (or with its mirror image) are compared. Larger
//! thresholds fall back to the scan. Both give exactly the answer of comparing every hash.

use std::collections::HashMap;

use crate::verify::photo::{hamming, mirror};

/// Thresholds above this are searched by scanning (blocks of fewer than 6 bits would hold a
/// large share of the window each, and the index would cost more than it saves).
pub const MAX_INDEXED_BITS: u32 = 9;

/// A bounded window of recent photo hashes: the oldest is dropped when a new one arrives and the
/// window is full.
///
/// Memory: 8 bytes a hash in the ring and 4 bytes a hash in each block's bucket (slot numbers,
/// not hashes: a full 50,000-photo window with 7 blocks is ~1.8 MiB instead of ~4.5 MiB; the
/// ring a query reads from is 400 KB and stays in the CPU cache).
pub struct RecentPhotos {
    threshold: u32,
    capacity: usize,
    /// Ring of slots; a slot's hash counts only while `used` says so.
    ring: Vec<u64>,
    /// Which slots hold a hash (a slot never used, or forgotten, does not).
    used: Vec<bool>,
    /// Where the next hash goes.
    next: usize,
    /// Slots holding a hash.
    count: usize,
    /// `(shift, mask)` of each block; empty when scanning.
    blocks: Vec<(u32, u64)>,
    /// Per block: block value → the slots whose hash has that value.
    buckets: Vec<HashMap<u64, Vec<u32>>>,
}

impl RecentPhotos {
    /// An empty window of `capacity` hashes (at most `u32::MAX`) that finds every stored hash
    /// within `threshold` bits (by [`crate::verify::photo::distance`]) of a query.
    pub fn new(capacity: usize, threshold: u32) -> RecentPhotos {
        let capacity = capacity.clamp(1, u32::MAX as usize);
        let blocks = if threshold <= MAX_INDEXED_BITS {
            block_layout(threshold as usize + 1)
        } else {
            Vec::new()
        };
        RecentPhotos {
            threshold,
            capacity,
            ring: Vec::with_capacity(capacity.min(4096)),
            used: Vec::with_capacity(capacity.min(4096)),
            next: 0,
            count: 0,
            buckets: blocks.iter().map(|_| HashMap::new()).collect(),
            blocks,
        }
    }

    /// Hashes in the window.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the window holds no hash.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The smallest distance from `query` to a hash in the window, when one is within the
    /// threshold.
    pub fn nearest(&self, query: u64) -> Option<u32> {
        let mirrored = mirror(query);
        // distance(h, q) = min(hamming(h, q), hamming(mirror(h), q)), and mirroring is an
        // involutive isometry, so hamming(mirror(h), q) = hamming(h, mirror(q)).
        let dist = |h: u64| hamming(h, query).min(hamming(h, mirrored));
        let best = if self.blocks.is_empty() {
            self.ring
                .iter()
                .zip(&self.used)
                .filter(|(_, used)| **used)
                .map(|(h, _)| dist(*h))
                .min()
        } else {
            let mut best: Option<u32> = None;
            for q in [query, mirrored] {
                for (block, &(shift, mask)) in self.blocks.iter().enumerate() {
                    let Some(slots) = self.buckets[block].get(&((q >> shift) & mask)) else {
                        continue;
                    };
                    let nearest = slots
                        .iter()
                        .filter_map(|s| self.ring.get(*s as usize))
                        .map(|h| dist(*h))
                        .min();
                    if let Some(d) = nearest {
                        best = Some(best.map_or(d, |b| b.min(d)));
                    }
                }
            }
            best
        };
        best.filter(|d| *d <= self.threshold)
    }

    /// Adds a hash, dropping the oldest when the window is full.
    pub fn insert(&mut self, hash: u64) {
        let slot = self.next;
        if slot == self.ring.len() {
            self.ring.push(hash);
            self.used.push(false);
        }
        if self.used[slot] {
            self.unindex(slot);
            self.count -= 1;
        }
        self.ring[slot] = hash;
        self.used[slot] = true;
        self.count += 1;
        for (block, &(shift, mask)) in self.blocks.iter().enumerate() {
            self.buckets[block]
                .entry((hash >> shift) & mask)
                .or_default()
                .push(slot as u32);
        }
        self.next = (slot + 1) % self.capacity;
    }

    /// Removes the newest occurrence of `hash` (a check-in whose commit failed).
    pub fn forget(&mut self, hash: u64) {
        let n = self.ring.len();
        let newest_first = (0..n).map(|i| (self.next + n - 1 - i) % n);
        for slot in newest_first {
            if self.used[slot] && self.ring[slot] == hash {
                self.unindex(slot);
                self.used[slot] = false;
                self.count -= 1;
                return;
            }
        }
    }

    /// Takes `slot` out of the bucket of each block of its hash.
    fn unindex(&mut self, slot: usize) {
        let hash = self.ring[slot];
        for (block, &(shift, mask)) in self.blocks.iter().enumerate() {
            let key = (hash >> shift) & mask;
            if let Some(slots) = self.buckets[block].get_mut(&key) {
                if let Some(i) = slots.iter().position(|s| *s as usize == slot) {
                    slots.swap_remove(i);
                }
                if slots.is_empty() {
                    self.buckets[block].remove(&key);
                }
            }
        }
    }
}

/// Cuts 64 bits into `n` blocks of as equal widths as possible: `(shift, mask)` each.
fn block_layout(n: usize) -> Vec<(u32, u64)> {
    let n = n.clamp(1, 64);
    let mut out = Vec::with_capacity(n);
    let mut shift = 0u32;
    for i in 0..n {
        let width = (64 / n + usize::from(i < 64 % n)) as u32;
        let mask = if width >= 64 {
            u64::MAX
        } else {
            (1u64 << width) - 1
        };
        out.push((shift, mask));
        shift += width;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::photo::distance;

    fn brute(window: &[u64], q: u64, threshold: u32) -> Option<u32> {
        window
            .iter()
            .map(|h| distance(*h, q))
            .min()
            .filter(|d| *d <= threshold)
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn flip_bits(&mut self, mut h: u64, n: u32) -> u64 {
            for _ in 0..n {
                h ^= 1 << (self.next() % 64);
            }
            h
        }
    }

    #[test]
    fn blocks_cover_all_64_bits_once() {
        for n in 1..=64 {
            let layout = block_layout(n);
            assert_eq!(layout.len(), n);
            let covered = layout.iter().fold(0u64, |acc, (shift, mask)| {
                assert_eq!(acc & (mask << shift), 0, "blocks overlap for n = {n}");
                acc | (mask << shift)
            });
            assert_eq!(covered, u64::MAX, "bits left out for n = {n}");
        }
    }

    #[test]
    fn the_index_finds_exactly_what_comparing_every_hash_finds() {
        for threshold in [0, 3, 6, 9, 12] {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ u64::from(threshold));
            let mut index = RecentPhotos::new(500, threshold);
            let mut window: Vec<u64> = Vec::new();
            for _ in 0..500 {
                let h = rng.next();
                index.insert(h);
                window.push(h);
            }
            for i in 0..2_000 {
                let q = match i % 4 {
                    // Near a stored hash, plainly or mirrored.
                    0 => {
                        let base = window[(rng.next() % 500) as usize];
                        let n = (rng.next() % 12) as u32;
                        rng.flip_bits(base, n)
                    }
                    1 => {
                        let base = window[(rng.next() % 500) as usize];
                        let n = (rng.next() % 12) as u32;
                        mirror(rng.flip_bits(base, n))
                    }
                    _ => rng.next(),
                };
                assert_eq!(
                    index.nearest(q),
                    brute(&window, q, threshold),
                    "threshold {threshold}, query {q:016x}"
                );
            }
        }
    }

    #[test]
    fn after_the_window_wrapped_around_and_hashes_were_forgotten_it_still_agrees_with_a_scan() {
        let mut rng = Rng(0x51ED_2701_A3F4_0C8B);
        let (capacity, threshold) = (300, 6);
        let mut index = RecentPhotos::new(capacity, threshold);
        // The window as a plain list: the newest `capacity` inserted, minus the forgotten.
        let mut inserted: Vec<Option<u64>> = Vec::new();
        for i in 0..1_000 {
            // Near-copies of earlier hashes too, so buckets hold several slots.
            let h = match (i % 3, inserted.last().copied().flatten()) {
                (0, Some(prev)) => rng.flip_bits(prev, 2),
                _ => rng.next(),
            };
            index.insert(h);
            inserted.push(Some(h));
            if i % 7 == 0 {
                index.forget(h);
                if let Some(last) = inserted.last_mut() {
                    *last = None;
                }
            }
        }
        let window: Vec<u64> = inserted[inserted.len() - capacity..]
            .iter()
            .flatten()
            .copied()
            .collect();
        assert_eq!(index.len(), window.len());
        for _ in 0..2_000 {
            let base = window[(rng.next() % window.len() as u64) as usize];
            let n = (rng.next() % 10) as u32;
            let q = rng.flip_bits(base, n);
            assert_eq!(
                index.nearest(q),
                brute(&window, q, threshold),
                "query {q:016x}"
            );
        }
    }

    #[test]
    fn the_oldest_hash_leaves_a_full_window() {
        let mut index = RecentPhotos::new(3, 6);
        for h in [0x1111, 0x2222_0000, 0x3333_0000_0000, 0x4444_0000_0000_0000] {
            index.insert(h);
        }
        assert_eq!(index.len(), 3);
        assert_eq!(index.nearest(0x1111), None, "evicted");
        assert_eq!(index.nearest(0x4444_0000_0000_0000), Some(0));
        assert_eq!(index.nearest(0x2222_0001), Some(1));
    }

    #[test]
    fn a_forgotten_hash_is_no_longer_found_and_its_slot_is_reused() {
        let mut index = RecentPhotos::new(2, 6);
        index.insert(0xABCD);
        index.insert(0xABCD);
        index.forget(0xABCD);
        assert_eq!(index.len(), 1);
        assert_eq!(index.nearest(0xABCD), Some(0), "one copy remains");
        index.forget(0xABCD);
        assert_eq!(index.nearest(0xABCD), None);
        index.insert(0x1);
        index.insert(0x2);
        index.insert(0x3);
        assert_eq!(index.len(), 2);
    }

    #[test]
    fn a_mirrored_selfie_is_found_by_the_scan_too() {
        let mut index = RecentPhotos::new(10, 20);
        index.insert(0x0123_4567_89AB_CDEF);
        assert_eq!(index.nearest(mirror(0x0123_4567_89AB_CDEF)), Some(0));
        let far = 0x0123_4567_89AB_CDEF ^ 0x00FF_00FF_00FF_00FF;
        assert_eq!(index.nearest(far), None, "32 bits away both ways");
    }
}
