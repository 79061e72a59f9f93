//! Alert thresholds per operation and metric, absolute or relative to the baseline, and the
//! health they give an operation.

use serde::{Deserialize, Serialize};

use foundation_core::{Validate, Validator};

use super::operation::OperationKey;
use super::summary::{Baseline, Summary};
use super::window::Window;
use crate::health::HealthStatus;

/// A number a threshold watches. Latencies are in milliseconds, rates per second, the error
/// rate a fraction from 0 to 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Median latency (ms).
    P50,
    /// 95th percentile latency (ms).
    P95,
    /// 99th percentile latency (ms).
    P99,
    /// 99.9th percentile latency (ms).
    P999,
    /// Mean latency (ms).
    Avg,
    /// Highest latency (ms).
    Max,
    /// Calls per second.
    Rate,
    /// Units per second.
    Throughput,
    /// Errors over calls (0–1).
    ErrorRate,
}

/// A latency in milliseconds, the unit thresholds compare latencies in.
fn ms(d: Option<std::time::Duration>) -> Option<f64> {
    d.map(|d| d.as_secs_f64() * 1e3)
}

impl Metric {
    /// The lower-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Metric::P50 => "p50",
            Metric::P95 => "p95",
            Metric::P99 => "p99",
            Metric::P999 => "p999",
            Metric::Avg => "avg",
            Metric::Max => "max",
            Metric::Rate => "rate",
            Metric::Throughput => "throughput",
            Metric::ErrorRate => "error_rate",
        }
    }

    /// The metric's value in `summary`, if it has one.
    pub fn of(self, summary: &Summary) -> Option<f64> {
        match self {
            Metric::P50 => ms(summary.p50),
            Metric::P95 => ms(summary.p95),
            Metric::P99 => ms(summary.p99),
            Metric::P999 => ms(summary.p999),
            Metric::Avg => ms(summary.avg),
            Metric::Max => ms(summary.max),
            Metric::Rate => Some(summary.rate),
            Metric::Throughput => Some(summary.throughput),
            Metric::ErrorRate => Some(summary.error_rate),
        }
    }

    /// The metric's normal value in `baseline`, where the baseline learns it.
    pub fn of_baseline(self, baseline: &Baseline) -> Option<f64> {
        match self {
            Metric::P50 => ms(baseline.p50),
            Metric::P95 => ms(baseline.p95),
            Metric::P99 | Metric::P999 | Metric::Max => ms(baseline.p99),
            Metric::Avg => ms(baseline.avg),
            Metric::Rate => Some(baseline.rate),
            Metric::Throughput => None,
            Metric::ErrorRate => Some(baseline.error_rate),
        }
    }
}

/// When a threshold is breached.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Condition {
    /// The metric is above this value.
    Above(f64),
    /// The metric is below this value.
    Below(f64),
    /// The metric is above the baseline's value times this factor (not evaluated while
    /// there is no baseline yet). p99.9 and max compare against the baseline's p99.
    AboveBaseline(f64),
    /// The metric is below the baseline's value times this factor (e.g. traffic dropped).
    BelowBaseline(f64),
}

/// How serious a breach is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Degraded: health `warn`.
    Warn,
    /// Broken: health `fail`.
    Fail,
}

impl From<Severity> for HealthStatus {
    fn from(severity: Severity) -> HealthStatus {
        match severity {
            Severity::Warn => HealthStatus::Warn,
            Severity::Fail => HealthStatus::Fail,
        }
    }
}

/// A threshold on one metric of one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// The metric watched.
    pub metric: Metric,
    /// The window it is read over.
    pub window: Window,
    /// When it is breached.
    pub condition: Condition,
    /// What a breach means.
    pub severity: Severity,
    /// Fewest calls in the window for the threshold to be evaluated (so one slow call in
    /// a quiet minute does not page anyone).
    #[serde(default)]
    pub min_count: u64,
}

