//! The memory manager's telemetry events.

use foundation_core::telemetry::Event;
use foundation_protect::protection::PressureLevel;

use super::strategy::CleanupReport;

/// `foundation.memory.pressure_changed`: the level moved.
#[derive(Debug, Clone, PartialEq)]
pub struct PressureChanged {
    /// The level before.
    pub from: PressureLevel,
    /// The level now.
    pub to: PressureLevel,
    /// Bytes in use at the sample that moved it.
    pub usage_bytes: u64,
    /// The limit at that sample.
    pub limit_bytes: u64,
}

impl Event for PressureChanged {
    fn name(&self) -> &'static str {
        "foundation.memory.pressure_changed"
    }
}

/// `foundation.memory.cleanup`: a cleanup run finished.
#[derive(Debug, Clone, PartialEq)]
pub struct CleanupCompleted {
    /// What ran and what it freed.
    pub report: CleanupReport,
}

impl Event for CleanupCompleted {
    fn name(&self) -> &'static str {
        "foundation.memory.cleanup"
    }
}
