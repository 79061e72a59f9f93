//! Routing into groups, the notifications and escalations due at a flush, and what a
//! delivery's outcome changes (receiver down and back).

use super::*;

impl AlertManager {
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
                let Some(group) = state.groups.get_mut(&key) else {
                    continue;
                };
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
    pub(super) fn escalate(
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
    pub(super) fn single(
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

    pub(super) fn complete(&self, job: &Job, outcome: Outcome) {
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
                        if alert.status == crate::alert::receiver::NotificationStatus::Firing {
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
    pub(super) fn report_down(&self, receiver: &str, error: &Error) {
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
    pub(super) fn down_fingerprint(&self, receiver: &str) -> Result<Fingerprint> {
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

    /// Routes a newly firing alert into its groups and publishes it.
    pub(super) fn on_fired(
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
    pub(super) fn groups_for(
        &self,
        alert: &Alert,
    ) -> Vec<(
        GroupKey,
        String,
        Timing,
        Vec<crate::alert::escalation::EscalationStep>,
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
}
