//! Alert rules over the monitor's metrics and the health aggregator's checks.
//!
//! A rule names a condition, how long it must hold before the alert fires (`for_ms`), a
//! severity, and labels and annotations. A metric rule gives one alert per operation it
//! watches (the operation's name and labels become the alert's labels); a health rule gives
//! one alert, for a check or for the overall status. Annotations may use `{{ value }}`,
//! `{{ limit }}` and `{{ labels.NAME }}`.
//!
//! Besides metric and health rules, a `breach` rule turns the monitor's own thresholds'
//! breaches into alerts, and an `events` rule counts a telemetry-bus event per source over a
//! window (the monitor counts bus events while its task runs).
//!
//! ```toml
//! [[rules]]
//! name = "SlowQueries"
//! for_ms = 60000
//! severity = "critical"
//! labels = { team = "db" }
//! annotations = { summary = "p99 of {{ labels.operation }} is {{ value }} ms" }
//! condition = { type = "metric", operation = "db.query", metric = "p99", window = "minute", condition = { kind = "above", value = 250.0 } }
//!
//! [[rules]]
//! name = "StoreDown"
//! condition = { type = "health", check = "store:reachable", status = "fail" }
//!
//! [[rules]]
//! name = "BreakerFlapping"
//! condition = { type = "events", event = "foundation.breaker.state_change", window_ms = 600000, above = 4 }
//! ```

use std::time::Duration;

use foundation_core::{Validate, Validator, millis};
use serde::{Deserialize, Serialize};

use super::event_window::EventWindows;
use super::labels::{ALERTNAME, Labels, SEVERITY, validate_labels};
use super::lifecycle::Severity;
use crate::health::{HealthReport, HealthStatus};
use crate::monitor::{Condition, Metric, Monitor, OperationKey, Threshold, Window};

/// Longest `for` duration accepted: a week.
pub const MAX_FOR: Duration = Duration::from_secs(7 * 86_400);

/// What a rule watches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum RuleCondition {
    /// An operation's metric over a window compared with a value or with its baseline.
    Metric {
        /// The operation name.
        operation: String,
        /// Labels the operation must carry (empty: every label set, one alert each).
        #[serde(default)]
        labels: Labels,
        /// The metric (latencies in ms, rates per second, error rate 0–1).
        metric: Metric,
        /// The window it is read over.
        window: Window,
        /// The comparison.
        condition: Condition,
        /// Fewest calls in the window for the rule to be evaluated.
        #[serde(default)]
        min_count: u64,
    },
    /// Breaches of the thresholds set on the monitor itself
    /// ([`Monitor::set_threshold`]), one alert per operation and threshold.
    Breach {
        /// Only breaches of this operation name.
        #[serde(default)]
        operation: Option<String>,
        /// Only breaches of this severity.
        #[serde(default)]
        severity: Option<crate::monitor::Severity>,
    },
    /// A telemetry-bus event (as the monitor counts them, per source) seen more than
    /// `above` times within the window. One alert per source.
    Events {
        /// The event name, e.g. `foundation.breaker.state_change`.
        event: String,
        /// Only this source (breaker, pool... name).
        #[serde(default)]
        source: Option<String>,
        /// The trailing window.
        #[serde(rename = "window_ms", with = "millis")]
        window: Duration,
        /// Fires when more events than this arrived within the window.
        above: u64,
    },
    /// A health check (or, without `check`, the overall health) at `status` or worse.
    Health {
        /// The check's key, `component:measurement`; the overall status when unset.
        #[serde(default)]
        check: Option<String>,
        /// `warn` (warn or fail) or `fail`.
        #[serde(default = "fail")]
        status: HealthStatus,
    },
}

fn fail() -> HealthStatus {
    HealthStatus::Fail
}

/// An alert rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// The rule's name, the alerts' `alertname`.
    pub name: String,
    /// What it watches.
    pub condition: RuleCondition,
    /// How long the condition must hold before the alert fires (0: at once).
    #[serde(default, rename = "for_ms", with = "millis")]
    pub hold: Duration,
    /// The alerts' severity.
    #[serde(default)]
    pub severity: Severity,
    /// Labels added to the alerts.
    #[serde(default)]
    pub labels: Labels,
    /// Annotations (`summary`, `description`...), with `{{ value }}` and friends.
    #[serde(default)]
    pub annotations: Labels,
}

impl RuleConfig {
    /// A rule called `name` on `condition`, firing at once with severity warning.
    pub fn new(name: impl Into<String>, condition: RuleCondition) -> RuleConfig {
        RuleConfig {
            name: name.into(),
            condition,
            hold: Duration::ZERO,
            severity: Severity::Warning,
            labels: Labels::new(),
            annotations: Labels::new(),
        }
    }

    /// A rule on `metric` of every operation named `operation` over `window`.
    pub fn metric(
        name: impl Into<String>,
        operation: &str,
        metric: Metric,
        window: Window,
        condition: Condition,
    ) -> RuleConfig {
        RuleConfig::new(
            name,
            RuleCondition::Metric {
                operation: operation.to_string(),
                labels: Labels::new(),
                metric,
                window,
                condition,
                min_count: 0,
            },
        )
    }

