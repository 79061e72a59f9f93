//! The routing tree: which receivers an alert goes to, grouped how, and how often.
//!
//! As in Alertmanager: every alert enters at the root; a route matches when all its
//! matchers match, and the alert then descends into the first child route that matches
//! (and into later matching siblings too when that child has `continue = true`). The deepest
//! routes matched are the alert's routes; when no child matches, the route itself is.
//! Children inherit `receiver`, `group_by` and the timings they do not set.
//!
//! ```toml
//! [route]
//! receiver = "log"
//! group_by = ["alertname"]
//! group_wait_ms = 30000
//!
//! [[route.routes]]
//! matchers = ['severity="critical"']
//! receiver = "pager"
//! escalation = [{ receiver = "lead", after_ms = 600000 }]
//! ```

use std::collections::BTreeSet;
use std::time::Duration;

use foundation_core::{Error, Result, Validator, millis};
use serde::{Deserialize, Serialize};

use super::escalation::EscalationStep;
use super::labels::{Labels, is_label_name};
use super::matcher::{Matcher, MatcherSpec, all_match};

/// The `group_by` entry that groups by every label (each alert its own group).
pub const GROUP_BY_ALL: &str = "...";

/// Longest group wait, group interval or repeat interval accepted: a week.
pub const MAX_ROUTE_DURATION: Duration = Duration::from_secs(7 * 86_400);

/// One route of the tree, as configured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouteConfig {
    /// The receiver; inherited from the parent when unset (the root must set it).
    pub receiver: Option<String>,
    /// Matchers an alert's labels must all satisfy (the root matches everything).
    pub matchers: Vec<MatcherSpec>,
    /// Whether matching goes on with the next siblings after this route matched.
    #[serde(rename = "continue")]
    pub continue_matching: bool,
    /// Labels alerts are grouped by (`["..."]`: every label); inherited when unset.
    pub group_by: Option<Vec<String>>,
    /// How long a new group waits for more alerts before its first notification.
    #[serde(
        rename = "group_wait_ms",
        with = "millis::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub group_wait: Option<Duration>,
    /// How long a group waits before notifying about alerts added or resolved since.
    #[serde(
        rename = "group_interval_ms",
        with = "millis::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub group_interval: Option<Duration>,
    /// How long before a notification is sent again for alerts still firing.
    #[serde(
        rename = "repeat_interval_ms",
        with = "millis::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub repeat_interval: Option<Duration>,
    /// Receivers notified, one after another, while a firing alert of this route stays
    /// unacknowledged (not inherited).
    pub escalation: Vec<EscalationStep>,
    /// Child routes.
    pub routes: Vec<RouteConfig>,
}

impl RouteConfig {
    /// A root route sending everything to `receiver`.
    pub fn to(receiver: impl Into<String>) -> RouteConfig {
        RouteConfig {
            receiver: Some(receiver.into()),
            ..RouteConfig::default()
        }
    }

    /// Adds `matcher`s (string form, e.g. `severity="critical"`).
    pub fn matching(mut self, matchers: &[&str]) -> RouteConfig {
        self.matchers
            .extend(matchers.iter().map(|m| MatcherSpec::Text(m.to_string())));
        self
    }

    /// Sets the labels alerts are grouped by.
    pub fn group_by(mut self, labels: &[&str]) -> RouteConfig {
        self.group_by = Some(labels.iter().map(|l| l.to_string()).collect());
        self
    }

    /// Sets the group wait, group interval and repeat interval.
    pub fn timing(mut self, wait: Duration, interval: Duration, repeat: Duration) -> RouteConfig {
        self.group_wait = Some(wait);
        self.group_interval = Some(interval);
        self.repeat_interval = Some(repeat);
        self
    }

    /// Sets whether matching goes on after this route.
    pub fn continue_matching(mut self, go_on: bool) -> RouteConfig {
        self.continue_matching = go_on;
        self
    }

