//! [`AlertManager`]: alert state, rules, routing, grouping, silences, inhibition, escalation
//! and delivery, behind one cheap-to-clone handle.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use foundation_core::{Clock, Error, ErrorCode, Result, TelemetryBus, Validator};
use parking_lot::Mutex;

use super::api::{
    AckView, AlertCounts, AlertFilter, AlertRequest, AlertStatus, AlertView, SilenceView,
    TransitionView,
};
use super::config::{AlertConfig, ReceiverConfig};
use super::delivery::{Job, Outcome, Slot};
use super::escalation;
use super::event_window::EventWindows;
use super::events::{AlertAcknowledged, AlertEscalated, AlertFired, AlertResolved, DeliveryFailed};
use super::group::{Group, GroupKey, INTERNAL_ROUTE};
use super::inhibit::{InhibitRule, inhibitors};
use super::labels::{ALERTNAME, Fingerprint, Labels, SEVERITY};
use super::lifecycle::{Acknowledgement, Alert, AlertState, Origin, Severity};
use super::matcher::all_match;
use super::receiver::{Notification, NotifiedAlert, Receiver};
use super::receivers::{LogReceiver, WebhookReceiver};
use super::route::{Route, Timing};
use super::rule::{RuleCondition, RuleConfig, Sources};
use super::silence::{Silence, SilenceId, SilenceRequest, Silences};
use super::task::{self, AlertTask};
use crate::health::{HealthAggregator, Scope, Timebase};
use crate::monitor::Monitor;

/// The `alertname` of the alert raised when a receiver stays down.
pub const RECEIVER_DOWN: &str = "AlertReceiverDown";

/// `endsAt` of an alert still firing, as Alertmanager writes it.
const NOT_ENDED: &str = "0001-01-01T00:00:00Z";

/// Alerting. Cheap to clone; clones share everything. See the [module docs](super).
#[derive(Clone)]
pub struct AlertManager {
    inner: Arc<Inner>,
}

struct Inner {
    config: AlertConfig,
    time: Timebase,
    bus: TelemetryBus,
    route: Route,
    inhibit: Vec<InhibitRule>,
    slots: BTreeMap<String, Arc<Slot>>,
    monitor: Option<Monitor>,
    health: Option<HealthAggregator>,
    state: Mutex<State>,
    windows: Mutex<EventWindows>,
    refused: AtomicU64,
}

#[derive(Default)]
struct State {
    alerts: HashMap<Fingerprint, Alert>,
    silences: Silences,
    groups: BTreeMap<GroupKey, Group>,
}

/// Something to publish once the state lock is released.
enum Published {
    Fired(AlertFired),
    Resolved(AlertResolved),
    Escalated(AlertEscalated),
    Failed(DeliveryFailed),
}

impl std::fmt::Debug for AlertManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertManager")
            .field("receivers", &self.inner.slots.keys().collect::<Vec<_>>())
            .field("rules", &self.inner.config.rules.len())
            .finish()
    }
}

impl AlertManager {
    /// Starts building a manager.
    pub fn builder() -> AlertManagerBuilder {
        AlertManagerBuilder::default()
    }

    /// The configuration.
    pub fn config(&self) -> &AlertConfig {
        &self.inner.config
    }

    /// The bus events are published on (and the engine listens to).
    pub(crate) fn bus(&self) -> &TelemetryBus {
        &self.inner.bus
    }

    fn now(&self) -> Instant {
        self.inner.time.clock.now()
    }

    // ---- the API ----

    /// Fires an alert (or refreshes the annotations of the same labels' alert, which keeps
    /// its identity). `INVALID_INPUT` naming the field for bad labels; `UNAVAILABLE` when
    /// `max_alerts` alerts are kept and none can be forgotten.
    pub fn fire(&self, request: &AlertRequest) -> Result<AlertView> {
        let (labels, severity) = request.resolve_labels()?;
        self.raise(labels, request.annotations.clone(), severity, Origin::Api)
    }

    fn raise(
        &self,
        labels: Labels,
        annotations: Labels,
        severity: Severity,
        origin: Origin,
    ) -> Result<AlertView> {
        let now = self.now();
        let fp = Fingerprint::of(&labels);
        let mut published = Vec::new();
        let view = {
            let mut state = self.inner.state.lock();
            let fired = match state.alerts.get_mut(&fp) {
                Some(alert) => {
                    alert.annotations = annotations;
                    alert.fire(now)
                }
                None => {
                    if !self.make_room(&mut state) {
                        self.inner.refused.fetch_add(1, Ordering::Relaxed);
                        return Err(self.full_error());
                    }
                    let alert = Alert::new(
                        labels,
                        annotations,
                        severity,
                        origin,
                        AlertState::Firing,
                        now,
                        self.inner.config.history,
                    );
                    state.alerts.insert(fp, alert);
                    true
                }
            };
            if fired {
                self.on_fired(&mut state, fp, now, &mut published);
            }
            self.view(&state, &firing(&state), &state.alerts[&fp], now)
        };
        self.publish(published);
        Ok(view)
    }

