//! Alerts and silences as the API shows them.

use super::*;

impl AlertManager {
    pub(super) fn notified(&self, alert: &Alert) -> NotifiedAlert {
        let status = NotifiedAlert::status_of(alert.state);
        NotifiedAlert {
            status,
            labels: alert.labels.clone(),
            annotations: alert.annotations.clone(),
            starts_at: self.rfc3339(alert.fired_at.unwrap_or(alert.active_since)),
            ends_at: match (status, alert.resolved_at) {
                (crate::alert::receiver::NotificationStatus::Resolved, Some(t)) => self.rfc3339(t),
                _ => NOT_ENDED.to_string(),
            },
            fingerprint: alert.fingerprint,
        }
    }

    /// `alert` as shown; `firing` lists every firing alert (for inhibition).
    pub(super) fn view(
        &self,
        state: &State,
        firing: &[(Fingerprint, &Labels)],
        alert: &Alert,
        now: Instant,
    ) -> AlertView {
        let (silenced_by, inhibited_by) = if alert.is_active() {
            (
                state.silences.silencing(&alert.labels, now),
                inhibitors(
                    &self.inner.inhibit,
                    (alert.fingerprint, &alert.labels),
                    firing.iter().copied(),
                ),
            )
        } else {
            (Vec::new(), Vec::new())
        };
        let mut receivers: Vec<String> = self
            .groups_for(alert)
            .into_iter()
            .map(|(_, r, _, _)| r)
            .collect();
        receivers.dedup();
        AlertView {
            fingerprint: alert.fingerprint,
            labels: alert.labels.clone(),
            annotations: alert.annotations.clone(),
            state: alert.state,
            severity: alert.severity,
            origin: alert.origin.clone(),
            starts_at: self.rfc3339(alert.active_since),
            fired_at: alert.fired_at.map(|t| self.rfc3339(t)),
            ends_at: alert.resolved_at.map(|t| self.rfc3339(t)),
            acknowledged: alert.acknowledged.as_ref().map(|a| AckView {
                by: a.by.clone(),
                comment: a.comment.clone(),
                at: self.rfc3339(a.at),
            }),
            silenced_by,
            inhibited_by,
            receivers,
            history: alert
                .history
                .iter()
                .map(|t| TransitionView {
                    state: t.state,
                    at: self.rfc3339(t.at),
                })
                .collect(),
        }
    }

    pub(super) fn silence_view(&self, silence: &Silence, now: Instant) -> SilenceView {
        SilenceView {
            id: silence.id,
            matchers: silence.matchers.iter().map(|m| m.spec()).collect(),
            starts_at: self.rfc3339(silence.starts_at),
            ends_at: self.rfc3339(silence.ends_at),
            created_by: silence.created_by.clone(),
            comment: silence.comment.clone(),
            status: silence.state(now),
        }
    }

    pub(super) fn rfc3339(&self, at: Instant) -> String {
        chrono::DateTime::<chrono::Utc>::from(self.inner.time.wall(at))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }
}

/// Every firing alert's fingerprint and labels.
pub(super) fn firing(state: &State) -> Vec<(Fingerprint, &Labels)> {
    state
        .alerts
        .values()
        .filter(|a| a.state == AlertState::Firing)
        .map(|a| (a.fingerprint, &a.labels))
        .collect()
}
