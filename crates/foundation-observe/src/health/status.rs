//! [`HealthStatus`]: pass, warn or fail, as the health+json draft names them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The outcome of one check, or of a whole report. Ordered from best to worst, so the worse
/// of two statuses is their `max`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Healthy.
    #[default]
    Pass,
    /// Healthy, with concerns: degraded but serving.
    Warn,
    /// Unhealthy.
    Fail,
}

impl HealthStatus {
    /// The draft's lower-case name: `pass`, `warn` or `fail`.
    pub const fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Pass => "pass",
            HealthStatus::Warn => "warn",
            HealthStatus::Fail => "fail",
        }
    }

    /// The HTTP status a health endpoint answers with: 200 for pass and warn, 503 for fail.
    pub const fn http_status(self) -> u16 {
        match self {
            HealthStatus::Pass | HealthStatus::Warn => 200,
            HealthStatus::Fail => 503,
        }
    }
}

impl fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
