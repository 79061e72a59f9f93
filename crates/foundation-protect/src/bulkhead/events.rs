//! Telemetry events published by [`Bulkhead`](super::Bulkhead).

use std::sync::Arc;
use std::time::Duration;

use foundation_core::Event;

/// Why a call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// Every slot was taken and the waiting line was full (`BULKHEAD_FULL`).
    Full,
    /// The call waited `max_wait` without getting a slot (`BULKHEAD_WAIT_TIMEOUT`).
    WaitTimeout,
}

/// `foundation.bulkhead.rejected`: a call was refused.
#[derive(Debug, Clone)]
pub struct BulkheadRejected {
    /// The bulkhead's name.
    pub bulkhead: Arc<str>,
    /// Why.
    pub reason: RejectReason,
    /// Calls in flight at the time.
    pub in_flight: usize,
    /// Calls waiting at the time.
    pub waiting: usize,
}

impl Event for BulkheadRejected {
    fn name(&self) -> &'static str {
        "foundation.bulkhead.rejected"
    }
    fn source(&self) -> &str {
        &self.bulkhead
    }
}

/// `foundation.bulkhead.limits_changed`: the limits were changed at run time.
#[derive(Debug, Clone)]
pub struct BulkheadLimitsChanged {
    /// The bulkhead's name.
    pub bulkhead: Arc<str>,
    /// The new `max_concurrent`.
    pub max_concurrent: usize,
    /// The new `max_waiting`.
    pub max_waiting: usize,
    /// The new `max_wait`.
    pub max_wait: Duration,
}

impl Event for BulkheadLimitsChanged {
    fn name(&self) -> &'static str {
        "foundation.bulkhead.limits_changed"
    }
    fn source(&self) -> &str {
        &self.bulkhead
    }
}
