//! [`BreakerConfig`]: what makes a breaker trip, how long it stays open, how it recovers.
//!
//! Durations are `std::time::Duration` in Rust and milliseconds in serde (`*_ms` fields), so
//! the same struct reads from TOML:
//!
//! ```
//! use foundation_protect::breaker::{BreakerConfig, WindowConfig};
//!
//! let cfg: BreakerConfig = toml::from_str(r#"
//!     failure_rate_threshold = 40.0
//!     minimum_calls = 20
//!     open_duration_ms = 5000
//!     window = { kind = "time", duration_ms = 30000, buckets = 10 }
//!     open_backoff = { kind = "exponential", multiplier = 2.0, max_open_duration_ms = 60000 }
//!     class_thresholds = { timeout = 20.0 }
//! "#).unwrap();
//! assert!(matches!(cfg.window, WindowConfig::Time { buckets: 10, .. }));
//! ```

use std::time::Duration;

use foundation_core::{Validate, Validator};
use serde::{Deserialize, Serialize};

use crate::outcome::Outcome;

/// The largest count-based window.
pub const MAX_WINDOW_SIZE: u32 = 100_000;
/// The most buckets a time-based window may have.
pub const MAX_WINDOW_BUCKETS: u32 = 1_000;
/// The most probe calls a half-open breaker may admit at once.
pub const MAX_HALF_OPEN_PROBES: u32 = 10_000;
/// The most callers whose counts a breaker tracks individually.
pub const MAX_TRACKED_CALLERS: u32 = 10_000;

/// Configuration of one circuit breaker.
///
/// Rates and thresholds are percentages in `0..=100` (a threshold of `0` is refused: it
/// would trip on a window of successes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Which calls the failure rate is computed over.
    pub window: WindowConfig,
    /// Trip when failures (network + timeout + application) reach this percentage.
    pub failure_rate_threshold: f64,
    /// Extra per-class thresholds: trip when one class alone reaches its percentage.
    pub class_thresholds: ClassThresholds,
    /// A call taking at least this long is slow. `None` disables slow-call detection, and
    /// then the breaker never reads the clock on its closed path.
    #[serde(
        rename = "slow_call_duration_ms",
        with = "foundation_core::millis::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub slow_call_duration: Option<Duration>,
    /// Trip when slow calls reach this percentage (only with `slow_call_duration`).
    pub slow_call_rate_threshold: f64,
    /// No trip before the window holds at least this many counted calls.
    pub minimum_calls: u32,
    /// How long the breaker stays open after the first trip.
    #[serde(rename = "open_duration_ms", with = "foundation_core::millis")]
    pub open_duration: Duration,
    /// How the open duration grows on repeated trips (a failed half-open probe round).
    pub open_backoff: OpenBackoff,
    /// How many probe calls a half-open breaker admits; it decides once all have finished.
    pub half_open_probes: u32,
    /// After closing, admit a growing fraction of calls over this long. `None`: all at once.
    #[serde(
        rename = "recovery_ramp_ms",
        with = "foundation_core::millis::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub recovery_ramp: Option<Duration>,
    /// The fraction (percent) of calls admitted at the start of the recovery ramp.
    pub ramp_start_percent: f64,
    /// How many distinct callers get their own counts in the status; the rest are folded
    /// into the `"other"` bucket. `0` folds everyone.
    pub max_tracked_callers: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            window: WindowConfig::default(),
            failure_rate_threshold: 50.0,
            class_thresholds: ClassThresholds::default(),
            slow_call_duration: None,
            slow_call_rate_threshold: 100.0,
            minimum_calls: 10,
            open_duration: Duration::from_secs(30),
            open_backoff: OpenBackoff::Fixed,
            half_open_probes: 5,
            recovery_ramp: None,
            ramp_start_percent: 10.0,
            max_tracked_callers: 64,
        }
    }
}

/// The sliding window the rates are computed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum WindowConfig {
    /// The last `size` calls.
    Count {
        /// Number of calls in the window (`1..=100_000`).
        size: u32,
    },
    /// The calls of the last `duration`, kept in `buckets` slices; the window covers between
    /// `duration - duration / buckets` and `duration`.
    Time {
        /// Length of the window.
        #[serde(rename = "duration_ms", with = "foundation_core::millis")]
        duration: Duration,
        /// Number of slices (`1..=1000`); more is smoother, fewer is cheaper to sum.
        buckets: u32,
    },
}

impl Default for WindowConfig {
    fn default() -> Self {
        WindowConfig::Count { size: 100 }
    }
}

/// How the open duration grows with consecutive trips.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum OpenBackoff {
    /// Always `open_duration`.
    #[default]
    Fixed,
    /// `open_duration * multiplier^(trips - 1)`, capped at `max_open_duration`.
    Exponential {
        /// Growth factor per consecutive trip (`>= 1`).
        multiplier: f64,
        /// The cap.
        #[serde(rename = "max_open_duration_ms", with = "foundation_core::millis")]
        max_open_duration: Duration,
    },
    /// `open_duration + step * (trips - 1)`, capped at `max_open_duration`.
    Linear {
        /// Added per consecutive trip.
        #[serde(rename = "step_ms", with = "foundation_core::millis")]
        step: Duration,
        /// The cap.
        #[serde(rename = "max_open_duration_ms", with = "foundation_core::millis")]
        max_open_duration: Duration,
    },
}

