//! Wall-clock time for stored rows, read from an injectable [`Clock`].
//!
//! Rows carry times as milliseconds since the Unix epoch (run-at, lease deadlines, event
//! timestamps). They come from a [`WallTime`]: by default the system time, read on every call
//! (so an NTP correction after the store opened is followed). Tests give the store a
//! [`ManualClock`](foundation_core::ManualClock) instead: the system time read once when the
//! store opens, moved forward only by that clock. Nodes sharing one PostgreSQL database compare
//! each other's lease deadlines, so their clocks should be synchronised (NTP); a lease is only
//! as exact as that.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use foundation_core::Clock;

/// Milliseconds since the Unix epoch: the system's, or following an injected clock.
#[derive(Clone)]
pub(crate) enum WallTime {
    /// The system time, read on every call.
    System,
    /// The system time at `base`, moved forward by `clock`.
    Anchored {
        clock: Clock,
        base: Instant,
        base_ms: i64,
    },
}

fn system_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl WallTime {
    /// Anchors the wall time at the system time now, moved forward by `clock` from here on.
    pub(crate) fn anchored(clock: Clock) -> WallTime {
        WallTime::Anchored {
            base: clock.now(),
            clock,
            base_ms: system_ms(),
        }
    }

    /// The current time in milliseconds since the Unix epoch.
    pub(crate) fn now_ms(&self) -> i64 {
        match self {
            WallTime::System => system_ms(),
            WallTime::Anchored {
                clock,
                base,
                base_ms,
            } => {
                let elapsed = clock.now().saturating_duration_since(*base);
                base_ms.saturating_add(i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
            }
        }
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
        let wall = WallTime::anchored(manual.clock());
        let t0 = wall.now_ms();
        assert!(t0 > 1_600_000_000_000, "anchored at the system time");
        manual.advance(Duration::from_millis(1_500));
        assert_eq!(wall.now_ms() - t0, 1_500);
    }
}
