//! Telemetry events published by the config.

use foundation_core::Event;

/// `foundation.config.applied`: a change was applied as `version`.
#[derive(Debug, Clone)]
pub struct ConfigApplied {
    /// The config's name.
    pub config: String,
    /// The version now in effect.
    pub version: u64,
    /// How many values changed.
    pub changes: usize,
}

impl Event for ConfigApplied {
    fn name(&self) -> &'static str {
        "foundation.config.applied"
    }
    fn source(&self) -> &str {
        &self.config
    }
}

/// `foundation.config.refused`: a change (a reload, an API call, a rollback) was refused and
/// the running config kept.
#[derive(Debug, Clone)]
pub struct ConfigRefused {
    /// The config's name.
    pub config: String,
    /// The error, secrets redacted.
    pub error: String,
}

impl Event for ConfigRefused {
    fn name(&self) -> &'static str {
        "foundation.config.refused"
    }
    fn source(&self) -> &str {
        &self.config
    }
}

/// `foundation.config.reconfigure_failed`: a bound component refused (or panicked on) a new
/// value.
#[derive(Debug, Clone)]
pub struct ReconfigureFailed {
    /// The section's path.
    pub path: String,
    /// The component's error.
    pub error: String,
}

impl Event for ReconfigureFailed {
    fn name(&self) -> &'static str {
        "foundation.config.reconfigure_failed"
    }
    fn source(&self) -> &str {
        &self.path
    }
}
