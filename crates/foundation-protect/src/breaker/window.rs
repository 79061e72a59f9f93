//! Sliding windows of call outcomes: count-based (an atomic ring) and time-based (atomic
//! buckets). Recording is lock-free; a time bucket's rotation takes a short lock.

use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};

use parking_lot::Mutex;
use serde::Serialize;

use super::config::WindowConfig;
use crate::outcome::Outcome;

/// Counted calls in a window, per class. Ignored outcomes are never counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WindowCounts {
    /// Successful calls.
    pub success: u32,
    /// Network failures.
    pub network: u32,
    /// Timeouts.
    pub timeout: u32,
    /// Application failures.
    pub application: u32,
    /// Calls (of any class) slower than the slow-call duration.
    pub slow: u32,
}

impl WindowCounts {
    /// Every counted call.
    pub fn calls(&self) -> u32 {
        self.success + self.failures()
    }

    /// Network + timeout + application failures.
    pub fn failures(&self) -> u32 {
        self.network + self.timeout + self.application
    }

    /// Calls of one class (`0` for [`Outcome::Ignored`]).
    pub fn of(&self, class: Outcome) -> u32 {
        match class {
            Outcome::Success => self.success,
            Outcome::Network => self.network,
            Outcome::Timeout => self.timeout,
            Outcome::Application => self.application,
            Outcome::Ignored => 0,
        }
    }

    /// `part` as a percentage of every counted call (`0` when empty).
    pub fn percent(&self, part: u32) -> f64 {
        match self.calls() {
            0 => 0.0,
            calls => f64::from(part) * 100.0 / f64::from(calls),
        }
    }

    /// The failure rate in percent.
    pub fn failure_rate(&self) -> f64 {
        self.percent(self.failures())
    }

    /// The slow-call rate in percent.
    pub fn slow_rate(&self) -> f64 {
        self.percent(self.slow)
    }

    /// Adds one call.
    pub(crate) fn add(&mut self, class: Outcome, slow: bool) {
        match class {
            Outcome::Success => self.success += 1,
            Outcome::Network => self.network += 1,
            Outcome::Timeout => self.timeout += 1,
            Outcome::Application => self.application += 1,
            Outcome::Ignored => return,
        }
        self.slow += u32::from(slow);
    }
}

/// One call packed in a byte: `0` empty, else `1 + class index`, plus the slow bit.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sample(u8);

const SLOW_BIT: u8 = 0x10;

impl Sample {
    /// A counted call, or `None` for [`Outcome::Ignored`].
    #[inline]
    pub(crate) fn new(class: Outcome, slow: bool) -> Option<Sample> {
        if class == Outcome::Ignored {
            return None;
        }
        Some(Sample(
            (1 + class.index() as u8) | if slow { SLOW_BIT } else { 0 },
        ))
    }

    fn class_slot(self) -> Option<usize> {
        (self.0 & 0x0F).checked_sub(1).map(usize::from)
    }

    fn slow(self) -> bool {
        self.0 & SLOW_BIT != 0
    }
}

/// Atomic per-class counters: `[success, network, timeout, application, slow]`.
#[derive(Default)]
struct Counters([AtomicU32; 5]);

const SLOW_SLOT: usize = 4;

