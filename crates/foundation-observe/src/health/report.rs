//! [`HealthReport`]: the aggregate of a set of checks, and its `application/health+json`
//! form (draft-inadarei-api-health-check).
//!
//! Aggregation:
//! - **status** — `fail` if any critical check fails; otherwise `warn` if any check warns or
//!   a non-critical check fails; otherwise `pass` (also when no check is selected);
//! - **score** — 0 to 100: the mean of the checks' points (pass 100, warn 50, fail 0),
//!   critical checks weighing twice as much as the others, rounded down; 100 when no check
//!   is selected. It is reported as the extension member `score`.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::config::HealthConfig;
use super::record::CheckRecord;
use super::status::HealthStatus;

/// The media type of every health response.
pub const HEALTH_JSON: &str = "application/health+json";

/// One check's part of a report.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckReport {
    /// `component:measurement`.
    pub key: String,
    /// The draft's `componentType`.
    pub component_type: String,
    /// The draft's `componentId`, when the check was registered with one.
    pub component_id: Option<String>,
    /// Whether the check is critical.
    pub critical: bool,
    /// Its results, newest last: the current one in a report, the kept history in
    /// [`HealthAggregator::history`](super::HealthAggregator::history).
    pub records: Vec<CheckRecord>,
}

impl CheckReport {
    /// The newest result's status (`pass` when there is none).
    pub fn status(&self) -> HealthStatus {
        self.records
            .last()
            .map_or(HealthStatus::Pass, CheckRecord::status)
    }

    /// What the check contributes to the report's status: a non-critical failure only warns.
    fn contribution(&self) -> HealthStatus {
        match self.status() {
            HealthStatus::Fail if !self.critical => HealthStatus::Warn,
            status => status,
        }
    }

    fn to_json(&self) -> Value {
        let objects = self
            .records
            .iter()
            .map(|record| {
                let mut object = Map::new();
                if let Some(id) = &self.component_id {
                    object.insert("componentId".into(), json!(id));
                }
                object.insert("componentType".into(), json!(self.component_type));
                let observation = &record.observation;
                if let Some(value) = &observation.observed_value {
                    object.insert("observedValue".into(), value.clone());
                }
                if let Some(unit) = &observation.observed_unit {
                    object.insert("observedUnit".into(), json!(unit));
                }
                object.insert("status".into(), json!(observation.status));
                object.insert("time".into(), json!(record.time_rfc3339()));
                if let Some(output) = &observation.output {
                    object.insert("output".into(), json!(output));
                }
                Value::Object(object)
            })
            .collect();
        Value::Array(objects)
    }
}

/// The aggregate of a set of checks; see the [module docs](self) for the rules.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthReport {
    /// The aggregate status.
    pub status: HealthStatus,
    /// 0 (everything failing) to 100 (everything passing).
    pub score: u8,
    /// The checks, sorted by key.
    pub checks: Vec<CheckReport>,
    service: ServiceInfo,
}

/// The configured description of the service, copied into every report.
#[derive(Debug, Clone, PartialEq, Default)]
struct ServiceInfo {
    service_id: Option<String>,
    version: Option<String>,
    release_id: Option<String>,
    description: Option<String>,
    notes: Vec<String>,
}

impl HealthReport {
    /// Aggregates `checks` and describes the service as `config` says.
    pub fn new(config: &HealthConfig, mut checks: Vec<CheckReport>) -> HealthReport {
        checks.sort_by(|a, b| a.key.cmp(&b.key));
        let status = checks
            .iter()
            .map(CheckReport::contribution)
            .max()
            .unwrap_or(HealthStatus::Pass);
        HealthReport {
            status,
            score: score(&checks),
            checks,
            service: ServiceInfo {
                service_id: config.service_id.clone(),
                version: config.version.clone(),
                release_id: config.release_id.clone(),
                description: config.description.clone(),
                notes: config.notes.clone(),
            },
        }
    }

    /// 200 for pass and warn, 503 for fail.
    pub fn http_status(&self) -> u16 {
        self.status.http_status()
    }

    /// The report in `application/health+json` form.
    pub fn to_json(&self) -> Value {
        let mut body = Map::new();
        body.insert("status".into(), json!(self.status));
        let service = &self.service;
        for (name, value) in [
            ("version", &service.version),
            ("releaseId", &service.release_id),
            ("serviceId", &service.service_id),
            ("description", &service.description),
        ] {
            if let Some(value) = value {
                body.insert(name.into(), json!(value));
            }
        }
        if !service.notes.is_empty() {
            body.insert("notes".into(), json!(service.notes));
        }
        if let Some(output) = self.output() {
            body.insert("output".into(), json!(output));
        }
        body.insert("score".into(), json!(self.score));
        let checks: Map<String, Value> = self
            .checks
            .iter()
            .map(|check| (check.key.clone(), check.to_json()))
            .collect();
        body.insert("checks".into(), Value::Object(checks));
        Value::Object(body)
    }

    /// For a report that is not `pass`: which checks are not passing and why.
    fn output(&self) -> Option<String> {
        let problems: Vec<String> = self
            .checks
            .iter()
            .filter(|check| check.status() != HealthStatus::Pass)
            .map(|check| {
                let criticality = if check.critical {
                    "critical"
                } else {
                    "non-critical"
                };
                let why = check
                    .records
                    .last()
                    .and_then(|r| r.observation.output.as_deref())
                    .unwrap_or("no output");
                format!("{} {} ({criticality}): {why}", check.key, check.status())
            })
            .collect();
        (!problems.is_empty()).then(|| problems.join("; "))
    }
}

impl Serialize for HealthReport {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

/// See the module docs: weighted mean of pass 100 / warn 50 / fail 0, critical weight 2.
fn score(checks: &[CheckReport]) -> u8 {
    let (points, weights) = checks
        .iter()
        .fold((0u64, 0u64), |(points, weights), check| {
            let weight = if check.critical { 2 } else { 1 };
            let value = match check.status() {
                HealthStatus::Pass => 100,
                HealthStatus::Warn => 50,
                HealthStatus::Fail => 0,
            };
            (points + weight * value, weights + weight)
        });
    if weights == 0 {
        return 100;
    }
    u8::try_from(points / weights).unwrap_or(100)
}
