//! Log-linear histograms: a lock-free recorder for the hot path and a sparse, mergeable
//! snapshot for the windows.
//!
//! Values (nanoseconds, or any `u64`) fall into buckets of 128 sub-buckets per power of two,
//! so every bucket is at most 1/128 (0.78 %) of its value wide: the same precision as an
//! `hdrhistogram` with two significant digits. Values below 256 are exact.
//!
//! Recording is one relaxed atomic add into the calling thread's shard; bucket groups are
//! allocated on first use, so an operation whose latencies span three powers of two costs
//! three 1 KiB groups per shard that records, not the whole range.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Sub-buckets per power of two (2^7).
const SUB_BITS: u32 = 7;
const SUB_COUNT: usize = 1 << SUB_BITS;
/// Group 0 holds 0..128 exactly; group g ≥ 1 holds [2^(g+6), 2^(g+7)).
const GROUPS: usize = 64 - SUB_BITS as usize + 1;

/// The flat bucket index of `value`.
#[inline]
pub(crate) fn bucket_of(value: u64) -> u16 {
    if value < SUB_COUNT as u64 {
        return value as u16;
    }
    let magnitude = 63 - value.leading_zeros();
    let group = magnitude - SUB_BITS + 1;
    let sub = (value >> (magnitude - SUB_BITS)) as usize & (SUB_COUNT - 1);
    (group as usize * SUB_COUNT + sub) as u16
}

/// The lowest value of bucket `index`.
pub(crate) fn bucket_low(index: u16) -> u64 {
    let (group, sub) = (
        index as u64 / SUB_COUNT as u64,
        index as u64 % SUB_COUNT as u64,
    );
    if group == 0 {
        sub
    } else {
        (SUB_COUNT as u64 + sub) << (group - 1)
    }
}

/// The highest value of bucket `index`.
pub(crate) fn bucket_high(index: u16) -> u64 {
    let group = index as u64 / SUB_COUNT as u64;
    let width = if group == 0 { 1 } else { 1u64 << (group - 1) };
    bucket_low(index).saturating_add(width - 1)
}

/// The value that stands for bucket `index` in means: its midpoint.
fn bucket_mid(index: u16) -> f64 {
    let low = bucket_low(index) as f64;
    low + (bucket_high(index) as f64 - low) / 2.0
}

type Group = [AtomicU64; SUB_COUNT];

/// One shard: bucket groups allocated on first use.
struct Shard {
    groups: [OnceLock<Box<Group>>; GROUPS],
}

impl Shard {
    fn new() -> Shard {
        Shard {
            groups: std::array::from_fn(|_| OnceLock::new()),
        }
    }
}

thread_local! {
    static SHARD_SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// This thread's shard number, assigned round-robin on first use.
#[inline]
fn thread_slot() -> usize {
    SHARD_SLOT.with(|slot| {
        let current = slot.get();
        if current != usize::MAX {
            return current;
        }
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let assigned = NEXT.fetch_add(1, Ordering::Relaxed);
        slot.set(assigned);
        assigned
    })
}

/// A lock-free, sharded recorder. Readers [`drain`](AtomicHistogram::drain) it into a
/// [`Counts`]; a value recorded during a drain lands in this drain or the next, never lost.
pub(crate) struct AtomicHistogram {
    shards: Box<[OnceLock<Box<Shard>>]>,
}

impl AtomicHistogram {
    /// A recorder with `shards` shards (rounded up to a power of two).
    pub(crate) fn new(shards: usize) -> AtomicHistogram {
        let n = shards.clamp(1, 64).next_power_of_two();
        AtomicHistogram {
            shards: (0..n).map(|_| OnceLock::new()).collect(),
        }
    }

    /// Counts `value` once.
    #[inline]
    pub(crate) fn record(&self, value: u64) {
        self.record_n(value, 1);
    }

    /// Counts `value` `n` times.
    #[inline]
    pub(crate) fn record_n(&self, value: u64, n: u64) {
        let shard = self.shards[thread_slot() & (self.shards.len() - 1)]
            .get_or_init(|| Box::new(Shard::new()));
        let index = bucket_of(value) as usize;
        let group = shard.groups[index / SUB_COUNT]
            .get_or_init(|| Box::new(std::array::from_fn(|_| AtomicU64::new(0))));
        group[index % SUB_COUNT].fetch_add(n, Ordering::Relaxed);
    }

    /// Moves everything recorded so far into `into`, leaving the recorder empty.
    pub(crate) fn drain(&self, into: &mut Counts) {
        let mut taken: Vec<(u16, u64)> = Vec::new();
        for shard in self.shards.iter().filter_map(OnceLock::get) {
            for (g, group) in shard.groups.iter().enumerate() {
                let Some(group) = group.get() else { continue };
                for (s, bucket) in group.iter().enumerate() {
                    if bucket.load(Ordering::Relaxed) != 0 {
                        let n = bucket.swap(0, Ordering::Relaxed);
                        if n != 0 {
                            taken.push(((g * SUB_COUNT + s) as u16, n));
                        }
                    }
                }
            }
        }
        taken.sort_unstable_by_key(|&(i, _)| i);
        into.merge_sorted(&taken);
    }

    /// Bytes held by allocated shards and groups.
    pub(crate) fn allocated_bytes(&self) -> usize {
        let shard_bytes = std::mem::size_of::<Shard>();
        let group_bytes = std::mem::size_of::<Group>();
        self.shards
            .iter()
            .filter_map(OnceLock::get)
            .map(|s| {
                shard_bytes + s.groups.iter().filter(|g| g.get().is_some()).count() * group_bytes
            })
            .sum::<usize>()
            + self.shards.len() * std::mem::size_of::<OnceLock<Box<Shard>>>()
    }
}

/// A sparse histogram: non-empty buckets in index order. Merging and quantiles are exact at
/// bucket precision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    index: Vec<u16>,
    count: Vec<u64>,
    total: u64,
}

