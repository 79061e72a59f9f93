//! Receivers and what they receive: a [`Notification`] about one group of alerts, in a JSON
//! shape Alertmanager's webhook receivers already read.
//!
//! Built in: [`LogReceiver`](super::receivers::LogReceiver) (`tracing`),
//! [`WebhookReceiver`](super::receivers::WebhookReceiver) (HTTP POST of the JSON) and
//! [`ChannelReceiver`](super::receivers::ChannelReceiver) (a bounded in-process channel).
//! Every delivery runs through the receiver's
//! [`Protection`](foundation_protect::protection::Protection) (retry with backoff, timeout,
//! circuit breaker; see [`DeliveryConfig`](super::DeliveryConfig)), so a slow or failing
//! receiver is contained.

use futures::future::BoxFuture;
use serde::Serialize;

use foundation_core::Result;

use super::labels::{Fingerprint, Labels};
use super::lifecycle::AlertState;

/// Where notifications go.
pub trait Receiver: Send + Sync + 'static {
    /// The receiver's name, as routes refer to it.
    fn name(&self) -> &str;

    /// What kind of receiver it is (`log`, `webhook`, `channel`...), for the status.
    fn kind(&self) -> &'static str {
        "custom"
    }

    /// Delivers one notification. An error is retried if it is retryable, and counted.
    fn deliver<'a>(&'a self, notification: &'a Notification) -> BoxFuture<'a, Result<()>>;
}

/// Whether a notification is about firing alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NotificationStatus {
    /// At least one alert is firing.
    Firing,
    /// Every alert in it is resolved.
    Resolved,
}

/// One alert in a notification.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotifiedAlert {
    /// `firing` or `resolved`.
    pub status: NotificationStatus,
    /// Its labels.
    pub labels: Labels,
    /// Its annotations.
    pub annotations: Labels,
    /// When it started firing, RFC 3339.
    pub starts_at: String,
    /// When it was resolved, RFC 3339; `0001-01-01T00:00:00Z` while firing.
    pub ends_at: String,
    /// Its identity.
    pub fingerprint: Fingerprint,
}

impl NotifiedAlert {
    /// The alert's state as a notification status.
    pub(crate) fn status_of(state: AlertState) -> NotificationStatus {
        if state == AlertState::Firing {
            NotificationStatus::Firing
        } else {
            NotificationStatus::Resolved
        }
    }
}

/// What a receiver is sent: one group's alerts (Alertmanager webhook format, version 4).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// The payload format's version: `4`.
    pub version: &'static str,
    /// The group's identity: route and group labels.
    pub group_key: String,
    /// The receiver it is for.
    pub receiver: String,
    /// `firing` if any alert fires, else `resolved`.
    pub status: NotificationStatus,
    /// The alerts.
    pub alerts: Vec<NotifiedAlert>,
    /// The labels the group is keyed by.
    pub group_labels: Labels,
    /// Labels every alert shares.
    pub common_labels: Labels,
    /// Annotations every alert shares.
    pub common_annotations: Labels,
    /// Alerts left out (always 0: notifications carry every alert of the group).
    pub truncated_alerts: usize,
    /// For an escalation, the step (1 for the first receiver after the route's own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalation_step: Option<usize>,
}

impl Notification {
    /// A notification of `alerts` for `receiver`.
    pub(crate) fn new(
        receiver: &str,
        group_key: String,
        group_labels: Labels,
        alerts: Vec<NotifiedAlert>,
    ) -> Notification {
        let status = if alerts
            .iter()
            .any(|a| a.status == NotificationStatus::Firing)
        {
            NotificationStatus::Firing
        } else {
            NotificationStatus::Resolved
        };
        Notification {
            version: "4",
            group_key,
            receiver: receiver.to_string(),
            status,
            common_labels: common(alerts.iter().map(|a| &a.labels)),
            common_annotations: common(alerts.iter().map(|a| &a.annotations)),
            alerts,
            group_labels,
            truncated_alerts: 0,
            escalation_step: None,
        }
    }

    /// The fingerprints of the alerts in it.
    pub fn fingerprints(&self) -> Vec<Fingerprint> {
        self.alerts.iter().map(|a| a.fingerprint).collect()
    }
}

/// The pairs every map in `maps` has.
fn common<'a>(mut maps: impl Iterator<Item = &'a Labels>) -> Labels {
    let Some(first) = maps.next() else {
        return Labels::new();
    };
    let mut out = first.clone();
    for map in maps {
        out.retain(|k, v| map.get(k) == Some(v));
    }
    out
}
