//! Telemetry the aggregator publishes.

use foundation_core::telemetry::Event;

use super::status::HealthStatus;

/// `foundation.health.status_changed`: a check's new result has a different status from its
/// previous one (or is its first result and not `pass`). Alerting subscribes to this.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthChanged {
    /// The check's key, `component:measurement`.
    pub check: String,
    /// The previous status; `None` for the check's first result.
    pub from: Option<HealthStatus>,
    /// The new status.
    pub to: HealthStatus,
    /// The new result's output.
    pub output: Option<String>,
    /// Whether the check is critical.
    pub critical: bool,
}

impl Event for HealthChanged {
    fn name(&self) -> &'static str {
        "foundation.health.status_changed"
    }

    fn source(&self) -> &str {
        &self.check
    }
}
