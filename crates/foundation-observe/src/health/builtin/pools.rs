//! [`PoolCheck`]: whether a connection pool is close to, or at, exhaustion.

use foundation_core::{Result, Validate, Validator};
use foundation_protect::pool::PoolStatus;
use serde::{Deserialize, Serialize};

use crate::health::check::{HealthCheck, Observation};
use crate::health::status::HealthStatus;

/// Thresholds of [`PoolCheck`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolCheckConfig {
    /// Warn when connections in use reach this fraction of the most allowed
    /// (`max_size + max_overflow`) (default 0.9; above 0, at most 1).
    pub warn_utilization: f64,
    /// Fail when the pool is exhausted (every allowed connection in use) and at least this
    /// many callers wait (default 1; at least 1). Exhausted with fewer waiters warns.
    pub fail_waiters: u32,
}

impl Default for PoolCheckConfig {
    fn default() -> Self {
        PoolCheckConfig {
            warn_utilization: 0.9,
            fail_waiters: 1,
        }
    }
}

impl Validate for PoolCheckConfig {
    fn validate_into(&self, v: &mut Validator) {
        v.range("warn_utilization", self.warn_utilization, 0.0, 1.0)
            .check(
                self.warn_utilization > 0.0,
                "warn_utilization",
                "must be above 0",
            )
            .at_least_one("fail_waiters", u64::from(self.fail_waiters));
    }
}

/// `pool.NAME:utilization`: connections in use as a percentage of the most the pool allows;
/// fails when the pool is closed, or exhausted with callers waiting.
///
/// `Pool<M>` is generic over its manager, so the check reads the status through a closure:
/// `PoolCheck::new("db", move || pool.status(), PoolCheckConfig::default())`.
pub struct PoolCheck {
    component: String,
    status: Box<dyn Fn() -> PoolStatus + Send + Sync>,
    config: PoolCheckConfig,
}

impl std::fmt::Debug for PoolCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolCheck")
            .field("component", &self.component)
            .field("config", &self.config)
            .finish()
    }
}

impl PoolCheck {
    /// A check of the pool named `name` whose status `status` reads; `INVALID_CONFIG` naming
    /// the field.
    pub fn new(
        name: &str,
        status: impl Fn() -> PoolStatus + Send + Sync + 'static,
        config: PoolCheckConfig,
    ) -> Result<PoolCheck> {
        config.validate()?;
        Ok(PoolCheck {
            component: format!("pool.{name}"),
            status: Box::new(status),
            config,
        })
    }
}

impl HealthCheck for PoolCheck {
    fn component(&self) -> &str {
        &self.component
    }

    fn measurement(&self) -> &str {
        "utilization"
    }

    async fn check(&self) -> Observation {
        let s = (self.status)();
        let capacity = s.max_size.saturating_add(s.max_overflow);
        let utilization = if capacity == 0 {
            1.0
        } else {
            s.in_use as f64 / capacity as f64
        };
        let exhausted = s.in_use >= capacity;
        let waiters = u32::try_from(s.waiters).unwrap_or(u32::MAX);
        let status = if s.is_closed || (exhausted && waiters >= self.config.fail_waiters) {
            HealthStatus::Fail
        } else if exhausted || utilization >= self.config.warn_utilization {
            HealthStatus::Warn
        } else {
            HealthStatus::Pass
        };
        let mut output = format!(
            "{} of {capacity} connections in use, {} idle, {} waiting",
            s.in_use, s.idle, s.waiters
        );
        if s.is_closed {
            output.push_str("; the pool is closed");
        } else if exhausted {
            output.push_str("; the pool is exhausted");
        }
        // At most a few hundred percent (overflow), so the rounded value fits.
        let percent = (utilization * 100.0).round() as u64;
        Observation::with_status(status)
            .value(percent)
            .unit("percent")
            .output(output)
    }
}