impl Counts {
    /// An empty histogram.
    pub fn new() -> Counts {
        Counts::default()
    }

    /// Counts `value` once (for tests and for building a histogram off the hot path).
    pub fn record(&mut self, value: u64) {
        self.merge_sorted(&[(bucket_of(value), 1)]);
    }

    /// The number of values recorded.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Counts) {
        if other.is_empty() {
            return;
        }
        if self.is_empty() {
            self.clone_from(other);
            return;
        }
        let pairs: Vec<(u16, u64)> = other
            .index
            .iter()
            .copied()
            .zip(other.count.iter().copied())
            .collect();
        self.merge_sorted(&pairs);
    }

    /// Adds `(bucket, count)` pairs sorted by bucket.
    fn merge_sorted(&mut self, pairs: &[(u16, u64)]) {
        if pairs.is_empty() {
            return;
        }
        let mut index = Vec::with_capacity(self.index.len() + pairs.len());
        let mut count = Vec::with_capacity(index.capacity());
        let (mut i, mut j) = (0, 0);
        while i < self.index.len() || j < pairs.len() {
            let take_mine =
                j == pairs.len() || (i < self.index.len() && self.index[i] < pairs[j].0);
            let take_theirs =
                i == self.index.len() || (j < pairs.len() && pairs[j].0 < self.index[i]);
            if take_mine {
                index.push(self.index[i]);
                count.push(self.count[i]);
                i += 1;
            } else if take_theirs {
                index.push(pairs[j].0);
                count.push(pairs[j].1);
                j += 1;
            } else {
                index.push(self.index[i]);
                count.push(self.count[i] + pairs[j].1);
                i += 1;
                j += 1;
            }
        }
        self.total += pairs.iter().map(|&(_, n)| n).sum::<u64>();
        self.index = index;
        self.count = count;
    }

    /// The value at quantile `q` (0.0–1.0): the highest value of the bucket holding the
    /// `ceil(q × total)`-th value, as `hdrhistogram` reports it. `None` when empty.
    pub fn value_at_quantile(&self, q: f64) -> Option<u64> {
        if self.is_empty() {
            return None;
        }
        let q = if q.is_nan() { 0.0 } else { q.clamp(0.0, 1.0) };
        let rank = ((q * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &n) in self.index.iter().zip(&self.count) {
            seen += n;
            if seen >= rank {
                return Some(bucket_high(*i));
            }
        }
        self.index.last().map(|&i| bucket_high(i))
    }

    /// The lowest recorded value, at bucket precision (the bucket's low end).
    pub fn min(&self) -> Option<u64> {
        self.index.first().map(|&i| bucket_low(i))
    }

    /// The highest recorded value, at bucket precision (the bucket's high end).
    pub fn max(&self) -> Option<u64> {
        self.index.last().map(|&i| bucket_high(i))
    }

    /// The mean, from bucket midpoints.
    pub fn mean(&self) -> Option<f64> {
        if self.is_empty() {
            return None;
        }
        let sum: f64 = self
            .index
            .iter()
            .zip(&self.count)
            .map(|(&i, &n)| bucket_mid(i) * n as f64)
            .sum();
        Some(sum / self.total as f64)
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.index.capacity() * std::mem::size_of::<u16>()
            + self.count.capacity() * std::mem::size_of::<u64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_contiguously_with_bounded_width() {
        let mut expected_low = 0u64;
        for index in 0..(GROUPS * SUB_COUNT) as u16 {
            let (low, high) = (bucket_low(index), bucket_high(index));
            if index > 0 && low == 0 {
                break;
            }
            assert_eq!(
                low, expected_low,
                "bucket {index} starts where the previous ended"
            );
            assert_eq!(bucket_of(low), index);
            assert_eq!(bucket_of(high), index);
            assert!(
                (high - low) as f64 <= low as f64 / 128.0 + 1.0,
                "bucket {index} is too wide"
            );
            if high == u64::MAX {
                return;
            }
            expected_low = high + 1;
        }
        panic!("buckets did not reach u64::MAX");
    }

    #[test]
    fn drain_moves_every_count_and_empties_the_recorder() {
        let h = AtomicHistogram::new(4);
        for v in [0, 1, 127, 128, 255, 256, 1_000, 1_000_000, u64::MAX] {
            h.record(v);
        }
        h.record_n(1_000, 4);
        let mut c = Counts::new();
        h.drain(&mut c);
        assert_eq!(c.total(), 13);
        assert_eq!(c.max(), Some(u64::MAX));
        assert_eq!(c.min(), Some(0));
        let mut again = Counts::new();
        h.drain(&mut again);
        assert!(again.is_empty());
    }

    #[test]
    fn empty_histogram_has_no_statistics() {
        let c = Counts::new();
        assert_eq!(c.value_at_quantile(0.5), None);
        assert_eq!(c.mean(), None);
        assert_eq!(c.min(), None);
    }
}
