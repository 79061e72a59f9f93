//! The injectable clock.
//!
//! Every time-dependent component takes a [`Clock`] (default: [`Clock::tokio`]), so tests can
//! drive time with a paused tokio runtime or with a [`ManualClock`] and never sleep on the wall
//! clock.
//!
//! The clocks:
//! - [`Clock::tokio`] (the default): tokio's clock, which follows `tokio::time::pause` and
//!   `advance` in tests and is the system clock otherwise.
//! - [`Clock::system`]: the OS monotonic clock (`std::time::Instant::now`).
//! - [`Clock::fast`]: the CPU's time-stamp counter through the `quanta` crate, several times
//!   cheaper to read than the OS clock. This is the production choice for components that read
//!   the clock on every call (the rate limiter's `check`, the circuit breaker's time-based
//!   window, the `Protection` facade composing them), where the OS clock read dominates the
//!   cost. It ignores tokio's paused time, so keep the default in tests.
//! - [`ManualClock`]: moves only when told to, for synchronous tests.
//!
//! Every clock returns `std::time::Instant`s, so callers never change when the clock does.
//! Hot paths that keep time as `u64` nanoseconds in atomics read a [`Stopwatch`] instead: the
//! same clock, with no `Instant` arithmetic per read on the fast and manual clocks.
//!
//! ```
//! use foundation_core::{Clock, ManualClock};
//! use std::time::Duration;
//!
//! let manual = ManualClock::new();
//! let clock: Clock = manual.clock();
//! let t0 = clock.now();
//! manual.advance(Duration::from_secs(5));
//! assert_eq!(clock.now() - t0, Duration::from_secs(5));
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// A source of monotonic time. Cheap to clone.
#[derive(Clone, Default)]
pub struct Clock {
    kind: Kind,
}

#[derive(Clone, Default)]
enum Kind {
    #[default]
    Tokio,
    System,
    Fast(&'static FastSource),
    Manual(Arc<ManualState>),
}

impl Clock {
    /// Tokio's clock: follows `tokio::time::pause`/`advance` in tests, the system clock
    /// otherwise. This is the default.
    pub fn tokio() -> Clock {
        Clock { kind: Kind::Tokio }
    }

    /// The system's monotonic clock, ignoring tokio's paused time.
    pub fn system() -> Clock {
        Clock { kind: Kind::System }
    }

    /// The CPU's time-stamp counter (TSC on x86-64, the generic timer on aarch64) read through
    /// `quanta`, scaled to nanoseconds and returned as a `std::time::Instant`: several times
    /// cheaper than the OS clock, for hot paths that read the clock on every call.
    ///
    /// Trade-offs:
    /// - The first call in a process calibrates the counter against the OS clock, which can
    ///   take up to 200 ms (later calls, and their clones, share that calibration). Build it
    ///   at start-up, not on a request path.
    /// - Where the counter is unreliable (x86-64 without an invariant TSC or `rdtscp`, or any
    ///   other architecture) `quanta` falls back to the OS monotonic clock, so this is never
    ///   worse than [`Clock::system`] by more than a branch.
    /// - Instants are the process start-up's OS instant plus the scaled counter's elapsed
    ///   time, so they are ordered among themselves but may drift from `Instant::now()` by
    ///   the calibration error (parts per million) over a long-running process: compare them
    ///   with instants from the same clock.
    /// - It does not follow tokio's paused time: tests keep [`Clock::tokio`] (the default) or
    ///   use a [`ManualClock`].
    pub fn fast() -> Clock {
        Clock {
            kind: Kind::Fast(FastSource::get()),
        }
    }

    /// The current instant.
    #[inline]
    pub fn now(&self) -> Instant {
        match &self.kind {
            Kind::Tokio => tokio::time::Instant::now().into_std(),
            Kind::System => Instant::now(),
            Kind::Fast(fast) => fast.now(),
            Kind::Manual(m) => {
                m.base + Duration::from_nanos(m.offset_nanos.load(Ordering::Acquire))
            }
        }
    }

