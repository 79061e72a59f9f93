//! [`CheckRecord`]: one run of a check, with when it ran; and the wall-clock anchor that
//! turns the aggregator's clock into the draft's `time`.

use std::time::{Duration, Instant, SystemTime};

use foundation_core::Clock;

use super::check::Observation;
use super::status::HealthStatus;

/// One run of a check: what it observed, when, and how long it took.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckRecord {
    /// What the check observed (a timeout or a panic is a `fail` saying so).
    pub observation: Observation,
    /// When the run finished, on the aggregator's clock.
    pub at: Instant,
    /// When the run finished, in wall-clock time (the draft's `time`).
    pub time: SystemTime,
    /// How long the run took, on the aggregator's clock.
    pub duration: Duration,
}

impl CheckRecord {
    /// The run's status.
    pub fn status(&self) -> HealthStatus {
        self.observation.status
    }

    /// The draft's `time`: RFC 3339 in UTC with milliseconds.
    pub fn time_rfc3339(&self) -> String {
        chrono::DateTime::<chrono::Utc>::from(self.time)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }
}

/// The aggregator's clock plus the wall-clock time of one of its instants, so records carry
/// both a monotonic instant (for TTLs) and a wall time (for the report).
#[derive(Debug, Clone)]
pub(crate) struct Timebase {
    pub(crate) clock: Clock,
    anchor: Instant,
    anchor_wall: SystemTime,
}

impl Timebase {
    /// Anchors `clock` to the system time now.
    pub(crate) fn new(clock: Clock) -> Timebase {
        Timebase {
            anchor: clock.now(),
            anchor_wall: SystemTime::now(),
            clock,
        }
    }

    /// A record of `observation` from a run that started at `started` and finishes now.
    pub(crate) fn record(&self, observation: Observation, started: Instant) -> CheckRecord {
        let at = self.clock.now();
        CheckRecord {
            observation,
            at,
            time: self.wall(at),
            duration: at.saturating_duration_since(started),
        }
    }

    /// The wall-clock time of `at`, an instant of this clock.
    pub(crate) fn wall(&self, at: Instant) -> SystemTime {
        if at >= self.anchor {
            self.anchor_wall + (at - self.anchor)
        } else {
            self.anchor_wall - (self.anchor - at)
        }
    }
}
