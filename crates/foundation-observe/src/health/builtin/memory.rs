//! [`MemoryCheck`]: the memory pressure a [`MemoryGate`] reports.

use std::sync::Arc;

use foundation_core::{Result, Validate, Validator};
use foundation_protect::protection::{MemoryGate, PressureLevel};
use serde::{Deserialize, Serialize};

use super::grade;
use crate::health::check::{HealthCheck, Observation};

/// Thresholds of [`MemoryCheck`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryCheckConfig {
    /// Warn from this level (default `high`; above `low`).
    pub warn_at: PressureLevel,
    /// Fail from this level (default `critical`, where the protection facade refuses new
    /// work; not below `warn_at`).
    pub fail_at: PressureLevel,
}

impl Default for MemoryCheckConfig {
    fn default() -> Self {
        MemoryCheckConfig {
            warn_at: PressureLevel::High,
            fail_at: PressureLevel::Critical,
        }
    }
}

impl Validate for MemoryCheckConfig {
    fn validate_into(&self, v: &mut Validator) {
        v.check(
            self.warn_at > PressureLevel::Low,
            "warn_at",
            "must be above low (low would always warn)",
        );
        v.check(
            self.fail_at >= self.warn_at,
            "fail_at",
            format_args!(
                "must not be below warn_at ({}), got {}",
                self.warn_at.as_str(),
                self.fail_at.as_str()
            ),
        );
    }
}

/// `memory:pressure` (component type `system`): the gate's current level.
pub struct MemoryCheck {
    gate: Arc<dyn MemoryGate>,
    config: MemoryCheckConfig,
}

impl std::fmt::Debug for MemoryCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryCheck")
            .field("config", &self.config)
            .finish()
    }
}

impl MemoryCheck {
    /// A check of `gate` (the memory manager, or a `ManualGate`); `INVALID_CONFIG` naming
    /// the field.
    pub fn new(gate: Arc<dyn MemoryGate>, config: MemoryCheckConfig) -> Result<MemoryCheck> {
        config.validate()?;
        Ok(MemoryCheck { gate, config })
    }
}

impl HealthCheck for MemoryCheck {
    fn component(&self) -> &str {
        "memory"
    }

    fn measurement(&self) -> &str {
        "pressure"
    }

    fn component_type(&self) -> &str {
        "system"
    }

    async fn check(&self) -> Observation {
        let level = self.gate.level();
        let status = grade(level, self.config.warn_at, Some(self.config.fail_at));
        Observation::with_status(status)
            .value(level.as_str())
            .output(format!("memory pressure is {}", level.as_str()))
    }
}