    /// A [`Stopwatch`] started now on this clock.
    pub fn stopwatch(&self) -> Stopwatch {
        // One read gives both the start instant and the clock's own count at that instant.
        let (base, start_nanos) = match &self.kind {
            Kind::Fast(fast) => (fast.base, fast.nanos()),
            Kind::Manual(m) => (m.base, m.offset_nanos.load(Ordering::Acquire)),
            Kind::Tokio | Kind::System => (self.now(), 0),
        };
        Stopwatch {
            start: base + Duration::from_nanos(start_nanos),
            start_nanos,
            clock: self.clone(),
        }
    }

    /// Whether this clock is driven by hand (a [`ManualClock`]).
    pub fn is_manual(&self) -> bool {
        matches!(self.kind, Kind::Manual(_))
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.kind {
            Kind::Tokio => "Clock::Tokio",
            Kind::System => "Clock::System",
            Kind::Fast(_) => "Clock::Fast",
            Kind::Manual(_) => "Clock::Manual",
        })
    }
}

/// The process-wide calibrated counter and the OS instant its zero maps to.
struct FastSource {
    counter: quanta::Clock,
    base_raw: u64,
    base: Instant,
}

impl FastSource {
    fn get() -> &'static FastSource {
        static SOURCE: OnceLock<FastSource> = OnceLock::new();
        SOURCE.get_or_init(|| {
            let counter = quanta::Clock::new();
            let base_raw = counter.raw();
            FastSource {
                counter,
                base_raw,
                base: Instant::now(),
            }
        })
    }

    /// Nanoseconds since `base`: one counter read and one multiply-shift.
    #[inline]
    fn nanos(&self) -> u64 {
        self.counter
            .delta_as_nanos(self.base_raw, self.counter.raw())
    }

    #[inline]
    fn now(&self) -> Instant {
        self.base + Duration::from_nanos(self.nanos())
    }
}

/// Time elapsed on a [`Clock`] since a fixed start, read as `u64` nanoseconds: the form hot
/// paths keep in atomics. On [`Clock::fast`] and a [`ManualClock`] a read is the clock's own
/// nanosecond count minus the start's, with no `Instant` arithmetic; on the other clocks it is
/// `now - start` in nanoseconds. Cheap to clone; clones share the start.
///
/// ```
/// use foundation_core::ManualClock;
/// use std::time::Duration;
///
/// let manual = ManualClock::new();
/// let watch = manual.clock().stopwatch();
/// manual.advance(Duration::from_micros(7));
/// assert_eq!(watch.elapsed_nanos(), 7_000);
/// assert_eq!(watch.start() + Duration::from_micros(7), manual.now());
/// ```
#[derive(Clone, Debug)]
pub struct Stopwatch {
    clock: Clock,
    start: Instant,
    /// The clock's own nanosecond count at `start` (fast and manual clocks only).
    start_nanos: u64,
}

impl Stopwatch {
    /// Nanoseconds since the start, saturating at 0 and at `u64::MAX` (584 years).
    #[inline]
    pub fn elapsed_nanos(&self) -> u64 {
        match &self.clock.kind {
            Kind::Fast(fast) => fast.nanos().saturating_sub(self.start_nanos),
            Kind::Manual(m) => m
                .offset_nanos
                .load(Ordering::Acquire)
                .saturating_sub(self.start_nanos),
            Kind::Tokio | Kind::System => {
                let elapsed = self.clock.now().saturating_duration_since(self.start);
                u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
            }
        }
    }

    /// The instant the stopwatch started.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// The clock it reads.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }
}

struct ManualState {
    base: Instant,
    offset_nanos: AtomicU64,
}

/// A clock that moves only when told to. Clones share the same time.
#[derive(Clone)]
pub struct ManualClock {
    state: Arc<ManualState>,
}

impl ManualClock {
    /// A manual clock starting at the current system instant.
    pub fn new() -> ManualClock {
        ManualClock {
            state: Arc::new(ManualState {
                base: Instant::now(),
                offset_nanos: AtomicU64::new(0),
            }),
        }
    }

    /// A [`Clock`] reading this manual clock.
    pub fn clock(&self) -> Clock {
        Clock {
            kind: Kind::Manual(self.state.clone()),
        }
    }