    /// Resolves an alert (a no-op for one already resolved); `NOT_FOUND` for an unknown
    /// fingerprint. A rule whose condition still holds raises it again.
    pub fn resolve(&self, fingerprint: Fingerprint) -> Result<AlertView> {
        let now = self.now();
        let mut published = Vec::new();
        let view = {
            let mut state = self.inner.state.lock();
            let alert = state
                .alerts
                .get_mut(&fingerprint)
                .ok_or_else(|| Error::not_found("alert", fingerprint))?;
            let was_firing = alert.state == AlertState::Firing;
            if alert.resolve(now) && was_firing {
                published.push(resolved_event(alert));
            }
            self.view(&state, &firing(&state), &state.alerts[&fingerprint], now)
        };
        self.publish(published);
        Ok(view)
    }

    /// Acknowledges a pending or firing alert, which stops its escalation. `NOT_FOUND` for
    /// an unknown fingerprint; `INVALID_INPUT` naming `by` when empty, or `state` when the
    /// alert is not active.
    pub fn acknowledge(
        &self,
        fingerprint: Fingerprint,
        by: &str,
        comment: &str,
    ) -> Result<AlertView> {
        if by.trim().is_empty() {
            return Err(Error::invalid_input("by", "must not be empty"));
        }
        let now = self.now();
        let (view, event) = {
            let mut state = self.inner.state.lock();
            let alert = state
                .alerts
                .get_mut(&fingerprint)
                .ok_or_else(|| Error::not_found("alert", fingerprint))?;
            if !alert.is_active() {
                return Err(Error::invalid_input(
                    "state",
                    format!(
                        "alert {fingerprint} is {}, not pending or firing",
                        alert.state.as_str()
                    ),
                ));
            }
            alert.acknowledged = Some(Acknowledgement {
                by: by.to_string(),
                comment: comment.to_string(),
                at: now,
            });
            let event = AlertAcknowledged {
                fingerprint,
                alertname: alertname(alert),
                by: by.to_string(),
            };
            (
                self.view(&state, &firing(&state), &state.alerts[&fingerprint], now),
                event,
            )
        };
        tracing::info!(fingerprint = %fingerprint, by, "foundation.alert.acknowledged");
        self.inner.bus.emit(event);
        Ok(view)
    }

    /// One alert; `NOT_FOUND` for an unknown fingerprint.
    pub fn alert(&self, fingerprint: Fingerprint) -> Result<AlertView> {
        let now = self.now();
        let state = self.inner.state.lock();
        let alert = state
            .alerts
            .get(&fingerprint)
            .ok_or_else(|| Error::not_found("alert", fingerprint))?;
        Ok(self.view(&state, &firing(&state), alert, now))
    }

    /// The alerts `filter` selects, firing first, then by fingerprint.
    pub fn alerts(&self, filter: &AlertFilter) -> Vec<AlertView> {
        let now = self.now();
        let state = self.inner.state.lock();
        let firing = firing(&state);
        let mut views: Vec<AlertView> = state
            .alerts
            .values()
            .filter(|a| filter.state.is_none_or(|s| a.state == s))
            .filter(|a| all_match(&filter.matchers, &a.labels))
            .map(|a| self.view(&state, &firing, a, now))
            .filter(|v| {
                filter
                    .receiver
                    .as_ref()
                    .is_none_or(|r| v.receivers.contains(r))
            })
            .collect();
        views.sort_by_key(|v| (v.state != AlertState::Firing, v.fingerprint));
        views
    }

    /// Creates a silence; `INVALID_INPUT` naming the field for bad matchers or times.
    pub fn create_silence(&self, request: &SilenceRequest) -> Result<SilenceView> {
        let now = self.now();
        let mut state = self.inner.state.lock();
        let silence = state.silences.create(
            request,
            &self.inner.time,
            now,
            self.inner.config.max_silences,
        )?;
        tracing::info!(id = %silence.id, by = %silence.created_by, "foundation.alert.silence_created");
        Ok(self.silence_view(&silence, now))
    }

    /// Expires a silence now; `NOT_FOUND` for an unknown id.
    pub fn expire_silence(&self, id: SilenceId) -> Result<SilenceView> {
        let now = self.now();
        let silence = self.inner.state.lock().silences.expire(id, now)?;
        tracing::info!(id = %id, "foundation.alert.silence_expired");
        Ok(self.silence_view(&silence, now))
    }

