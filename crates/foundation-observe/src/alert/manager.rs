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

    // ---- the engine's steps ----

    /// Evaluates every rule once, moving their alerts through pending, firing and resolved.
    pub async fn evaluate(&self) {
        let rules = &self.inner.config.rules;
        if rules.is_empty() {
            return;
        }
        let needs_health = rules
            .iter()
            .any(|r| matches!(r.condition, RuleCondition::Health { .. }));
        let report = match (&self.inner.health, needs_health) {
            (Some(health), true) => Some(health.report(Scope::all()).await),
            _ => None,
        };
        let now = self.now();
        let seen: Vec<(&RuleConfig, Vec<super::rule::Instance>)> = {
            let mut windows = self.inner.windows.lock();
            let mut sources = Sources {
                monitor: self.inner.monitor.as_ref(),
                health: report.as_ref(),
                windows: &mut windows,
                now,
            };
            rules
                .iter()
                .map(|r| (r, r.instances(&mut sources)))
                .collect()
        };
        let mut published = Vec::new();
        {
            let mut state = self.inner.state.lock();
            for (rule, instances) in seen {
                self.apply_rule(&mut state, rule, instances, now, &mut published);
            }
            state.alerts.retain(|_, a| a.state != AlertState::Inactive);
        }
        self.publish(published);
    }

    fn apply_rule(
        &self,
        state: &mut State,
        rule: &RuleConfig,
        instances: Vec<super::rule::Instance>,
        now: Instant,
        published: &mut Vec<Published>,
    ) {
        let mut seen = HashSet::new();
        let mut changed = Vec::new();
        for instance in instances {
            let fp = Fingerprint::of(&instance.labels);
            seen.insert(fp);
            match state.alerts.get_mut(&fp) {
                Some(alert) => {
                    alert.annotations = instance.annotations;
                    if let Some(next) = alert.observe(instance.active, rule.hold, now) {
                        changed.push((fp, next));
                    }
                }
                None if instance.active => {
                    if !self.make_room(state) {
                        self.inner.refused.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(rule = %rule.name, "foundation.alert.refused");
                        continue;
                    }
                    let first = if rule.hold.is_zero() {
                        AlertState::Firing
                    } else {
                        AlertState::Pending
                    };
                    let alert = Alert::new(
                        instance.labels,
                        instance.annotations,
                        rule.severity,
                        Origin::Rule(rule.name.clone()),
                        first,
                        now,
                        self.inner.config.history,
                    );
                    state.alerts.insert(fp, alert);
                    changed.push((fp, first));
                }
                None => {}
            }
        }
        // Alerts of the rule that it no longer sees (their operation was forgotten) clear.
        for alert in state.alerts.values_mut() {
            if alert.origin == Origin::Rule(rule.name.clone())
                && alert.is_active()
                && !seen.contains(&alert.fingerprint)
                && let Some(next) = alert.observe(false, rule.hold, now)
            {
                changed.push((alert.fingerprint, next));
            }
        }
        for (fp, next) in changed {
            match next {
                AlertState::Firing => self.on_fired(state, fp, now, published),
                AlertState::Resolved => published.push(resolved_event(&state.alerts[&fp])),
                AlertState::Pending | AlertState::Inactive => {}
            }
        }
    }

    /// Delivers every notification and escalation due now, and waits for the deliveries
    /// (each bounded by its protection's timeout and retries).
    pub async fn flush(&self) {
        let jobs = self.prepare();
        futures::future::join_all(jobs.into_iter().map(|job| self.run(job))).await;
    }

    /// [`evaluate`](Self::evaluate), then [`flush`](Self::flush).
    pub async fn tick(&self) {
        self.evaluate().await;
        self.flush().await;
    }

    /// The notifications and escalations due now; the groups they are for are marked in
    /// flight until [`run`](Self::run) completes them.
    pub(crate) fn prepare(&self) -> Vec<Job> {
        let now = self.now();
        let mut jobs = Vec::new();
        let mut published = Vec::new();
        {
            let mut guard = self.inner.state.lock();
            let state = &mut *guard;
            self.forget_old(state, now);
            let firing: Vec<(Fingerprint, Labels)> = state
                .alerts
                .values()
                .filter(|a| a.state == AlertState::Firing)
                .map(|a| (a.fingerprint, a.labels.clone()))
                .collect();
            let muted = |state: &State, alert: &Alert| {
                !state.silences.silencing(&alert.labels, now).is_empty()
                    || !inhibitors(
                        &self.inner.inhibit,
                        (alert.fingerprint, &alert.labels),
                        firing.iter().map(|(fp, l)| (*fp, l)),
                    )
                    .is_empty()
            };
            let keys: Vec<GroupKey> = state.groups.keys().cloned().collect();
            for key in keys {
                let Some(group) = state.groups.get(&key) else {
                    continue;
                };
                if group.in_flight {
                    continue;
                }
                // Sort the group's alerts: unmuted firing, resolved, or dropped unseen.
                let mut firing_now = BTreeSet::new();
                let mut ended = BTreeSet::new();
                for fp in &group.alerts {
                    match state.alerts.get(fp) {
                        Some(a) if a.state == AlertState::Firing => {
                            if !muted(state, a) {
                                firing_now.insert(*fp);
                            }
                        }
                        _ => {
                            ended.insert(*fp);
                        }
                    }
                }
                let group = state.groups.get_mut(&key).expect("the key was just read");
                self.escalate(
                    &key,
                    group,
                    &state.alerts,
                    &firing_now,
                    &ended,
                    now,
                    &mut jobs,
                    &mut published,
                );
                if now < group.next_flush {
                    continue;
                }
                group.next_flush = now + group.timing.group_interval;
                let resolved: BTreeSet<Fingerprint> =
                    ended.intersection(&group.sent_firing).copied().collect();
                for fp in ended.difference(&resolved) {
                    group.alerts.remove(fp);
                }
                if group.should_notify(&firing_now, &resolved, now) {
                    let alerts = firing_now
                        .iter()
                        .chain(&resolved)
                        .filter_map(|fp| state.alerts.get(fp))
                        .map(|a| self.notified(a))
                        .collect();
                    if let Some(slot) = self.inner.slots.get(&group.receiver) {
                        group.in_flight = true;
                        jobs.push(Job {
                            slot: slot.clone(),
                            notification: Notification::new(
                                &group.receiver,
                                key.to_string(),
                                key.labels.clone(),
                                alerts,
                            ),
                            group: Some(key.clone()),
                            started: now,
                        });
                    }
                } else {
                    // Nothing new: the receiver's view is current, resolved ones included.
                    for fp in &resolved {
                        group.alerts.remove(fp);
                        group.sent_firing.remove(fp);
                    }
                }
            }
            state
                .groups
                .retain(|_, g| g.in_flight || !g.alerts.is_empty());
        }
        self.publish(published);
        jobs
    }

    /// Escalation steps due for `group`'s alerts, and resolved notices to the receivers that
    /// escalation reached for alerts that ended.
    #[allow(clippy::too_many_arguments)]
    fn escalate(
        &self,
        key: &GroupKey,
        group: &mut Group,
        alerts: &HashMap<Fingerprint, Alert>,
        firing: &BTreeSet<Fingerprint>,
        ended: &BTreeSet<Fingerprint>,
        now: Instant,
        jobs: &mut Vec<Job>,
        published: &mut Vec<Published>,
    ) {
        if group.escalation.is_empty() {
            return;
        }
        for fp in firing {
            let Some(alert) = alerts.get(fp) else {
                continue;
            };
            let (Some(fired_at), None) = (alert.fired_at, &alert.acknowledged) else {
                continue;
            };
            let track = group.escalations.entry(*fp).or_default();
            for step in escalation::due(&group.escalation, fired_at, track.done, now) {
                let receiver = &group.escalation[step].receiver;
                track.done = step + 1;
                track.notified.push(receiver.clone());
                tracing::warn!(fingerprint = %fp, receiver = %receiver, step = step + 1, "foundation.alert.escalated");
                published.push(Published::Escalated(AlertEscalated {
                    fingerprint: *fp,
                    alertname: alertname(alert),
                    step: step + 1,
                    receiver: receiver.clone(),
                }));
                if let Some(job) = self.single(key, receiver, alert, step + 1, now) {
                    jobs.push(job);
                }
            }
        }
        for fp in ended {
            let Some(track) = group.escalations.remove(fp) else {
                continue;
            };
            let Some(alert) = alerts.get(fp) else {
                continue;
            };
            for (i, receiver) in track.notified.iter().enumerate() {
                if let Some(job) = self.single(key, receiver, alert, i + 1, now) {
                    jobs.push(job);
                }
            }
        }
    }

    /// A notification of one alert to `receiver` for escalation step `step`.
    fn single(
        &self,
        key: &GroupKey,
        receiver: &str,
        alert: &Alert,
        step: usize,
        now: Instant,
    ) -> Option<Job> {
        let slot = self.inner.slots.get(receiver)?;
        let mut notification = Notification::new(
            receiver,
            format!("{key}/escalation/{step}"),
            key.labels.clone(),
            vec![self.notified(alert)],
        );
        notification.escalation_step = Some(step);
        Some(Job {
            slot: slot.clone(),
            notification,
            group: None,
            started: now,
        })
    }

    /// Delivers `job` and records the outcome.
    pub(crate) async fn run(&self, job: Job) {
        let outcome = job.slot.deliver(&job.notification).await;
        self.complete(&job, outcome);
    }

    fn complete(&self, job: &Job, outcome: Outcome) {
        let now = self.now();
        let receiver = job.slot.receiver.name().to_string();
        let mut published = Vec::new();
        {
            let mut state = self.inner.state.lock();
            if let Some(key) = &job.group
                && let Some(group) = state.groups.get_mut(key)
            {
                group.in_flight = false;
                if matches!(outcome, Outcome::Delivered { .. }) {
                    group.last_sent = Some(now);
                    group.sent_firing.clear();
                    for alert in &job.notification.alerts {
                        if alert.status == super::receiver::NotificationStatus::Firing {
                            group.sent_firing.insert(alert.fingerprint);
                        } else {
                            group.alerts.remove(&alert.fingerprint);
                        }
                    }
                    if group.alerts.is_empty() {
                        state.groups.remove(key);
                    }
                }
            }
        }
        match outcome {
            Outcome::Delivered { recovered } => {
                tracing::debug!(receiver = %receiver, alerts = job.notification.alerts.len(), "foundation.alert.delivered");
                if recovered {
                    tracing::info!(receiver = %receiver, "foundation.alert.receiver_recovered");
                    if let Ok(fp) = self.down_fingerprint(&receiver) {
                        let _ = self.resolve(fp);
                    }
                }
            }
            Outcome::Failed {
                error,
                consecutive,
                newly_down,
            } => {
                tracing::error!(
                    receiver = %receiver, group = %job.notification.group_key,
                    alerts = job.notification.alerts.len(), consecutive, error = %error,
                    took = ?now.saturating_duration_since(job.started),
                    "foundation.alert.delivery_failed"
                );
                published.push(Published::Failed(DeliveryFailed {
                    receiver: receiver.clone(),
                    group_key: job.notification.group_key.clone(),
                    alerts: job.notification.fingerprints(),
                    error: error.to_string(),
                    consecutive_failures: consecutive,
                }));
                if newly_down || self.down_fingerprint(&receiver).is_err() {
                    self.report_down(&receiver, &error);
                }
            }
        }
        self.publish(published);
    }

    /// Raises `AlertReceiverDown` for `receiver`, delivered to the fallback receiver.
    fn report_down(&self, receiver: &str, error: &Error) {
        let labels: Labels = [
            (ALERTNAME.to_string(), RECEIVER_DOWN.to_string()),
            ("receiver".to_string(), receiver.to_string()),
            (
                SEVERITY.to_string(),
                Severity::Critical.as_str().to_string(),
            ),
        ]
        .into();
        let annotations: Labels = [
            (
                "summary".to_string(),
                format!("receiver {receiver} cannot be delivered to"),
            ),
            ("description".to_string(), error.to_string()),
        ]
        .into();
        if let Err(e) = self.raise(labels, annotations, Severity::Critical, Origin::Internal) {
            tracing::error!(receiver, error = %e, "foundation.alert.receiver_down_not_recorded");
        }
    }

    /// The fingerprint of `receiver`'s firing `AlertReceiverDown`, if there is one.
    fn down_fingerprint(&self, receiver: &str) -> Result<Fingerprint> {
        let labels: Labels = [
            (ALERTNAME.to_string(), RECEIVER_DOWN.to_string()),
            ("receiver".to_string(), receiver.to_string()),
            (
                SEVERITY.to_string(),
                Severity::Critical.as_str().to_string(),
            ),
        ]
        .into();
        let fp = Fingerprint::of(&labels);
        let state = self.inner.state.lock();
        match state.alerts.get(&fp) {
            Some(a) if a.state == AlertState::Firing => Ok(fp),
            _ => Err(Error::not_found("alert", fp)),
        }
    }

    /// Marks every group out of flight (the engine stopped with deliveries running).
    pub(crate) fn abandon_in_flight(&self) {
        for group in self.inner.state.lock().groups.values_mut() {
            group.in_flight = false;
        }
    }

    // ---- internals ----

    /// Routes a newly firing alert into its groups and publishes it.
    fn on_fired(
        &self,
        state: &mut State,
        fp: Fingerprint,
        now: Instant,
        published: &mut Vec<Published>,
    ) {
        let Some(alert) = state.alerts.get(&fp) else {
            return;
        };
        tracing::warn!(fingerprint = %fp, alertname = %alertname(alert), severity = %alert.severity, "foundation.alert.fired");
        published.push(Published::Fired(AlertFired {
            fingerprint: fp,
            alertname: alertname(alert),
            labels: alert.labels.clone(),
            severity: alert.severity,
        }));
        for (key, receiver, timing, steps) in self.groups_for(alert) {
            state
                .groups
                .entry(key)
                .or_insert_with(|| Group::new(receiver, timing, steps, now))
                .alerts
                .insert(fp);
        }
    }

    /// The groups an alert belongs to: its routes', or for an internal alert the fallback
    /// receiver's (none when it is the receiver reported down).
    fn groups_for(
        &self,
        alert: &Alert,
    ) -> Vec<(
        GroupKey,
        String,
        Timing,
        Vec<super::escalation::EscalationStep>,
    )> {
        if alert.origin == Origin::Internal {
            let fallback = self.inner.config.fallback_receiver.as_ref();
            return fallback
                .filter(|f| alert.labels.get("receiver") != Some(*f))
                .map(|f| {
                    let timing = Timing {
                        group_wait: Duration::ZERO,
                        ..self.inner.route.timing
                    };
                    let key = GroupKey {
                        route: INTERNAL_ROUTE,
                        labels: alert.labels.clone(),
                    };
                    (key, f.clone(), timing, Vec::new())
                })
                .into_iter()
                .collect();
        }
        self.inner
            .route
            .routes_for(&alert.labels)
            .into_iter()
            .map(|route| {
                let key = GroupKey {
                    route: route.id,
                    labels: route.group_labels(&alert.labels),
                };
                (
                    key,
                    route.receiver.clone(),
                    route.timing,
                    route.escalation.clone(),
                )
            })
            .collect()
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

    fn notified(&self, alert: &Alert) -> NotifiedAlert {
        let status = NotifiedAlert::status_of(alert.state);
        NotifiedAlert {
            status,
            labels: alert.labels.clone(),
            annotations: alert.annotations.clone(),
            starts_at: self.rfc3339(alert.fired_at.unwrap_or(alert.active_since)),
            ends_at: match (status, alert.resolved_at) {
                (super::receiver::NotificationStatus::Resolved, Some(t)) => self.rfc3339(t),
                _ => NOT_ENDED.to_string(),
            },
            fingerprint: alert.fingerprint,
        }
    }

    /// `alert` as shown; `firing` lists every firing alert (for inhibition).
    fn view(
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

    fn silence_view(&self, silence: &Silence, now: Instant) -> SilenceView {
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

    fn rfc3339(&self, at: Instant) -> String {
        chrono::DateTime::<chrono::Utc>::from(self.inner.time.wall(at))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
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

/// Every firing alert's fingerprint and labels.
fn firing(state: &State) -> Vec<(Fingerprint, &Labels)> {
    state
        .alerts
        .values()
        .filter(|a| a.state == AlertState::Firing)
        .map(|a| (a.fingerprint, &a.labels))
        .collect()
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

/// Builds an [`AlertManager`].
#[derive(Default)]
pub struct AlertManagerBuilder {
    config: AlertConfig,
    clock: Option<Clock>,
    bus: Option<TelemetryBus>,
    monitor: Option<Monitor>,
    health: Option<HealthAggregator>,
    receivers: Vec<Arc<dyn Receiver>>,
}

impl std::fmt::Debug for AlertManagerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertManagerBuilder")
            .field("config", &self.config)
            .field(
                "receivers",
                &self.receivers.iter().map(|r| r.name()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl AlertManagerBuilder {
    /// Sets the configuration.
    pub fn config(mut self, config: AlertConfig) -> Self {
        self.config = config;
        self
    }

    /// Sets the clock (default: tokio's).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Sets the bus events are published on (default: the global bus).
    pub fn bus(mut self, bus: TelemetryBus) -> Self {
        self.bus = Some(bus);
        self
    }

    /// The monitor metric rules read.
    pub fn monitor(mut self, monitor: Monitor) -> Self {
        self.monitor = Some(monitor);
        self
    }

    /// The health aggregator health rules read.
    pub fn health(mut self, health: HealthAggregator) -> Self {
        self.health = Some(health);
        self
    }

    /// Registers a receiver besides those in the config (an in-process channel, your own).
    pub fn receiver(mut self, receiver: impl Receiver) -> Self {
        self.receivers.push(Arc::new(receiver));
        self
    }

    /// Builds the manager. `INVALID_CONFIG` naming every bad field: timings, receivers
    /// (unknown, twice, bad URL), routes, matchers and regexes, inhibition rules, rules (and
    /// a rule whose source, monitor or health, was not given).
    pub fn build(self) -> Result<AlertManager> {
        let config = self.config;
        let mut v = Validator::new("alert");
        let mut extra = BTreeSet::new();
        for (i, r) in self.receivers.iter().enumerate() {
            v.non_empty(&format!("receivers[{i}]"), r.name()).check(
                extra.insert(r.name().to_string()),
                &format!("receivers[{i}]"),
                format_args!("receiver {:?} is registered twice", r.name()),
            );
        }
        for (i, r) in config.receivers.iter().enumerate() {
            v.check(
                !extra.contains(r.name()),
                &format!("receivers[{i}].name"),
                format_args!("receiver {:?} is also registered on the builder", r.name()),
            );
        }
        config.validate_with(&mut v, &extra);
        for (i, rule) in config.rules.iter().enumerate() {
            let (ok, what) = match rule.condition {
                RuleCondition::Metric { .. }
                | RuleCondition::Breach { .. }
                | RuleCondition::Events { .. } => (self.monitor.is_some(), "a monitor"),
                RuleCondition::Health { .. } => (self.health.is_some(), "a health aggregator"),
            };
            v.check(
                ok,
                &format!("rules[{i}].condition"),
                format_args!("this rule needs {what}; give it to the builder"),
            );
        }
        v.finish()?;
        let clock = self.clock.unwrap_or_default();
        let bus = self.bus.unwrap_or_else(|| TelemetryBus::global().clone());
        let mut receivers = self.receivers;
        for r in &config.receivers {
            receivers.push(match r {
                ReceiverConfig::Log { name } => Arc::new(LogReceiver::new(name.clone())),
                ReceiverConfig::Webhook { name, url } => {
                    Arc::new(WebhookReceiver::new(name.clone(), url)?)
                }
            });
        }
        let slots = receivers
            .into_iter()
            .map(|r| {
                let name = r.name().to_string();
                Slot::new(r, &config.delivery, &clock, &bus).map(|s| (name, Arc::new(s)))
            })
            .collect::<Result<BTreeMap<_, _>>>()?;
        let route = Route::compile(&config.route)?;
        let inhibit = config
            .inhibit_rules
            .iter()
            .map(InhibitRule::compile)
            .collect::<Result<Vec<_>>>()?;
        Ok(AlertManager {
            inner: Arc::new(Inner {
                time: Timebase::new(clock),
                bus,
                route,
                inhibit,
                slots,
                monitor: self.monitor,
                health: self.health,
                state: Mutex::new(State::default()),
                windows: Mutex::new(EventWindows::default()),
                refused: AtomicU64::new(0),
                config,
            }),
        })
    }
}
