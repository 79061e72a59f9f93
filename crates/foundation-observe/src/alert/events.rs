//! What alerting publishes on the telemetry bus.

use foundation_core::telemetry::Event;

use super::labels::{Fingerprint, Labels};
use super::lifecycle::Severity;

/// `foundation.alert.fired`: an alert started firing.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertFired {
    /// Its identity.
    pub fingerprint: Fingerprint,
    /// Its `alertname`.
    pub alertname: String,
    /// Its labels.
    pub labels: Labels,
    /// Its severity.
    pub severity: Severity,
}

impl Event for AlertFired {
    fn name(&self) -> &'static str {
        "foundation.alert.fired"
    }

    fn source(&self) -> &str {
        &self.alertname
    }
}

/// `foundation.alert.resolved`: a firing alert was resolved (its condition cleared, or
/// through the API).
#[derive(Debug, Clone, PartialEq)]
pub struct AlertResolved {
    /// Its identity.
    pub fingerprint: Fingerprint,
    /// Its `alertname`.
    pub alertname: String,
}

impl Event for AlertResolved {
    fn name(&self) -> &'static str {
        "foundation.alert.resolved"
    }

    fn source(&self) -> &str {
        &self.alertname
    }
}

/// `foundation.alert.acknowledged`: someone acknowledged an alert; its escalation stops.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertAcknowledged {
    /// Its identity.
    pub fingerprint: Fingerprint,
    /// Its `alertname`.
    pub alertname: String,
    /// Who.
    pub by: String,
}

impl Event for AlertAcknowledged {
    fn name(&self) -> &'static str {
        "foundation.alert.acknowledged"
    }

    fn source(&self) -> &str {
        &self.alertname
    }
}

/// `foundation.alert.escalated`: an unacknowledged alert went to the next receiver of its
/// escalation chain.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertEscalated {
    /// Its identity.
    pub fingerprint: Fingerprint,
    /// Its `alertname`.
    pub alertname: String,
    /// The step reached (1 for the first receiver after the route's own).
    pub step: usize,
    /// The receiver notified.
    pub receiver: String,
}

impl Event for AlertEscalated {
    fn name(&self) -> &'static str {
        "foundation.alert.escalated"
    }

    fn source(&self) -> &str {
        &self.alertname
    }
}

/// `foundation.alert.delivery_failed`: a notification could not be delivered, retries
/// included. The alerts stay pending delivery and are sent again at the group's next
/// interval; the receiver is reported down.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryFailed {
    /// The receiver.
    pub receiver: String,
    /// The group's key.
    pub group_key: String,
    /// The alerts it carried.
    pub alerts: Vec<Fingerprint>,
    /// The last error, as text.
    pub error: String,
    /// Failed notifications in a row for this receiver.
    pub consecutive_failures: u64,
}

impl Event for DeliveryFailed {
    fn name(&self) -> &'static str {
        "foundation.alert.delivery_failed"
    }

    fn source(&self) -> &str {
        &self.receiver
    }
}
