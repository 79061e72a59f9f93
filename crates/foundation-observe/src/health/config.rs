//! [`HealthConfig`]: the aggregator's service description and defaults.

use std::time::Duration;

use foundation_core::{Validate, Validator};
use serde::{Deserialize, Serialize};

/// The longest timeout or cache TTL accepted: one hour.
const MAX_DURATION: Duration = Duration::from_secs(3_600);

/// The most results kept per check.
pub const MAX_HISTORY: usize = 10_000;

/// The health aggregator's configuration. Durations are milliseconds in serde (`*_ms`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthConfig {
    /// The draft's `serviceId`, reported when set.
    pub service_id: Option<String>,
    /// The draft's `version` (of the service's public interface), reported when set.
    pub version: Option<String>,
    /// The draft's `releaseId` (of the implementation), reported when set.
    pub release_id: Option<String>,
    /// The draft's `description`, reported when set.
    pub description: Option<String>,
    /// The draft's `notes`, reported when not empty.
    pub notes: Vec<String>,
    /// How long one run of a check may take before it fails as timed out, unless the check
    /// sets its own (default 5 s; at most an hour).
    #[serde(rename = "timeout_ms", with = "foundation_core::millis")]
    pub timeout: Duration,
    /// How long a check's result is reused, unless the check sets its own (default 1 s;
    /// zero runs checks on every request; at most an hour).
    #[serde(rename = "cache_ttl_ms", with = "foundation_core::millis")]
    pub cache_ttl: Duration,
    /// How many results are kept per check (default 20; 1 to [`MAX_HISTORY`]).
    pub history: usize,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            service_id: None,
            version: None,
            release_id: None,
            description: None,
            notes: Vec::new(),
            timeout: Duration::from_secs(5),
            cache_ttl: Duration::from_secs(1),
            history: 20,
        }
    }
}

impl Validate for HealthConfig {
    fn validate_into(&self, v: &mut Validator) {
        validate_timeout(v, "timeout_ms", self.timeout);
        validate_ttl(v, "cache_ttl_ms", self.cache_ttl);
        v.check(
            (1..=MAX_HISTORY).contains(&self.history),
            "history",
            format_args!("must be within 1..={MAX_HISTORY}, got {}", self.history),
        );
        for (field, value) in [
            ("service_id", &self.service_id),
            ("version", &self.version),
            ("release_id", &self.release_id),
            ("description", &self.description),
        ] {
            if let Some(value) = value {
                v.non_empty(field, value);
            }
        }
    }
}

/// A check timeout must be positive and at most an hour.
pub(crate) fn validate_timeout(v: &mut Validator, field: &str, timeout: Duration) {
    v.positive_duration(field, timeout);
    validate_at_most_an_hour(v, field, timeout);
}

/// A cache TTL may be zero and at most an hour.
pub(crate) fn validate_ttl(v: &mut Validator, field: &str, ttl: Duration) {
    validate_at_most_an_hour(v, field, ttl);
}

fn validate_at_most_an_hour(v: &mut Validator, field: &str, value: Duration) {
    v.check(
        value <= MAX_DURATION,
        field,
        format_args!(
            "must be at most {} ms, got {} ms",
            MAX_DURATION.as_millis(),
            value.as_millis()
        ),
    );
}