impl Counters {
    #[inline]
    fn add(&self, s: Sample) {
        if let Some(i) = s.class_slot() {
            self.0[i].fetch_add(1, Ordering::Relaxed);
            if s.slow() {
                self.0[SLOW_SLOT].fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    #[inline]
    fn sub(&self, s: Sample) {
        if let Some(i) = s.class_slot() {
            self.0[i].fetch_sub(1, Ordering::Relaxed);
            if s.slow() {
                self.0[SLOW_SLOT].fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    fn load_into(&self, into: &mut WindowCounts) {
        // A racing replace may leave a counter briefly below zero: read it as zero.
        let get = |i: usize| (self.0[i].load(Ordering::Relaxed) as i32).max(0) as u32;
        into.success += get(0);
        into.network += get(1);
        into.timeout += get(2);
        into.application += get(3);
        into.slow += get(SLOW_SLOT);
    }

    fn clear(&self) {
        for c in &self.0 {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// `a % d` by multiplication (Lemire's fastmod); `m` is `fastmod_magic(d)`.
#[inline]
fn fastmod(a: u32, m: u64, d: u32) -> u32 {
    let low = m.wrapping_mul(u64::from(a));
    ((u128::from(low) * u128::from(d)) >> 64) as u32
}

fn fastmod_magic(d: u32) -> u64 {
    (u64::MAX / u64::from(d.max(1))).wrapping_add(1)
}

/// The last `size` calls: a ring of samples and running per-class counters.
///
/// The cursor only ever increases (one `fetch_add` per call, no compare-and-swap loop); its
/// wrap at 2^32 reuses one slot early, which does not matter.
struct CountWindow {
    slots: Box<[AtomicU8]>,
    magic: u64,
    cursor: AtomicU32,
    counters: Counters,
}

impl CountWindow {
    fn new(size: u32) -> CountWindow {
        let size = size.max(1);
        CountWindow {
            slots: (0..size).map(|_| AtomicU8::new(0)).collect(),
            magic: fastmod_magic(size),
            cursor: AtomicU32::new(0),
            counters: Counters::default(),
        }
    }

    #[inline]
    fn record(&self, s: Sample) {
        let len = self.slots.len() as u32;
        let i = fastmod(self.cursor.fetch_add(1, Ordering::Relaxed), self.magic, len);
        let Some(slot) = self.slots.get(i as usize) else {
            return;
        };
        // Steady state (the same class keeps coming): nothing to write.
        if slot.load(Ordering::Relaxed) == s.0 {
            return;
        }
        let old = Sample(slot.swap(s.0, Ordering::Relaxed));
        if old != s {
            self.counters.sub(old);
            self.counters.add(s);
        }
    }

    fn clear(&self) {
        for s in self.slots.iter() {
            s.store(0, Ordering::Relaxed);
        }
        self.counters.clear();
        self.cursor.store(0, Ordering::Relaxed);
    }
}

/// One slice of a time window. `epoch` is the slice's index since the breaker's start, plus
/// one (`0`: never used).
#[derive(Default)]
struct Bucket {
    epoch: AtomicU64,
    counters: Counters,
}

/// The calls of the last `buckets * width`.
struct TimeWindow {
    width_nanos: u64,
    buckets: Box<[Bucket]>,
    rotation: Mutex<()>,
}

impl TimeWindow {
    fn new(width_nanos: u64, buckets: u32) -> TimeWindow {
        TimeWindow {
            width_nanos: width_nanos.max(1),
            buckets: (0..buckets.max(1)).map(|_| Bucket::default()).collect(),
            rotation: Mutex::new(()),
        }
    }

    fn epoch(&self, now_nanos: u64) -> u64 {
        now_nanos / self.width_nanos + 1
    }

    fn bucket(&self, epoch: u64) -> &Bucket {
        &self.buckets[(epoch % self.buckets.len() as u64) as usize]
    }

    #[inline]
    fn record(&self, s: Sample, now_nanos: u64) {
        let epoch = self.epoch(now_nanos);
        let bucket = self.bucket(epoch);
        if bucket.epoch.load(Ordering::Acquire) != epoch {
            let _rotating = self.rotation.lock();
            if bucket.epoch.load(Ordering::Acquire) < epoch {
                bucket.counters.clear();
                bucket.epoch.store(epoch, Ordering::Release);
            }
        }
        bucket.counters.add(s);
    }

    fn counts(&self, now_nanos: u64) -> WindowCounts {
        let current = self.epoch(now_nanos);
        let oldest = current.saturating_sub(self.buckets.len() as u64 - 1);
        let mut out = WindowCounts::default();
        for b in self.buckets.iter() {
            let e = b.epoch.load(Ordering::Acquire);
            if e >= oldest && e <= current && e != 0 {
                b.counters.load_into(&mut out);
            }
        }
        out
    }

    fn clear(&self) {
        let _rotating = self.rotation.lock();
        for b in self.buckets.iter() {
            b.epoch.store(0, Ordering::Release);
            b.counters.clear();
        }
    }
}

/// A sliding window of either kind.
pub(crate) struct Window {
    shape: WindowConfig,
    kind: WindowKind,
}

enum WindowKind {
    Count(CountWindow),
    Time(TimeWindow),
}

impl Window {
    /// An empty window of the configured shape.
    pub(crate) fn new(shape: WindowConfig) -> Window {
        let kind = match shape {
            WindowConfig::Count { size } => WindowKind::Count(CountWindow::new(size)),
            WindowConfig::Time { duration, buckets } => {
                let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
                WindowKind::Time(TimeWindow::new(nanos / u64::from(buckets.max(1)), buckets))
            }
        };
        Window { shape, kind }
    }

    /// Records `counts` as if they had just happened (used when reconfiguration changes the
    /// shape). A count window keeps at most its size; a time window puts them in `now`'s
    /// bucket.
    pub(crate) fn seed(&self, counts: WindowCounts, now_nanos: u64) {
        let mut slow_left = counts.slow;
        let cap = match self.shape {
            WindowConfig::Count { size } => size,
            WindowConfig::Time { .. } => u32::MAX,
        };
        let mut written = 0u32;
        for class in [
            Outcome::Success,
            Outcome::Network,
            Outcome::Timeout,
            Outcome::Application,
        ] {
            for _ in 0..counts.of(class) {
                if written == cap {
                    return;
                }
                let slow = slow_left > 0;
                slow_left -= u32::from(slow);
                if let Some(s) = Sample::new(class, slow) {
                    self.record(s, now_nanos);
                }
                written += 1;
            }
        }
    }

    /// The configured shape.
    pub(crate) fn shape(&self) -> WindowConfig {
        self.shape
    }

    /// Whether recording needs the current time.
    #[inline]
    pub(crate) fn needs_time(&self) -> bool {
        matches!(self.kind, WindowKind::Time(_))
    }

    /// Records one call. `now_nanos` is only read by time windows.
    #[inline]
    pub(crate) fn record(&self, s: Sample, now_nanos: u64) {
        match &self.kind {
            WindowKind::Count(w) => w.record(s),
            WindowKind::Time(w) => w.record(s, now_nanos),
        }
    }

    /// The counts in the window as of `now_nanos`.
    pub(crate) fn counts(&self, now_nanos: u64) -> WindowCounts {
        match &self.kind {
            WindowKind::Count(w) => {
                let mut out = WindowCounts::default();
                w.counters.load_into(&mut out);
                out
            }
            WindowKind::Time(w) => w.counts(now_nanos),
        }
    }

    /// Forgets every call.
    pub(crate) fn clear(&self) {
        match &self.kind {
            WindowKind::Count(w) => w.clear(),
            WindowKind::Time(w) => w.clear(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn s(class: Outcome) -> Sample {
        Sample::new(class, false).unwrap()
    }

    #[test]
    fn fastmod_is_modulo() {
        for d in [1u32, 2, 3, 7, 10, 100, 4095, 100_000, u32::MAX] {
            let m = fastmod_magic(d);
            for a in [
                0u32,
                1,
                2,
                9,
                10,
                11,
                99_999,
                1 << 31,
                u32::MAX - 1,
                u32::MAX,
            ] {
                assert_eq!(fastmod(a, m, d), a % d, "{a} % {d}");
            }
        }
    }

    #[test]
    fn count_window_keeps_only_the_last_n_calls() {
        let w = Window::new(WindowConfig::Count { size: 4 });
        for _ in 0..4 {
            w.record(s(Outcome::Network), 0);
        }
        assert_eq!(w.counts(0).network, 4);
        for _ in 0..3 {
            w.record(s(Outcome::Success), 0);
        }
        let c = w.counts(0);
        assert_eq!((c.network, c.success, c.calls()), (1, 3, 4));
        w.record(Sample::new(Outcome::Timeout, true).unwrap(), 0);
        let c = w.counts(0);
        assert_eq!((c.network, c.timeout, c.slow, c.calls()), (0, 1, 1, 4));
    }

    #[test]
    fn time_window_forgets_buckets_older_than_the_window() {
        let shape = WindowConfig::Time {
            duration: Duration::from_secs(10),
            buckets: 10,
        };
        let w = Window::new(shape);
        let sec = 1_000_000_000u64;
        w.record(s(Outcome::Network), 0);
        w.record(s(Outcome::Success), 5 * sec);
        assert_eq!(w.counts(9 * sec).calls(), 2);
        assert_eq!(w.counts(10 * sec).calls(), 1, "the first second has left");
        w.record(s(Outcome::Timeout), 15 * sec);
        let c = w.counts(15 * sec);
        assert_eq!((c.success, c.timeout), (0, 1));
        assert_eq!(w.counts(40 * sec).calls(), 0);
    }

    #[test]
    fn seeding_caps_at_the_new_size() {
        let counts = WindowCounts {
            success: 5,
            network: 5,
            timeout: 0,
            application: 0,
            slow: 2,
        };
        let w = Window::new(WindowConfig::Count { size: 8 });
        w.seed(counts, 0);
        let c = w.counts(0);
        assert_eq!((c.success, c.network, c.slow), (5, 3, 2));
    }
}