    /// Moves time forward.
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        // Saturate: time never wraps around to go backwards.
        let _ = self
            .state
            .offset_nanos
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                Some(t.saturating_add(nanos))
            });
    }

    /// The current instant.
    pub fn now(&self) -> Instant {
        self.clock().now()
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_paused_time() {
        let clock = Clock::tokio();
        let t0 = clock.now();
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(clock.now() - t0, Duration::from_secs(60));
    }

    #[test]
    fn fast_clock_reads_are_ordered() {
        let clock = Clock::fast();
        let mut last = clock.now();
        for _ in 0..10_000 {
            let now = clock.now();
            assert!(now >= last, "the fast clock went backwards");
            last = now;
        }
    }

    #[test]
    fn fast_clock_agrees_with_the_system_clock() {
        // Bracketing: the system clock's reads enclose the fast clock's, so the fast clock's
        // elapsed time around the busy loop can exceed the system's only by calibration error
        // and the counter's own granularity, both far below the 1 ms slack allowed here, and
        // no scheduling delay can break the ordering.
        let fast = Clock::fast();
        let system = Clock::system();
        let s0 = system.now();
        let f0 = fast.now();
        let mut x = 0u64;
        for i in 0..100_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        let f1 = fast.now();
        let s1 = system.now();
        let fast_elapsed = f1 - f0;
        let system_elapsed = s1 - s0;
        assert!(fast_elapsed <= system_elapsed + Duration::from_millis(1));
        assert!(
            f1 > f0,
            "a busy loop of 100 000 steps took no time on the fast clock"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn fast_clock_ignores_paused_time() {
        let clock = Clock::fast();
        let t0 = clock.now();
        tokio::time::advance(Duration::from_secs(3_600)).await;
        assert!(clock.now() - t0 < Duration::from_secs(3_600));
    }

    #[test]
    fn fast_clones_share_one_source() {
        let a = Clock::fast();
        let b = a.clone();
        let t0 = a.now();
        assert!(b.now() >= t0);
        assert_eq!(format!("{:?}", Clock::fast()), "Clock::Fast");
        assert!(!a.is_manual());
    }

    #[test]
    fn fast_stopwatch_matches_the_fast_instants() {
        // Read in the order instant, nanos, instant: the stopwatch's reading lies between.
        let clock = Clock::fast();
        let watch = clock.stopwatch();
        let before = clock.now() - watch.start();
        let nanos = watch.elapsed_nanos();
        let after = clock.now() - watch.start();
        assert!(before <= Duration::from_nanos(nanos));
        assert!(Duration::from_nanos(nanos) <= after);
    }

    #[tokio::test(start_paused = true)]
    async fn tokio_stopwatch_follows_paused_time() {
        let watch = Clock::tokio().stopwatch();
        tokio::time::advance(Duration::from_millis(1_500)).await;
        assert_eq!(watch.elapsed_nanos(), 1_500_000_000);
    }

    #[test]
    fn manual_stopwatch_counts_from_its_start() {
        let m = ManualClock::new();
        m.advance(Duration::from_secs(2));
        let watch = m.clock().stopwatch();
        assert_eq!(watch.elapsed_nanos(), 0);
        m.advance(Duration::from_nanos(42));
        assert_eq!(watch.clone().elapsed_nanos(), 42);
        assert!(watch.clock().is_manual());
    }

    #[test]
    fn manual_time_saturates_instead_of_wrapping() {
        let m = ManualClock::new();
        let t0 = m.now();
        m.advance(Duration::from_nanos(u64::MAX - 1));
        m.advance(Duration::from_secs(10));
        assert!(m.now() >= t0 + Duration::from_nanos(u64::MAX - 1));
    }

    #[test]
    fn manual_clones_share_time() {
        let m = ManualClock::new();
        let a = m.clock();
        let b = m.clone().clock();
        let t0 = a.now();
        m.advance(Duration::from_millis(3));
        assert_eq!(b.now() - t0, Duration::from_millis(3));
        assert!(a.is_manual());
    }
}
