//! [`BreakerStatus`]: a point-in-time snapshot for operators, dashboards and health checks.

use std::time::{Duration, Instant};

use serde::{Serialize, Serializer};

use super::callers::CallerStatus;
use super::state::{BreakerState, TransitionReason};
use super::window::WindowCounts;

/// A snapshot of one breaker.
#[derive(Debug, Clone, Serialize)]
pub struct BreakerStatus {
    /// The breaker's name.
    pub name: String,
    /// Its state.
    pub state: BreakerState,
    /// While the recovery ramp runs: the percentage of calls currently admitted.
    pub ramp_percent: Option<f64>,
    /// Counted calls in the sliding window, per class.
    pub window: WindowCounts,
    /// Failures in the window, in percent of counted calls.
    pub failure_rate: f64,
    /// Slow calls in the window, in percent of counted calls.
    pub slow_rate: f64,
    /// While open: how long until probing may begin.
    #[serde(rename = "open_remaining_ms", serialize_with = "opt_ms")]
    pub open_remaining: Option<Duration>,
    /// Consecutive trips without a completed recovery (drives the open-duration backoff).
    pub consecutive_trips: u32,
    /// While half-open: the probe round.
    pub probes: Option<ProbeStatus>,
    /// The most recent state change.
    pub last_transition: Option<TransitionRecord>,
    /// Cumulative counts per caller (see
    /// [`CircuitBreaker::try_acquire_for`](super::CircuitBreaker::try_acquire_for)).
    pub callers: Vec<CallerStatus>,
}

/// The current half-open probe round.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ProbeStatus {
    /// Probe slots taken (running or finished).
    pub reserved: u32,
    /// Probes finished.
    pub finished: u32,
    /// Probes the round needs before deciding.
    pub required: u32,
    /// Outcomes of the finished probes.
    pub counts: WindowCounts,
}

/// One state change.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TransitionRecord {
    /// The state before.
    pub from: BreakerState,
    /// The state after.
    pub to: BreakerState,
    /// Why.
    pub reason: TransitionReason,
    /// When, on the breaker's clock.
    #[serde(skip)]
    pub at: Instant,
    /// How long before the snapshot.
    #[serde(rename = "ago_ms", serialize_with = "ms")]
    pub ago: Duration,
}

fn ms<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn opt_ms<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => ms(d, s),
        None => s.serialize_none(),
    }
}
