//! What the API takes and gives: [`AlertRequest`], [`AlertFilter`], and the views of alerts,
//! silences and the status, serialized as the HTTP API answers.

use foundation_core::{Error, Result, Validator};
use serde::{Deserialize, Serialize};

use super::delivery::ReceiverStatus;
use super::labels::{ALERTNAME, Fingerprint, Labels, SEVERITY, as_input, validate_labels};
use super::lifecycle::{AlertState, Origin, Severity};
use super::matcher::{Matcher, MatcherSpec};
use super::silence::{SilenceId, SilenceState};

/// An alert fired through the API.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRequest {
    /// Its labels; `alertname` is required. Firing the same labels again is the same alert.
    pub labels: Labels,
    /// Its annotations (`summary`, `description`...); replace the previous ones.
    #[serde(default)]
    pub annotations: Labels,
    /// Its severity; else the `severity` label's, else warning.
    #[serde(default)]
    pub severity: Option<Severity>,
}

impl AlertRequest {
    /// An alert called `alertname` with `severity`.
    pub fn new(alertname: &str, severity: Severity) -> AlertRequest {
        AlertRequest {
            labels: [(ALERTNAME.to_string(), alertname.to_string())].into(),
            annotations: Labels::new(),
            severity: Some(severity),
        }
    }

    /// Adds a label.
    pub fn label(mut self, name: &str, value: &str) -> AlertRequest {
        self.labels.insert(name.to_string(), value.to_string());
        self
    }

    /// Adds an annotation.
    pub fn annotation(mut self, name: &str, value: &str) -> AlertRequest {
        self.annotations.insert(name.to_string(), value.to_string());
        self
    }

    /// The labels with `severity` set, and the severity; `INVALID_INPUT` naming the field.
    pub(crate) fn resolve_labels(&self) -> Result<(Labels, Severity)> {
        let mut v = Validator::new("");
        v.non_empty(
            "labels.alertname",
            self.labels.get(ALERTNAME).map_or("", String::as_str),
        );
        validate_labels(&mut v, "labels", &self.labels);
        validate_labels(&mut v, "annotations", &self.annotations);
        let from_label = self
            .labels
            .get(SEVERITY)
            .map(|s| serde_json::from_value::<Severity>(serde_json::Value::String(s.clone())).ok());
        let severity = match (self.severity, from_label) {
            (Some(s), Some(Some(l))) if s != l => {
                v.check(false, "severity", "differs from the severity label");
                s
            }
            (Some(s), _) => s,
            (None, Some(Some(l))) => l,
            (None, Some(None)) => {
                v.check(
                    false,
                    "labels.severity",
                    "must be info, warning or critical",
                );
                Severity::Warning
            }
            (None, None) => Severity::Warning,
        };
        v.finish().map_err(as_input)?;
        let mut labels = self.labels.clone();
        labels.insert(SEVERITY.into(), severity.as_str().into());
        Ok((labels, severity))
    }
}

/// Which alerts to list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertFilter {
    /// Only alerts in this state.
    pub state: Option<AlertState>,
    /// Only alerts routed to this receiver.
    pub receiver: Option<String>,
    /// Only alerts whose labels match every matcher.
    pub matchers: Vec<Matcher>,
}

impl AlertFilter {
    /// Reads `state`, `receiver` and any number of `filter` (a matcher such as
    /// `severity=~"warning|critical"`) query parameters; `INVALID_INPUT` naming the
    /// parameter for anything else or a bad value.
    pub fn from_query(pairs: &[(String, String)]) -> Result<AlertFilter> {
        let mut filter = AlertFilter::default();
        for (key, value) in pairs {
            match key.as_str() {
                "state" => {
                    filter.state = Some(AlertState::parse(value).ok_or_else(|| {
                        Error::invalid_input(
                            "state",
                            "must be inactive, pending, firing or resolved",
                        )
                    })?);
                }
                "receiver" => filter.receiver = Some(value.clone()),
                "filter" => filter.matchers.push(
                    Matcher::parse(value)
                        .map_err(|e| Error::invalid_input("filter", e.message().to_string()))?,
                ),
                other => {
                    return Err(Error::invalid_input(
                        "query",
                        format!(
                            "unknown parameter {:?}; known: state, receiver, filter",
                            other.chars().take(64).collect::<String>()
                        ),
                    ));
                }
            }
        }
        Ok(filter)
    }
}

/// An acknowledgement, as shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AckView {
    /// Who.
    pub by: String,
    /// Why.
    pub comment: String,
    /// When, RFC 3339.
    pub at: String,
}

/// A state change, as shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TransitionView {
    /// The state entered.
    pub state: AlertState,
    /// When, RFC 3339.
    pub at: String,
}

/// An alert, as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertView {
    /// Its identity.
    pub fingerprint: Fingerprint,
    /// Its labels.
    pub labels: Labels,
    /// Its annotations.
    pub annotations: Labels,
    /// Where it is in its lifecycle.
    pub state: AlertState,
    /// Its severity.
    pub severity: Severity,
    /// Who raised it.
    pub origin: Origin,
    /// When its current cycle started, RFC 3339.
    pub starts_at: String,
    /// When it started firing, RFC 3339.
    pub fired_at: Option<String>,
    /// When it was resolved, RFC 3339.
    pub ends_at: Option<String>,
    /// Its acknowledgement.
    pub acknowledged: Option<AckView>,
    /// The active silences muting it.
    pub silenced_by: Vec<SilenceId>,
    /// The firing alerts inhibiting it.
    pub inhibited_by: Vec<Fingerprint>,
    /// The receivers its routes send it to.
    pub receivers: Vec<String>,
    /// Its last state changes, oldest first.
    pub history: Vec<TransitionView>,
}

impl AlertView {
    /// Whether a silence or an inhibition mutes it.
    pub fn muted(&self) -> bool {
        !self.silenced_by.is_empty() || !self.inhibited_by.is_empty()
    }
}

/// A silence, as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SilenceView {
    /// Its identity.
    pub id: SilenceId,
    /// What it silences.
    pub matchers: Vec<MatcherSpec>,
    /// When it starts, RFC 3339.
    pub starts_at: String,
    /// When it ends, RFC 3339.
    pub ends_at: String,
    /// Who created it.
    pub created_by: String,
    /// Why.
    pub comment: String,
    /// Pending, active or expired.
    pub status: SilenceState,
}

/// Counts of alerts by state.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AlertCounts {
    /// Pending.
    pub pending: usize,
    /// Firing.
    pub firing: usize,
    /// Resolved and still kept.
    pub resolved: usize,
}

/// The state of alerting: receivers with their delivery counters, and counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertStatus {
    /// Every receiver, by name.
    pub receivers: Vec<ReceiverStatus>,
    /// Alerts by state.
    pub alerts: AlertCounts,
    /// Active silences.
    pub active_silences: usize,
    /// Aggregation groups.
    pub groups: usize,
    /// Alerts refused because `max_alerts` was reached.
    pub refused_alerts: u64,
}
