//! Built-in checks for what Foundation itself runs. Each has a `Config` (serde, `Default`,
//! `validate()` naming the field) and a constructor that refuses an invalid one with
//! `INVALID_CONFIG`.
//!
//! | check | key | observed value |
//! | --- | --- | --- |
//! | [`BreakersCheck`] | `breakers:open` | breakers open, half-open or forced open |
//! | [`PoolCheck`] | `pool.NAME:utilization` | connections in use, percent of the most allowed |
//! | [`MemoryCheck`] | `memory:pressure` | the pressure level |
//! | [`StoreCheck`] | `store:responseTime` | a `SELECT 1` round trip, ms |
//! | [`QueueCheck`] | `queue.NAME:backlog` / `queue.NAME:oldestTaskAge` | runnable tasks / ms |
//! | [`RestartsCheck`] | `agents:restarts` | most restarts under one supervisor in the window |
//! | [`ThresholdsCheck`] | `operations:thresholds` | performance-monitor thresholds breached |
//!
//! Thresholds are inclusive: a value at or above `warn_*` warns, at or above `fail_*` fails.

mod breakers;
mod memory;
mod pools;
mod queue;
mod restarts;
mod store;
mod thresholds;

pub use breakers::{BreakersCheck, BreakersCheckConfig};
pub use memory::{MemoryCheck, MemoryCheckConfig};
pub use pools::{PoolCheck, PoolCheckConfig};
pub use queue::{QueueCheck, QueueCheckConfig, QueueMeasure};
pub use restarts::{RestartsCheck, RestartsCheckConfig};
pub use store::{StoreCheck, StoreCheckConfig};
pub use thresholds::ThresholdsCheck;

use super::status::HealthStatus;

/// `value` against inclusive thresholds: fail at or above `fail` (when set), warn at or
/// above `warn`, else pass.
fn grade<T: PartialOrd>(value: T, warn: T, fail: Option<T>) -> HealthStatus {
    if fail.is_some_and(|fail| value >= fail) {
        HealthStatus::Fail
    } else if value >= warn {
        HealthStatus::Warn
    } else {
        HealthStatus::Pass
    }
}

/// Records that an optional fail threshold is not below the warn threshold.
fn validate_fail_not_below_warn<T: PartialOrd + std::fmt::Display + Copy>(
    v: &mut foundation_core::Validator,
    warn_field: &str,
    warn: T,
    fail_field: &str,
    fail: Option<T>,
) {
    if let Some(fail) = fail {
        v.ordered(warn_field, warn, fail_field, fail);
    }
}
