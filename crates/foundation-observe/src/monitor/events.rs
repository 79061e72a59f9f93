//! What the monitor publishes on the telemetry bus.

use foundation_core::telemetry::Event;

use super::operation::OperationKey;
use super::threshold::{Breach, ThresholdId};

/// An operation started breaching a threshold (`foundation.monitor.threshold_breached`).
#[derive(Debug, Clone)]
pub struct ThresholdBreached {
    /// The operation.
    pub operation: OperationKey,
    /// The breach.
    pub breach: Breach,
}

impl Event for ThresholdBreached {
    fn name(&self) -> &'static str {
        "foundation.monitor.threshold_breached"
    }

    fn source(&self) -> &str {
        self.operation.name()
    }
}

/// An operation stopped breaching a threshold (`foundation.monitor.threshold_cleared`).
#[derive(Debug, Clone)]
pub struct ThresholdCleared {
    /// The operation.
    pub operation: OperationKey,
    /// The threshold no longer breached.
    pub threshold: ThresholdId,
}

impl Event for ThresholdCleared {
    fn name(&self) -> &'static str {
        "foundation.monitor.threshold_cleared"
    }

    fn source(&self) -> &str {
        self.operation.name()
    }
}
