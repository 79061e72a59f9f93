//! Telemetry events a breaker publishes on its [`TelemetryBus`](foundation_core::TelemetryBus).
//!
//! Events fire on state changes, rejections, slow calls and probe results — never for an
//! ordinary admitted call. Subscribe to the prefix `foundation.breaker.` to get them all.

use std::sync::Arc;
use std::time::Duration;

use foundation_core::{ErrorCode, Event};

use super::state::{BreakerState, TransitionReason};
use crate::outcome::Outcome;

/// The breaker moved from one state to another.
#[derive(Debug, Clone)]
pub struct StateChanged {
    /// The breaker's name.
    pub breaker: Arc<str>,
    /// The state before.
    pub from: BreakerState,
    /// The state after.
    pub to: BreakerState,
    /// Why.
    pub reason: TransitionReason,
}

impl Event for StateChanged {
    fn name(&self) -> &'static str {
        "foundation.breaker.state_change"
    }
    fn source(&self) -> &str {
        &self.breaker
    }
}

/// The breaker refused a call.
#[derive(Debug, Clone)]
pub struct CallRejected {
    /// The breaker's name.
    pub breaker: Arc<str>,
    /// The state that refused.
    pub state: BreakerState,
    /// The refusal's code (`CIRCUIT_OPEN`, `CIRCUIT_HALF_OPEN_FULL`, ...).
    pub code: ErrorCode,
}

impl Event for CallRejected {
    fn name(&self) -> &'static str {
        "foundation.breaker.call_rejected"
    }
    fn source(&self) -> &str {
        &self.breaker
    }
}

/// A call took at least the slow-call duration.
#[derive(Debug, Clone)]
pub struct SlowCall {
    /// The breaker's name.
    pub breaker: Arc<str>,
    /// How long the call took.
    pub duration: Duration,
    /// How it ended.
    pub outcome: Outcome,
}

impl Event for SlowCall {
    fn name(&self) -> &'static str {
        "foundation.breaker.slow_call"
    }
    fn source(&self) -> &str {
        &self.breaker
    }
}

/// A half-open probe call finished.
#[derive(Debug, Clone)]
pub struct ProbeResult {
    /// The breaker's name.
    pub breaker: Arc<str>,
    /// How the probe ended.
    pub outcome: Outcome,
    /// Probes finished so far in this half-open round, this one included.
    pub finished: u32,
    /// Probes the round needs before deciding.
    pub required: u32,
}

impl Event for ProbeResult {
    fn name(&self) -> &'static str {
        "foundation.breaker.probe_result"
    }
    fn source(&self) -> &str {
        &self.breaker
    }
}