    /// Sets the escalation chain.
    pub fn escalation(mut self, steps: Vec<EscalationStep>) -> RouteConfig {
        self.escalation = steps;
        self
    }

    /// Adds a child route.
    pub fn route(mut self, child: RouteConfig) -> RouteConfig {
        self.routes.push(child);
        self
    }

    /// Records every problem under `path`; `receivers` are the known receiver names.
    pub(crate) fn validate_into(
        &self,
        v: &mut Validator,
        path: &str,
        receivers: &BTreeSet<String>,
        is_root: bool,
    ) {
        let field = |f: &str| format!("{path}.{f}");
        match &self.receiver {
            Some(r) => {
                v.check(
                    receivers.contains(r),
                    &field("receiver"),
                    format_args!("no receiver named {r:?}"),
                );
            }
            None => {
                v.check(
                    !is_root,
                    &field("receiver"),
                    "the root route must name a receiver",
                );
            }
        }
        for (i, spec) in self.matchers.iter().enumerate() {
            let name = field(&format!("matchers[{i}]"));
            if let Err(e) = spec.compile(&name) {
                v.check(false, &name, e.message());
            }
        }
        for label in self.group_by.iter().flatten() {
            v.check(
                label == GROUP_BY_ALL || is_label_name(label),
                &field("group_by"),
                format_args!("{label:?} is not a label name"),
            );
        }
        for (name, value) in [
            ("group_wait_ms", self.group_wait),
            ("group_interval_ms", self.group_interval),
            ("repeat_interval_ms", self.repeat_interval),
        ] {
            if let Some(d) = value {
                v.check(
                    d <= MAX_ROUTE_DURATION,
                    &field(name),
                    format_args!("must be at most a week, got {} ms", d.as_millis()),
                );
                if name != "group_wait_ms" {
                    v.positive_duration(&field(name), d);
                }
            }
        }
        let mut last = None;
        for (i, step) in self.escalation.iter().enumerate() {
            let at = field(&format!("escalation[{i}]"));
            v.check(
                receivers.contains(&step.receiver),
                &format!("{at}.receiver"),
                format_args!("no receiver named {:?}", step.receiver),
            );
            v.check(
                last.is_none_or(|l| step.after > l),
                &format!("{at}.after_ms"),
                "must be later than the previous step's",
            );
            v.check(
                step.after <= MAX_ROUTE_DURATION,
                &format!("{at}.after_ms"),
                "must be at most a week",
            );
            last = Some(step.after);
        }
        for (i, child) in self.routes.iter().enumerate() {
            child.validate_into(v, &field(&format!("routes[{i}]")), receivers, false);
        }
    }
}

/// The timings a group follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Before the first notification.
    pub group_wait: Duration,
    /// Between notifications about changes.
    pub group_interval: Duration,
    /// Before repeating a notification for alerts still firing.
    pub repeat_interval: Duration,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            group_wait: Duration::from_secs(30),
            group_interval: Duration::from_secs(300),
            repeat_interval: Duration::from_secs(4 * 3_600),
        }
    }
}

/// A compiled route.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub(crate) id: usize,
    pub(crate) receiver: String,
    matchers: Vec<Matcher>,
    continue_matching: bool,
    group_by: Vec<String>,
    pub(crate) timing: Timing,
    pub(crate) escalation: Vec<EscalationStep>,
    children: Vec<Route>,
}

impl Route {
    /// Compiles a validated tree.
    pub(crate) fn compile(config: &RouteConfig) -> Result<Route> {
        let mut next = 0;
        compile(config, None, &mut next)
    }

    /// The routes `labels` end up at, in tree order.
    pub(crate) fn routes_for(&self, labels: &Labels) -> Vec<&Route> {
        let mut out = Vec::new();
        self.descend(labels, &mut out);
        out
    }

