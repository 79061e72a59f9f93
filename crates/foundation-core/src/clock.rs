//! The injectable clock.
//!
//! Every time-dependent component takes a [`Clock`] (default: [`Clock::tokio`]), so tests can
//! drive time with a paused tokio runtime or with a [`ManualClock`] and never sleep on the wall
//! clock.
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

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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

    /// The current instant.
    #[inline]
    pub fn now(&self) -> Instant {
        match &self.kind {
            Kind::Tokio => tokio::time::Instant::now().into_std(),
            Kind::System => Instant::now(),
            Kind::Manual(m) => {
                m.base + Duration::from_nanos(m.offset_nanos.load(Ordering::Acquire))
            }
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
            Kind::Manual(_) => "Clock::Manual",
        })
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
        self.state.offset_nanos.fetch_add(nanos, Ordering::AcqRel);
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
