//! Rule evaluation: what the rules see, moved through the alerts' lifecycle.

use super::*;

impl AlertManager {
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
        let seen: Vec<(&RuleConfig, Vec<crate::alert::rule::Instance>)> = {
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

    pub(super) fn apply_rule(
        &self,
        state: &mut State,
        rule: &RuleConfig,
        instances: Vec<crate::alert::rule::Instance>,
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
}
