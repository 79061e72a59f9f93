//! The memory manager's configuration.

use std::time::Duration;

use foundation_core::{Validate, Validator};
use serde::{Deserialize, Serialize};

/// How the memory manager samples and when it calls a level.
///
/// Thresholds are fractions of the limit (`0.85` = 85 %). A level is entered when usage
/// reaches its threshold and left only once usage falls below its threshold minus
/// `hysteresis`, so usage hovering around a threshold does not flap the level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryConfig {
    /// How often the background sampler reads memory.
    #[serde(rename = "interval_ms", with = "foundation_core::millis")]
    pub interval: Duration,
    /// The limit to use when the process has no cgroup `memory.max`; without either, the
    /// machine's total memory (`/proc/meminfo` `MemTotal`).
    pub limit_bytes: Option<u64>,
    /// Usage fraction of the limit at which the level becomes medium.
    pub medium: f64,
    /// Usage fraction at which the level becomes high.
    pub high: f64,
    /// Usage fraction at which the level becomes critical.
    pub critical: f64,
    /// How far below a level's threshold usage must fall to leave that level.
    pub hysteresis: f64,
    /// While the level stays high or critical, cleanup runs again at most this often.
    #[serde(rename = "cleanup_interval_ms", with = "foundation_core::millis")]
    pub cleanup_interval: Duration,
}

impl Default for MemoryConfig {
    fn default() -> MemoryConfig {
        MemoryConfig {
            interval: Duration::from_secs(5),
            limit_bytes: None,
            medium: 0.70,
            high: 0.85,
            critical: 0.95,
            hysteresis: 0.05,
            cleanup_interval: Duration::from_secs(30),
        }
    }
}

impl Validate for MemoryConfig {
    fn validate_into(&self, v: &mut Validator) {
        v.positive_duration("interval_ms", self.interval)
            .positive_duration("cleanup_interval_ms", self.cleanup_interval);
        if let Some(limit) = self.limit_bytes {
            v.at_least_one("limit_bytes", limit);
        }
        for (field, value) in [
            ("medium", self.medium),
            ("high", self.high),
            ("critical", self.critical),
        ] {
            v.check(
                value.is_finite() && value > 0.0 && value <= 1.0,
                field,
                format_args!("must be within (0, 1], got {value}"),
            );
        }
        v.check(
            self.medium < self.high,
            "medium",
            format_args!("must be below high ({}), got {}", self.high, self.medium),
        )
        .check(
            self.high < self.critical,
            "high",
            format_args!(
                "must be below critical ({}), got {}",
                self.critical, self.high
            ),
        )
        .check(
            self.hysteresis.is_finite() && self.hysteresis >= 0.0 && self.hysteresis < self.medium,
            "hysteresis",
            format_args!(
                "must be within [0, medium ({})), got {}",
                self.medium, self.hysteresis
            ),
        );
    }
}
