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
use serde::ser::{SerializeMap, Serializer};
use serde_json::Value;

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
}

/// One record as the draft's check object.
struct RecordJson<'a> {
    check: &'a CheckReport,
    record: &'a CheckRecord,
}

impl Serialize for RecordJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let observation = &self.record.observation;
        let mut map = serializer.serialize_map(None)?;
        if let Some(id) = &self.check.component_id {
            map.serialize_entry("componentId", id)?;
        }
        map.serialize_entry("componentType", &self.check.component_type)?;
        if let Some(value) = &observation.observed_value {
            map.serialize_entry("observedValue", value)?;
        }
        if let Some(unit) = &observation.observed_unit {
            map.serialize_entry("observedUnit", unit)?;
        }
        map.serialize_entry("status", &observation.status)?;
        map.serialize_entry("time", &self.record.time_rfc3339())?;
        if let Some(output) = &observation.output {
            map.serialize_entry("output", output)?;
        }
        map.end()
    }
}

impl Serialize for CheckReport {
    /// The draft's array of check objects, one per record.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.records.iter().map(|record| RecordJson {
            check: self,
            record,
        }))
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
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The report as the `application/health+json` body, serialized without an
    /// intermediate JSON tree.
    pub fn to_body(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
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
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("status", &self.status)?;
        let service = &self.service;
        for (name, value) in [
            ("version", &service.version),
            ("releaseId", &service.release_id),
            ("serviceId", &service.service_id),
            ("description", &service.description),
        ] {
            if let Some(value) = value {
                map.serialize_entry(name, value)?;
            }
        }
        if !service.notes.is_empty() {
            map.serialize_entry("notes", &service.notes)?;
        }
        if let Some(output) = self.output() {
            map.serialize_entry("output", &output)?;
        }
        map.serialize_entry("score", &self.score)?;
        map.serialize_entry("checks", &ChecksJson(&self.checks))?;
        map.end()
    }
}

/// The draft's `checks` object: each check's records keyed `component:measurement`.
struct ChecksJson<'a>(&'a [CheckReport]);

impl Serialize for ChecksJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|check| (&check.key, check)))
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