    fn descend<'a>(&'a self, labels: &Labels, out: &mut Vec<&'a Route>) {
        let mut matched = false;
        for child in &self.children {
            if all_match(&child.matchers, labels) {
                matched = true;
                child.descend(labels, out);
                if !child.continue_matching {
                    break;
                }
            }
        }
        if !matched {
            out.push(self);
        }
    }

    /// The group labels of `labels` on this route.
    pub(crate) fn group_labels(&self, labels: &Labels) -> Labels {
        if self.group_by.iter().any(|g| g == GROUP_BY_ALL) {
            return labels.clone();
        }
        self.group_by
            .iter()
            .filter_map(|g| labels.get(g).map(|v| (g.clone(), v.clone())))
            .collect()
    }
}

fn compile(config: &RouteConfig, parent: Option<&Route>, next: &mut usize) -> Result<Route> {
    let id = *next;
    *next += 1;
    let inherited = parent.map(|p| p.timing).unwrap_or_default();
    let receiver = config
        .receiver
        .clone()
        .or_else(|| parent.map(|p| p.receiver.clone()))
        .ok_or_else(|| {
            Error::invalid_config("route.receiver", "the root route must name a receiver")
        })?;
    let mut route = Route {
        id,
        receiver,
        matchers: super::matcher::compile_all("route.matchers", &config.matchers)?,
        continue_matching: config.continue_matching,
        group_by: config
            .group_by
            .clone()
            .or_else(|| parent.map(|p| p.group_by.clone()))
            .unwrap_or_default(),
        timing: Timing {
            group_wait: config.group_wait.unwrap_or(inherited.group_wait),
            group_interval: config.group_interval.unwrap_or(inherited.group_interval),
            repeat_interval: config.repeat_interval.unwrap_or(inherited.repeat_interval),
        },
        escalation: config.escalation.clone(),
        children: Vec::new(),
    };
    let children = config
        .routes
        .iter()
        .map(|c| compile(c, Some(&route), next))
        .collect::<Result<Vec<_>>>()?;
    route.children = children;
    Ok(route)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::labels::test_labels as labels;

    fn receivers(tree: &Route, l: &Labels) -> Vec<String> {
        tree.routes_for(l)
            .iter()
            .map(|r| r.receiver.clone())
            .collect()
    }

    #[test]
    fn first_match_wins_unless_continue_and_the_root_catches_the_rest() {
        let config = RouteConfig::to("default")
            .route(
                RouteConfig::to("db")
                    .matching(&["team=db"])
                    .continue_matching(true),
            )
            .route(
                RouteConfig::to("pager")
                    .matching(&["severity=critical"])
                    .route(RouteConfig::to("night").matching(&["shift=night"])),
            )
            .route(RouteConfig::to("never").matching(&["severity=~\".*\""]));
        let tree = Route::compile(&config).unwrap();
        let crit_db = labels(&[("team", "db"), ("severity", "critical")]);
        assert_eq!(receivers(&tree, &crit_db), ["db", "pager"]);
        let night = labels(&[("severity", "critical"), ("shift", "night")]);
        assert_eq!(receivers(&tree, &night), ["night"]);
        // `never` matches anything, including a missing severity: first match stops here.
        assert_eq!(receivers(&tree, &labels(&[("x", "y")])), ["never"]);
    }

    #[test]
    fn validation_names_each_bad_field() {
        let config = RouteConfig::to("nobody")
            .route(RouteConfig::default().matching(&["a=~\"(\""]))
            .route(RouteConfig {
                group_interval: Some(Duration::ZERO),
                escalation: vec![
                    EscalationStep::new("log", Duration::from_secs(60)),
                    EscalationStep::new("log", Duration::from_secs(30)),
                ],
                ..RouteConfig::default()
            });
        let mut v = Validator::new("");
        config.validate_into(&mut v, "route", &BTreeSet::from(["log".to_string()]), true);
        let err = v.finish().unwrap_err();
        let fields: Vec<&str> = err.context_values("field").collect();
        assert_eq!(
            fields,
            [
                "route.receiver",
                "route.routes[0].matchers[0]",
                "route.routes[1].group_interval_ms",
                "route.routes[1].escalation[1].after_ms",
            ]
        );
    }
}
