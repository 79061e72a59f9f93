//! [`BreakersCheck`]: how many circuit breakers refuse calls.

use foundation_core::{Result, Validate, Validator};
use foundation_protect::breaker::{BreakerRegistry, BreakerState};
use serde::{Deserialize, Serialize};

use super::{grade, validate_fail_not_below_warn};
use crate::health::check::{HealthCheck, Observation};

/// Thresholds of [`BreakersCheck`], counting breakers that are open, half-open or forced
/// open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakersCheckConfig {
    /// Warn from this many (default 1; at least 1).
    pub warn_open: u32,
    /// Fail from this many (default none: never fail; not below `warn_open`).
    pub fail_open: Option<u32>,
}

impl Default for BreakersCheckConfig {
    fn default() -> Self {
        BreakersCheckConfig {
            warn_open: 1,
            fail_open: None,
        }
    }
}

impl Validate for BreakersCheckConfig {
    fn validate_into(&self, v: &mut Validator) {
        v.at_least_one("warn_open", u64::from(self.warn_open));
        validate_fail_not_below_warn(v, "warn_open", self.warn_open, "fail_open", self.fail_open);
    }
}

/// `breakers:open`: the breakers of a registry that refuse calls (open, half-open, forced
/// open), counted and named.
pub struct BreakersCheck {
    registry: BreakerRegistry,
    config: BreakersCheckConfig,
}

impl std::fmt::Debug for BreakersCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BreakersCheck")
            .field("config", &self.config)
            .finish()
    }
}

impl BreakersCheck {
    /// A check over `registry`'s breakers; `INVALID_CONFIG` naming the field.
    pub fn new(registry: BreakerRegistry, config: BreakersCheckConfig) -> Result<BreakersCheck> {
        config.validate()?;
        Ok(BreakersCheck { registry, config })
    }
}

impl HealthCheck for BreakersCheck {
    fn component(&self) -> &str {
        "breakers"
    }

    fn measurement(&self) -> &str {
        "open"
    }

    async fn check(&self) -> Observation {
        let statuses = self.registry.statuses();
        let refusing: Vec<String> = statuses
            .iter()
            .filter(|s| {
                matches!(
                    s.state,
                    BreakerState::Open | BreakerState::HalfOpen | BreakerState::ForcedOpen
                )
            })
            .map(|s| format!("{} ({})", s.name, s.state))
            .collect();
        let count = u32::try_from(refusing.len()).unwrap_or(u32::MAX);
        let status = grade(count, self.config.warn_open, self.config.fail_open);
        let observation = Observation::with_status(status)
            .value(count)
            .unit("breakers");
        if refusing.is_empty() {
            observation.output(format!("{} breakers, none open", statuses.len()))
        } else {
            observation.output(format!("open: {}", refusing.join(", ")))
        }
    }
}
