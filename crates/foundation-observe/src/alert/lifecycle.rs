//! The alert record and its lifecycle: inactive → pending → firing → resolved.
//!
//! A rule's alert becomes *pending* when its condition first holds and *firing* once it has
//! held for the rule's `for` duration; it is *resolved* when the condition stops holding (a
//! pending alert whose condition stops holding goes back to *inactive* and is forgotten).
//! Alerts fired through the API start firing. A resolved alert that fires again keeps its
//! fingerprint and starts a new cycle. Every transition is kept in a bounded history.

use std::collections::VecDeque;
use std::fmt;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::labels::{Fingerprint, Labels};

/// How serious an alert is; also its `severity` label.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// For information.
    Info,
    /// Something degrades; look at it soon.
    #[default]
    Warning,
    /// Something is broken; act now.
    Critical,
}

impl Severity {
    /// The lower-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an alert is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// The condition does not hold (a pending alert that cleared; it is then forgotten).
    Inactive,
    /// The condition holds, not yet for the rule's `for` duration.
    Pending,
    /// The condition has held long enough (or the alert was fired through the API).
    Firing,
    /// The alert stopped firing.
    Resolved,
}

impl AlertState {
    /// The lower-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
        }
    }

    /// Parses the lower-case name.
    pub fn parse(text: &str) -> Option<AlertState> {
        [
            AlertState::Inactive,
            AlertState::Pending,
            AlertState::Firing,
            AlertState::Resolved,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// Who or what raised an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum Origin {
    /// The rule of that name.
    Rule(String),
    /// A caller of the API.
    Api,
    /// Alerting itself (a receiver that stays down).
    Internal,
}

/// Who acknowledged an alert, when, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Acknowledgement {
    /// Who.
    pub by: String,
    /// Why, or what is being done.
    pub comment: String,
    /// When, on the manager's clock.
    pub at: Instant,
}

/// One state change of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The state entered.
    pub state: AlertState,
    /// When, on the manager's clock.
    pub at: Instant,
}

/// One alert: its identity, labels, annotations and lifecycle.
#[derive(Debug, Clone)]
pub struct Alert {
    /// The identity, from the labels.
    pub fingerprint: Fingerprint,
    /// The labels, `alertname` and `severity` included.
    pub labels: Labels,
    /// `summary`, `description` and whatever else describes it.
    pub annotations: Labels,
    /// Its severity.
    pub severity: Severity,
    /// Who raised it.
    pub origin: Origin,
    /// Where it is in its lifecycle.
    pub state: AlertState,
    /// When the current cycle started (became pending, or was fired).
    pub active_since: Instant,
    /// When it started firing in the current cycle.
    pub fired_at: Option<Instant>,
    /// When it was resolved.
    pub resolved_at: Option<Instant>,
    /// The acknowledgement of the current cycle, if any.
    pub acknowledged: Option<Acknowledgement>,
    /// The last state changes, oldest first, at most the configured history length.
    pub history: VecDeque<Transition>,
    history_limit: usize,
}

impl Alert {
    /// A new alert in `state` (pending or firing) at `now`.
    pub(crate) fn new(
        labels: Labels,
        annotations: Labels,
        severity: Severity,
        origin: Origin,
        state: AlertState,
        now: Instant,
        history_limit: usize,
    ) -> Alert {
        let mut alert = Alert {
            fingerprint: Fingerprint::of(&labels),
            labels,
            annotations,
            severity,
            origin,
            state: AlertState::Inactive,
            active_since: now,
            fired_at: None,
            resolved_at: None,
            acknowledged: None,
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
        };
        alert.enter(state, now);
        alert
    }

    /// Whether the alert is pending or firing.
    pub fn is_active(&self) -> bool {
        matches!(self.state, AlertState::Pending | AlertState::Firing)
    }

    /// What a rule evaluation saw: the condition holds (`active`) or not, with the rule's
    /// `for` duration. Returns the state entered, if it changed.
    pub(crate) fn observe(
        &mut self,
        active: bool,
        hold: std::time::Duration,
        now: Instant,
    ) -> Option<AlertState> {
        let next = match (self.state, active) {
            (AlertState::Pending, true)
                if now.saturating_duration_since(self.active_since) >= hold =>
            {
                AlertState::Firing
            }
            (AlertState::Pending, false) => AlertState::Inactive,
            (AlertState::Firing, false) => AlertState::Resolved,
            (AlertState::Resolved | AlertState::Inactive, true) => {
                self.restart(now);
                if hold.is_zero() {
                    AlertState::Firing
                } else {
                    AlertState::Pending
                }
            }
            _ => return None,
        };
        self.enter(next, now);
        Some(next)
    }

    /// Fires the alert (through the API): a resolved alert starts a new cycle. Returns whether
    /// it was not firing before.
    pub(crate) fn fire(&mut self, now: Instant) -> bool {
        match self.state {
            AlertState::Firing => false,
            AlertState::Pending => {
                self.enter(AlertState::Firing, now);
                true
            }
            AlertState::Resolved | AlertState::Inactive => {
                self.restart(now);
                self.enter(AlertState::Firing, now);
                true
            }
        }
    }

    /// Resolves a pending or firing alert; returns whether it was active.
    pub(crate) fn resolve(&mut self, now: Instant) -> bool {
        if !self.is_active() {
            return false;
        }
        self.enter(AlertState::Resolved, now);
        true
    }

    fn restart(&mut self, now: Instant) {
        self.active_since = now;
        self.fired_at = None;
        self.resolved_at = None;
        self.acknowledged = None;
    }

    fn enter(&mut self, state: AlertState, now: Instant) {
        self.state = state;
        match state {
            AlertState::Firing => self.fired_at = Some(now),
            AlertState::Resolved => self.resolved_at = Some(now),
            AlertState::Pending | AlertState::Inactive => {}
        }
        if self.history.len() == self.history_limit {
            self.history.pop_front();
        }
        self.history.push_back(Transition { state, at: now });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn alert(now: Instant) -> Alert {
        let labels: Labels = [("alertname".to_string(), "X".to_string())].into();
        Alert::new(
            labels,
            Labels::new(),
            Severity::Warning,
            Origin::Api,
            AlertState::Pending,
            now,
            3,
        )
    }

    #[test]
    fn pending_fires_only_after_the_hold_and_history_stays_bounded() {
        let t0 = Instant::now();
        let hold = Duration::from_secs(60);
        let mut a = alert(t0);
        assert_eq!(a.observe(true, hold, t0 + Duration::from_secs(30)), None);
        assert_eq!(
            a.observe(true, hold, t0 + Duration::from_secs(60)),
            Some(AlertState::Firing)
        );
        assert_eq!(
            a.observe(false, hold, t0 + Duration::from_secs(90)),
            Some(AlertState::Resolved)
        );
        let fp = a.fingerprint;
        assert_eq!(
            a.observe(true, hold, t0 + Duration::from_secs(120)),
            Some(AlertState::Pending)
        );
        assert_eq!(a.fingerprint, fp);
        assert_eq!(a.history.len(), 3);
        assert_eq!(a.history.back().unwrap().state, AlertState::Pending);
        assert_eq!(a.fired_at, None, "a new cycle forgets the last one");
    }

    #[test]
    fn a_pending_alert_that_clears_goes_inactive() {
        let t0 = Instant::now();
        let mut a = alert(t0);
        assert_eq!(
            a.observe(false, Duration::from_secs(1), t0),
            Some(AlertState::Inactive)
        );
        assert!(!a.resolve(t0));
        assert!(a.fire(t0));
        assert!(!a.fire(t0));
        assert!(a.resolve(t0));
    }
}
