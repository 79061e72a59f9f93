//! The monitor's configuration.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use foundation_core::{Validate, Validator};

/// Limits and intervals of a [`Monitor`](super::Monitor).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MonitorConfig {
    /// Most operations (name + label set) tracked; beyond it, new ones are folded into
    /// the `foundation.monitor.overflow` operation and counted.
    pub max_operations: usize,
    /// Most label sets per operation name; beyond it, new ones are folded into the name's
    /// `{overflow="true"}` operation and counted.
    pub max_series_per_name: usize,
    /// Shards per recorder (rounded up to a power of two); 0 = one per available CPU, at
    /// most 16.
    pub shards: usize,
    /// How often the background task drains recorders, drops old periods and evaluates
    /// thresholds.
    #[serde(rename = "tick_ms", with = "foundation_core::millis")]
    pub tick: Duration,
    /// Fewest active past periods before a baseline is reported.
    pub baseline_min_periods: u64,
    /// Most distinct (event, source) pairs counted from the telemetry bus; beyond it, an
    /// event's new sources are counted under source `overflow`.
    pub max_event_series: usize,
    /// Buffer of the telemetry-bus subscription (events beyond it are dropped and counted
    /// by the bus).
    pub event_buffer: usize,
}

impl Default for MonitorConfig {
    fn default() -> MonitorConfig {
        MonitorConfig {
            max_operations: 10_000,
            max_series_per_name: 1_000,
            shards: 0,
            tick: Duration::from_secs(10),
            baseline_min_periods: 3,
            max_event_series: 1_000,
            event_buffer: 4_096,
        }
    }
}

impl MonitorConfig {
    pub(crate) fn shard_count(&self) -> usize {
        if self.shards > 0 {
            return self.shards.min(64);
        }
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(16)
    }
}

impl Validate for MonitorConfig {
    fn validate_into(&self, v: &mut Validator) {
        v.at_least_one("max_operations", self.max_operations as u64);
        v.at_least_one("max_series_per_name", self.max_series_per_name as u64);
        v.check(
            self.shards <= 64,
            "shards",
            format_args!("at most 64, got {}", self.shards),
        );
        v.positive_duration("tick_ms", self.tick);
        v.check(
            self.tick <= Duration::from_secs(10),
            "tick_ms",
            "at most 10000: the minute window is kept in 10-second periods",
        );
        v.at_least_one("baseline_min_periods", self.baseline_min_periods);
        v.at_least_one("max_event_series", self.max_event_series as u64);
        v.at_least_one("event_buffer", self.event_buffer as u64);
    }
}