impl OpenBackoff {
    /// The open duration for the `trips`-th consecutive trip (1 = first).
    pub fn open_duration(&self, base: Duration, trips: u32) -> Duration {
        let n = trips.saturating_sub(1);
        match *self {
            OpenBackoff::Fixed => base,
            OpenBackoff::Exponential {
                multiplier,
                max_open_duration,
            } => {
                let secs = base.as_secs_f64() * multiplier.powi(n.min(1_000) as i32);
                let cap = max_open_duration.max(base);
                if !secs.is_finite() || secs >= cap.as_secs_f64() {
                    cap
                } else {
                    // Negative only for a multiplier `validate` refuses; never panic on it.
                    Duration::try_from_secs_f64(secs).unwrap_or(base)
                }
            }
            OpenBackoff::Linear {
                step,
                max_open_duration,
            } => base
                .saturating_add(step.saturating_mul(n))
                .min(max_open_duration.max(base)),
        }
    }
}

/// Per-class failure thresholds, in percent of counted calls. `None`: no threshold of its own.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassThresholds {
    /// Threshold for [`Outcome::Network`].
    pub network: Option<f64>,
    /// Threshold for [`Outcome::Timeout`].
    pub timeout: Option<f64>,
    /// Threshold for [`Outcome::Application`].
    pub application: Option<f64>,
}

impl ClassThresholds {
    /// The failure classes and their thresholds.
    pub fn iter(&self) -> impl Iterator<Item = (Outcome, Option<f64>)> {
        [
            (Outcome::Network, self.network),
            (Outcome::Timeout, self.timeout),
            (Outcome::Application, self.application),
        ]
        .into_iter()
    }
}

/// A percentage in `(0, 100]`.
fn percent(v: &mut Validator, field: &str, value: f64) {
    v.check(
        value > 0.0 && value <= 100.0,
        field,
        format_args!("must be a percentage greater than 0 and at most 100, got {value}"),
    );
}

impl Validate for BreakerConfig {
    fn validate_into(&self, v: &mut Validator) {
        v.nested("window", &self.window);
        percent(v, "failure_rate_threshold", self.failure_rate_threshold);
        v.nested("class_thresholds", &self.class_thresholds);
        if let Some(d) = self.slow_call_duration {
            v.positive_duration("slow_call_duration_ms", d);
        }
        percent(v, "slow_call_rate_threshold", self.slow_call_rate_threshold);
        v.at_least_one("minimum_calls", self.minimum_calls.into());
        if let WindowConfig::Count { size } = self.window
            && size >= 1
        {
            v.ordered("minimum_calls", self.minimum_calls, "window.size", size);
        }
        v.positive_duration("open_duration_ms", self.open_duration);
        v.nested("open_backoff", &self.open_backoff);
        if let OpenBackoff::Exponential {
            max_open_duration, ..
        }
        | OpenBackoff::Linear {
            max_open_duration, ..
        } = self.open_backoff
        {
            v.ordered(
                "open_duration_ms",
                self.open_duration.as_millis(),
                "open_backoff.max_open_duration_ms",
                max_open_duration.as_millis(),
            );
        }
        v.at_least_one("half_open_probes", self.half_open_probes.into());
        v.check(
            self.half_open_probes <= MAX_HALF_OPEN_PROBES,
            "half_open_probes",
            format_args!("must be at most {MAX_HALF_OPEN_PROBES}"),
        );
        if let Some(d) = self.recovery_ramp {
            v.positive_duration("recovery_ramp_ms", d);
        }
        percent(v, "ramp_start_percent", self.ramp_start_percent);
        v.check(
            self.max_tracked_callers <= MAX_TRACKED_CALLERS,
            "max_tracked_callers",
            format_args!("must be at most {MAX_TRACKED_CALLERS}"),
        );
    }
}

impl Validate for WindowConfig {
    fn validate_into(&self, v: &mut Validator) {
        match *self {
            WindowConfig::Count { size } => {
                v.at_least_one("size", size.into());
                v.check(
                    size <= MAX_WINDOW_SIZE,
                    "size",
                    format_args!("must be at most {MAX_WINDOW_SIZE}, got {size}"),
                );
            }
            WindowConfig::Time { duration, buckets } => {
                v.positive_duration("duration_ms", duration);
                v.at_least_one("buckets", buckets.into());
                v.check(
                    buckets <= MAX_WINDOW_BUCKETS,
                    "buckets",
                    format_args!("must be at most {MAX_WINDOW_BUCKETS}, got {buckets}"),
                );
                v.check(
                    buckets == 0
                        || duration.is_zero()
                        || duration.as_millis() >= u128::from(buckets),
                    "duration_ms",
                    "must be at least one millisecond per bucket",
                );
            }
        }
    }
}

impl Validate for OpenBackoff {
    fn validate_into(&self, v: &mut Validator) {
        match *self {
            OpenBackoff::Fixed => {}
            OpenBackoff::Exponential { multiplier, .. } => {
                v.check(
                    multiplier.is_finite() && multiplier >= 1.0,
                    "multiplier",
                    format_args!("must be a number >= 1, got {multiplier}"),
                );
            }
            OpenBackoff::Linear { step, .. } => {
                v.positive_duration("step_ms", step);
            }
        }
    }
}

impl Validate for ClassThresholds {
    fn validate_into(&self, v: &mut Validator) {
        for (class, threshold) in self.iter() {
            if let Some(t) = threshold {
                percent(v, class.as_str(), t);
            }
        }
    }
}