    /// A rule on a health check (`Some("component:measurement")`) or the overall health
    /// being `status` or worse.
    pub fn health(name: impl Into<String>, check: Option<&str>, status: HealthStatus) -> Self {
        RuleConfig::new(
            name,
            RuleCondition::Health {
                check: check.map(str::to_string),
                status,
            },
        )
    }

    /// Sets how long the condition must hold.
    pub fn hold_for(mut self, hold: Duration) -> RuleConfig {
        self.hold = hold;
        self
    }

    /// Sets the severity.
    pub fn severity(mut self, severity: Severity) -> RuleConfig {
        self.severity = severity;
        self
    }

    /// Adds a label.
    pub fn label(mut self, name: &str, value: &str) -> RuleConfig {
        self.labels.insert(name.to_string(), value.to_string());
        self
    }

    /// Adds an annotation.
    pub fn annotation(mut self, name: &str, value: &str) -> RuleConfig {
        self.annotations.insert(name.to_string(), value.to_string());
        self
    }

    /// What the rule sees now: one instance per alert it could raise.
    pub(crate) fn instances(&self, sources: &mut Sources<'_>) -> Vec<Instance> {
        let monitor = sources.monitor;
        match &self.condition {
            RuleCondition::Breach {
                operation,
                severity,
            } => monitor
                .map(|m| m.active_breaches())
                .unwrap_or_default()
                .into_iter()
                .filter(|(key, breach)| {
                    operation.as_ref().is_none_or(|o| key.name() == o)
                        && severity.is_none_or(|s| breach.severity == s)
                })
                .map(|(key, breach)| {
                    let id = breach.threshold.0.to_string();
                    let labels = self.labels_with(
                        [
                            ("operation", key.name()),
                            ("metric", breach.metric.as_str()),
                            ("window", breach.window.as_str()),
                            ("threshold", id.as_str()),
                        ]
                        .into_iter()
                        .chain(key.labels()),
                    );
                    Instance {
                        annotations: self.expand(
                            &labels,
                            &format_number(breach.observed),
                            &format_number(breach.limit),
                        ),
                        labels,
                        active: true,
                    }
                })
                .collect(),
            RuleCondition::Events {
                event,
                source,
                window,
                above,
            } => {
                let counts: Vec<_> = monitor
                    .map(|m| m.event_counts())
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|c| c.event == event.as_str())
                    .filter(|c| source.as_ref().is_none_or(|s| &*c.source == s.as_str()))
                    .collect();
                let now = sources.now;
                let instances = counts
                    .iter()
                    .map(|c| {
                        let seen = sources
                            .windows
                            .delta(&self.name, &c.source, c.count, *window, now);
                        let extra = [("event", event.as_str()), ("source", &*c.source)];
                        let labels =
                            self.labels_with(extra.into_iter().filter(|(_, v)| !v.is_empty()));
                        Instance {
                            annotations: self.expand(
                                &labels,
                                &seen.to_string(),
                                &above.to_string(),
                            ),
                            labels,
                            active: seen > *above,
                        }
                    })
                    .collect();
                sources.windows.evaluated(&self.name, now);
                instances
            }
            RuleCondition::Metric {
                operation,
                labels,
                metric,
                window,
                condition,
                min_count,
            } => {
                let Some(monitor) = monitor else {
                    return Vec::new();
                };
                let filter: Vec<(String, String)> =
                    labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                let threshold = Threshold::new(*metric, *window, *condition).min_count(*min_count);
                monitor
                    .operations()
                    .into_iter()
                    .filter(|key| key.name() == operation && key.has_labels(&filter))
                    .map(|key| self.metric_instance(monitor, &key, &threshold))
                    .collect()
            }
            RuleCondition::Health { check, status } => {
                let Some(report) = sources.health else {
                    return Vec::new();
                };
                let (observed, extra) = match check {
                    Some(key) => (
                        report
                            .checks
                            .iter()
                            .find(|c| &c.key == key)
                            .map(|c| c.status()),
                        Some(key.as_str()),
                    ),
                    None => (Some(report.status), None),
                };
                let Some(observed) = observed else {
                    return Vec::new();
                };
                let mut labels = self.labels_with(extra.map(|k| ("check", k)).into_iter());
                labels
                    .entry("health".into())
                    .or_insert_with(|| status.as_str().into());
                vec![Instance {
                    annotations: self.expand(&labels, observed.as_str(), status.as_str()),
                    labels,
                    active: observed >= *status,
                }]
            }
        }
    }

    fn metric_instance(
        &self,
        monitor: &Monitor,
        key: &OperationKey,
        threshold: &Threshold,
    ) -> Instance {
        let op_labels: Vec<(&str, &str)> = key.labels().collect();
        let checked = monitor
            .summary(key.name(), &op_labels, threshold.window)
            .ok()
            .and_then(|summary| {
                let baseline = match threshold.condition {
                    Condition::AboveBaseline(_) | Condition::BelowBaseline(_) => monitor
                        .baseline(key.name(), &op_labels, threshold.window)
                        .ok()
                        .flatten(),
                    Condition::Above(_) | Condition::Below(_) => None,
                };
                threshold.check(&summary, baseline.as_ref())
            });
        let labels =
            self.labels_with(std::iter::once(("operation", key.name())).chain(key.labels()));
        let (value, limit, active) = checked.unwrap_or((f64::NAN, f64::NAN, false));
        Instance {
            annotations: self.expand(&labels, &format_number(value), &format_number(limit)),
            labels,
            active,
        }
    }

    /// The rule's labels, then `extra` where the rule does not set them, then `alertname`
    /// and `severity`.
    fn labels_with<'a>(&self, extra: impl Iterator<Item = (&'a str, &'a str)>) -> Labels {
        let mut labels = self.labels.clone();
        for (k, v) in extra {
            labels.entry(k.to_string()).or_insert_with(|| v.to_string());
        }
        labels.insert(ALERTNAME.into(), self.name.clone());
        labels.insert(SEVERITY.into(), self.severity.as_str().into());
        labels
    }

    fn expand(&self, labels: &Labels, value: &str, limit: &str) -> Labels {
        self.annotations
            .iter()
            .map(|(k, template)| (k.clone(), expand(template, labels, value, limit)))
            .collect()
    }
}