    /// One silence; `NOT_FOUND` for an unknown id.
    pub fn silence(&self, id: SilenceId) -> Result<SilenceView> {
        let now = self.now();
        let silence = self.inner.state.lock().silences.get(id)?;
        Ok(self.silence_view(&silence, now))
    }

    /// Every silence kept, by id.
    pub fn silences(&self) -> Vec<SilenceView> {
        let now = self.now();
        let all = self.inner.state.lock().silences.all();
        all.iter().map(|s| self.silence_view(s, now)).collect()
    }

    /// Receivers with their delivery counters, and counts of alerts and silences.
    pub fn status(&self) -> AlertStatus {
        let now = self.now();
        let state = self.inner.state.lock();
        let mut alerts = AlertCounts::default();
        for alert in state.alerts.values() {
            match alert.state {
                AlertState::Pending => alerts.pending += 1,
                AlertState::Firing => alerts.firing += 1,
                AlertState::Resolved => alerts.resolved += 1,
                AlertState::Inactive => {}
            }
        }
        AlertStatus {
            receivers: self.inner.slots.values().map(|s| s.status()).collect(),
            alerts,
            active_silences: state
                .silences
                .all()
                .iter()
                .filter(|s| s.state(now) == super::silence::SilenceState::Active)
                .count(),
            groups: state.groups.len(),
            refused_alerts: self.inner.refused.load(Ordering::Relaxed),
        }
    }

    /// The HTTP API (see [`http`](super::http)), to mount with `Router::merge`.
    pub fn router(&self) -> axum::Router {
        super::http::router(self.clone())
    }

    /// Starts the engine: rules evaluated every `evaluation_interval` (and at the next flush
    /// after a health check changes status or a monitor threshold is breached or cleared on
    /// the manager's bus), notifications and escalations every `flush_interval`, deliveries
    /// running concurrently. Stops when the returned task is stopped or dropped.
    pub fn spawn(&self) -> AlertTask {
        task::spawn(self.clone())
    }

    /// Makes room for one more alert by forgetting the oldest resolved one outside every
    /// group; whether there is room.
    fn make_room(&self, state: &mut State) -> bool {
        if state.alerts.len() < self.inner.config.max_alerts {
            return true;
        }
        let grouped: HashSet<Fingerprint> = state
            .groups
            .values()
            .flat_map(|g| g.alerts.iter().copied())
            .collect();
        let oldest = state
            .alerts
            .values()
            .filter(|a| !a.is_active() && !grouped.contains(&a.fingerprint))
            .min_by_key(|a| a.resolved_at)
            .map(|a| a.fingerprint);
        match oldest {
            Some(fp) => {
                state.alerts.remove(&fp);
                true
            }
            None => false,
        }
    }

    fn full_error(&self) -> Error {
        Error::new(
            ErrorCode::UNAVAILABLE,
            format!(
                "{} alerts are kept, none of them resolved; the alert was not recorded",
                self.inner.config.max_alerts
            ),
        )
        .with_context("max_alerts", self.inner.config.max_alerts)
    }

    /// Forgets resolved alerts past their retention (once no group holds them) and expired
    /// silences past theirs.
    fn forget_old(&self, state: &mut State, now: Instant) {
        let retention = self.inner.config.resolved_retention;
        let grouped: HashSet<Fingerprint> = state
            .groups
            .values()
            .flat_map(|g| g.alerts.iter().copied())
            .collect();
        state.alerts.retain(|fp, a| {
            a.is_active()
                || grouped.contains(fp)
                || a.resolved_at
                    .is_none_or(|t| now.saturating_duration_since(t) <= retention)
        });
        state
            .silences
            .forget_expired(now, self.inner.config.silence_retention);
    }
    fn publish(&self, published: Vec<Published>) {
        let bus = &self.inner.bus;
        for p in published {
            match p {
                Published::Fired(e) => bus.emit(e),
                Published::Resolved(e) => {
                    tracing::info!(fingerprint = %e.fingerprint, alertname = %e.alertname, "foundation.alert.resolved");
                    bus.emit(e);
                }
                Published::Escalated(e) => bus.emit(e),
                Published::Failed(e) => bus.emit(e),
            }
        }
    }
}

fn alertname(alert: &Alert) -> String {
    alert.labels.get(ALERTNAME).cloned().unwrap_or_default()
}

fn resolved_event(alert: &Alert) -> Published {
    Published::Resolved(AlertResolved {
        fingerprint: alert.fingerprint,
        alertname: alertname(alert),
    })
}

mod builder;
mod dispatch;
mod evaluate;
mod view;

use view::firing;

pub use builder::AlertManagerBuilder;
