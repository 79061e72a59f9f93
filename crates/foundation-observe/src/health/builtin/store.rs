//! [`StoreCheck`]: whether the store answers, and how fast.

use std::time::Duration;

use foundation_core::{Clock, Result, Validate, Validator};
use foundation_store::Store;
use serde::{Deserialize, Serialize};

use super::grade;
use crate::health::check::{HealthCheck, Observation};

/// Thresholds of [`StoreCheck`]. A store that does not answer fails; the check's timeout
/// (see [`CheckOptions::timeout`](crate::health::CheckOptions::timeout)) bounds the wait.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreCheckConfig {
    /// Warn when a round trip takes at least this long (default 500 ms; above zero).
    #[serde(rename = "warn_latency_ms", with = "foundation_core::millis")]
    pub warn_latency: Duration,
}

impl Default for StoreCheckConfig {
    fn default() -> Self {
        StoreCheckConfig {
            warn_latency: Duration::from_millis(500),
        }
    }
}

impl Validate for StoreCheckConfig {
    fn validate_into(&self, v: &mut Validator) {
        v.positive_duration("warn_latency_ms", self.warn_latency);
    }
}

/// `store:responseTime` (component type `datastore`): one [`Store::ping`] round trip, in
/// milliseconds; fails with the store's error when it does not answer.
#[derive(Debug)]
pub struct StoreCheck {
    store: Store,
    clock: Clock,
    config: StoreCheckConfig,
}

impl StoreCheck {
    /// A check of `store`, timed on `clock`; `INVALID_CONFIG` naming the field.
    pub fn new(store: Store, clock: Clock, config: StoreCheckConfig) -> Result<StoreCheck> {
        config.validate()?;
        Ok(StoreCheck {
            store,
            clock,
            config,
        })
    }
}

impl HealthCheck for StoreCheck {
    fn component(&self) -> &str {
        "store"
    }

    fn measurement(&self) -> &str {
        "responseTime"
    }

    fn component_type(&self) -> &str {
        "datastore"
    }

    async fn check(&self) -> Observation {
        let started = self.clock.now();
        let answer = self.store.ping().await;
        let took = self.clock.now().saturating_duration_since(started);
        let ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
        match answer {
            Ok(()) => Observation::with_status(grade(took, self.config.warn_latency, None))
                .value(ms)
                .unit("ms")
                .output(format!(
                    "{:?} store answered in {ms} ms",
                    self.store.backend()
                )),
            Err(err) => Observation::from_error(&err).value(ms).unit("ms"),
        }
    }
}
