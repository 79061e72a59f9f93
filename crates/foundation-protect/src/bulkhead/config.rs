//! [`BulkheadConfig`]: how many calls run at once and how many may wait, for how long.

use std::time::Duration;

use foundation_core::{Validate, Validator};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use foundation_core::millis;

/// Configuration of a [`Bulkhead`](super::Bulkhead).
///
/// ```toml
/// max_concurrent = 32
/// max_waiting = 64
/// max_wait_ms = 1000
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BulkheadConfig {
    /// Calls allowed in flight at once (at least 1).
    pub max_concurrent: usize,
    /// Calls allowed to wait for a slot; one more is refused at once with `BULKHEAD_FULL`.
    /// 0: no waiting line.
    pub max_waiting: usize,
    /// How long a call may wait for a slot before `BULKHEAD_WAIT_TIMEOUT`.
    #[serde(rename = "max_wait_ms", with = "millis")]
    pub max_wait: Duration,
}

impl Default for BulkheadConfig {
    fn default() -> Self {
        BulkheadConfig {
            max_concurrent: 32,
            max_waiting: 64,
            max_wait: Duration::from_secs(1),
        }
    }
}

/// The largest `max_concurrent`, and the largest `max_waiting`, a bulkhead accepts.
pub const MAX_CONCURRENT: usize = Semaphore::MAX_PERMITS / 2;

impl Validate for BulkheadConfig {
    fn validate_into(&self, v: &mut Validator) {
        v.at_least_one("max_concurrent", self.max_concurrent as u64)
            .check(
                self.max_concurrent <= MAX_CONCURRENT,
                "max_concurrent",
                format_args!(
                    "must not exceed {MAX_CONCURRENT}, got {}",
                    self.max_concurrent
                ),
            )
            .check(
                self.max_waiting <= MAX_CONCURRENT,
                "max_waiting",
                format_args!("must not exceed {MAX_CONCURRENT}, got {}", self.max_waiting),
            )
            .positive_duration("max_wait_ms", self.max_wait);
    }
}