impl Threshold {
    /// A `Fail` threshold on `metric` over `window`, evaluated from the first call.
    pub fn new(metric: Metric, window: Window, condition: Condition) -> Threshold {
        Threshold {
            metric,
            window,
            condition,
            severity: Severity::Fail,
            min_count: 0,
        }
    }

    /// Sets the severity.
    pub fn severity(mut self, severity: Severity) -> Threshold {
        self.severity = severity;
        self
    }

    /// Sets the fewest calls needed for the threshold to be evaluated.
    pub fn min_count(mut self, min_count: u64) -> Threshold {
        self.min_count = min_count;
        self
    }

    /// The limit the metric is compared with, and whether it is breached. `None` when the
    /// window has too few calls, or the metric or baseline is not known yet.
    pub(crate) fn check(
        &self,
        summary: &Summary,
        baseline: Option<&Baseline>,
    ) -> Option<(f64, f64, bool)> {
        if summary.count < self.min_count {
            return None;
        }
        let observed = self.metric.of(summary)?;
        let (limit, above) = match self.condition {
            Condition::Above(v) => (v, true),
            Condition::Below(v) => (v, false),
            Condition::AboveBaseline(f) => (self.metric.of_baseline(baseline?)? * f, true),
            Condition::BelowBaseline(f) => (self.metric.of_baseline(baseline?)? * f, false),
        };
        let breached = if above {
            observed > limit
        } else {
            observed < limit
        };
        Some((observed, limit, breached))
    }
}

impl Validate for Threshold {
    fn validate_into(&self, v: &mut Validator) {
        let max = if self.metric == Metric::ErrorRate {
            1.0
        } else {
            f64::MAX
        };
        match self.condition {
            Condition::Above(x) | Condition::Below(x) => {
                v.range("condition.value", x, 0.0, max);
            }
            Condition::AboveBaseline(f) | Condition::BelowBaseline(f) => {
                v.check(
                    f.is_finite() && f > 0.0,
                    "condition.value",
                    format_args!("a baseline factor must be a positive number, got {f}"),
                );
                v.check(
                    self.metric != Metric::Throughput,
                    "metric",
                    "throughput has no baseline; use an absolute condition",
                );
            }
        }
    }
}

/// A threshold's identity, for removing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ThresholdId(pub u64);

/// A threshold and the operations it applies to.
#[derive(Debug, Clone, Serialize)]
pub struct ThresholdRule {
    /// Its identity.
    pub id: ThresholdId,
    /// The operation name it watches.
    pub operation: String,
    /// Labels an operation must carry for the threshold to apply (empty: every label set).
    pub labels: Vec<(String, String)>,
    /// The threshold.
    pub threshold: Threshold,
}

impl ThresholdRule {
    pub(crate) fn applies_to(&self, key: &OperationKey) -> bool {
        key.name() == self.operation && key.has_labels(&self.labels)
    }
}

/// A threshold that an operation currently breaches.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Breach {
    /// The threshold breached.
    pub threshold: ThresholdId,
    /// Its metric.
    pub metric: Metric,
    /// Its window.
    pub window: Window,
    /// Its severity.
    pub severity: Severity,
    /// The metric's value now.
    pub observed: f64,
    /// The limit it crossed.
    pub limit: f64,
}

/// The result of [`Monitor::health`](super::Monitor::health).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperationHealth {
    /// The operation.
    pub operation: OperationKey,
    /// Pass, or the worst severity among the breaches (warn or fail).
    pub status: HealthStatus,
    /// Every threshold breached now.
    pub breaches: Vec<Breach>,
    /// Thresholds that apply but could not be evaluated (too few calls, no baseline yet).
    pub not_evaluated: Vec<ThresholdId>,
}

impl OperationHealth {
    pub(crate) fn new(
        operation: OperationKey,
        breaches: Vec<Breach>,
        not_evaluated: Vec<ThresholdId>,
    ) -> OperationHealth {
        let status = breaches
            .iter()
            .map(|b| HealthStatus::from(b.severity))
            .max()
            .unwrap_or_default();
        OperationHealth {
            operation,
            status,
            breaches,
            not_evaluated,
        }
    }
}
