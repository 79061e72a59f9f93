//! Wall-clock time for stored rows, read from an injectable [`Clock`].
//!
//! Rows carry times as milliseconds since the Unix epoch (run-at, lease deadlines, event
//! timestamps). They come from a [`WallTime`]: the system time read once when the store opens,
//! moved forward by the store's monotonic [`Clock`]. Tests give the store a
//! [`ManualClock`](foundation_core::ManualClock) and move time by hand; production uses the
//! system clock. Nodes sharing one PostgreSQL database compare each other's lease deadlines, so
//! their clocks should be synchronised (NTP); a lease is only as exact as that.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use foundation_core::Clock;

/// Milliseconds since the Unix epoch, following a monotonic clock.
#[derive(Clone)]
pub(crate) struct WallTime {
    clock: Clock,
    base: Instant,
    base_ms: i64,
}

impl WallTime {
    /// Anchors the wall time at the system time now.
    pub(crate) fn new(clock: Clock) -> WallTime {
        let base_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        WallTime {
            base: clock.now(),
            clock,
            base_ms,
        }
    }

    /// The current time in milliseconds since the Unix epoch.
    pub(crate) fn now_ms(&self) -> i64 {
        let elapsed = self.clock.now().saturating_duration_since(self.base);
        self.base_ms
            .saturating_add(i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
    }
}

impl std::fmt::Debug for WallTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WallTime")
            .field("now_ms", &self.now_ms())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use foundation_core::ManualClock;
    use std::time::Duration;

    #[test]
    fn wall_time_follows_the_injected_clock() {
        let manual = ManualClock::new();
        let wall = WallTime::new(manual.clock());
        let t0 = wall.now_ms();
        assert!(t0 > 1_600_000_000_000, "anchored at the system time");
        manual.advance(Duration::from_millis(1_500));
        assert_eq!(wall.now_ms() - t0, 1_500);
    }
}