fn format_number(x: f64) -> String {
    if x.is_nan() {
        "n/a".into()
    } else {
        format!("{}", (x * 1000.0).round() / 1000.0)
    }
}

/// Replaces `{{ value }}`, `{{ limit }}` and `{{ labels.NAME }}` in `template`.
fn expand(template: &str, labels: &Labels, value: &str, limit: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find("}}") else {
            rest = &rest[open..];
            break;
        };
        let name = rest[open + 2..open + close].trim();
        match name {
            "value" => out.push_str(value),
            "limit" => out.push_str(limit),
            _ => match name.strip_prefix("labels.") {
                Some(label) => out.push_str(labels.get(label).map_or("", String::as_str)),
                None => out.push_str(&rest[open..open + close + 2]),
            },
        }
        rest = &rest[open + close + 2..];
    }
    out.push_str(rest);
    out
}

impl Validate for RuleConfig {
    fn validate_into(&self, v: &mut Validator) {
        v.non_empty("name", &self.name).check(
            self.hold <= MAX_FOR,
            "for_ms",
            format_args!("must be at most a week, got {} ms", self.hold.as_millis()),
        );
        validate_labels(v, "labels", &self.labels);
        validate_labels(v, "annotations", &self.annotations);
        match &self.condition {
            RuleCondition::Metric {
                operation,
                labels,
                metric,
                window,
                condition,
                min_count,
            } => {
                let pairs: Vec<(&str, &str)> = labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                if let Err(e) = OperationKey::new(operation, &pairs) {
                    let field = e.context_value("field").unwrap_or("operation");
                    v.check(false, &format!("condition.{field}"), e.message());
                }
                let threshold = Threshold::new(*metric, *window, *condition).min_count(*min_count);
                v.nested("condition", &threshold);
            }
            RuleCondition::Breach { operation, .. } => {
                if let Some(op) = operation
                    && let Err(e) = OperationKey::new(op, &[])
                {
                    v.check(false, "condition.operation", e.message());
                }
            }
            RuleCondition::Events { event, window, .. } => {
                v.non_empty("condition.event", event)
                    .positive_duration("condition.window_ms", *window)
                    .check(
                        *window <= MAX_FOR,
                        "condition.window_ms",
                        "must be at most a week",
                    );
            }
            RuleCondition::Health { check, status } => {
                v.check(
                    *status != HealthStatus::Pass,
                    "condition.status",
                    "must be warn or fail",
                );
                if let Some(key) = check {
                    v.check(
                        key.split_once(':')
                            .is_some_and(|(c, m)| !c.is_empty() && !m.is_empty()),
                        "condition.check",
                        format_args!("{key:?} is not a check key (component:measurement)"),
                    );
                }
            }
        }
    }
}

/// What rules read: the monitor, the health report (when a health rule needs one), and the
/// event-count windows.
pub(crate) struct Sources<'a> {
    pub(crate) monitor: Option<&'a Monitor>,
    pub(crate) health: Option<&'a HealthReport>,
    pub(crate) windows: &'a mut EventWindows,
    pub(crate) now: std::time::Instant,
}

/// One alert a rule could raise, and whether its condition holds now.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Instance {
    pub(crate) labels: Labels,
    pub(crate) annotations: Labels,
    pub(crate) active: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_expand_value_limit_and_labels() {
        let labels: Labels = [("operation".to_string(), "db".to_string())].into();
        assert_eq!(
            expand(
                "{{ labels.operation }} at {{value}} > {{ limit }} {{ other }} {{",
                &labels,
                "3",
                "2"
            ),
            "db at 3 > 2 {{ other }} {{"
        );
    }
}
