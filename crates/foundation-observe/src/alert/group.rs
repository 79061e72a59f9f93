//! Aggregation groups: the alerts of one route sharing the values of its `group_by` labels,
//! notified together after `group_wait`, then at most every `group_interval` when something
//! changed, and every `repeat_interval` while alerts still fire.
//!
//! De-duplication: a group remembers which alerts its receiver was last told are firing, and
//! sends nothing at a flush when no alert was added, resolved or is due for a repeat.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Instant;

use super::escalation::EscalationStep;
use super::labels::{Fingerprint, Labels};
use super::route::Timing;

/// The route id of the group holding internal alerts (`AlertReceiverDown`).
pub(crate) const INTERNAL_ROUTE: usize = usize::MAX;

/// A group's identity: its route and its group labels.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct GroupKey {
    pub(crate) route: usize,
    pub(crate) labels: Labels,
}

impl fmt::Display for GroupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.route == INTERNAL_ROUTE {
            f.write_str("internal:{")?;
        } else {
            write!(f, "route{}:{{", self.route)?;
        }
        for (i, (k, v)) in self.labels.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{k}={v:?}")?;
        }
        f.write_str("}")
    }
}

/// Where one alert's escalation chain is.
#[derive(Debug, Clone, Default)]
pub(crate) struct Escalation {
    /// Steps notified so far.
    pub(crate) done: usize,
    /// The receivers they notified, told again when the alert resolves.
    pub(crate) notified: Vec<String>,
}

/// One aggregation group.
#[derive(Debug)]
pub(crate) struct Group {
    pub(crate) receiver: String,
    pub(crate) timing: Timing,
    pub(crate) escalation: Vec<EscalationStep>,
    /// The alerts in the group (firing, or resolved and not yet notified as such).
    pub(crate) alerts: BTreeSet<Fingerprint>,
    pub(crate) next_flush: Instant,
    /// The alerts the receiver was last told are firing.
    pub(crate) sent_firing: BTreeSet<Fingerprint>,
    pub(crate) last_sent: Option<Instant>,
    /// A notification of this group is being delivered.
    pub(crate) in_flight: bool,
    pub(crate) escalations: BTreeMap<Fingerprint, Escalation>,
}

impl Group {
    pub(crate) fn new(
        receiver: String,
        timing: Timing,
        escalation: Vec<EscalationStep>,
        now: Instant,
    ) -> Group {
        Group {
            receiver,
            next_flush: now + timing.group_wait,
            timing,
            escalation,
            alerts: BTreeSet::new(),
            sent_firing: BTreeSet::new(),
            last_sent: None,
            in_flight: false,
            escalations: BTreeMap::new(),
        }
    }

    /// Whether a notification is due at this flush, given the unmuted firing alerts and the
    /// resolved alerts the receiver was told were firing.
    pub(crate) fn should_notify(
        &self,
        firing: &BTreeSet<Fingerprint>,
        resolved: &BTreeSet<Fingerprint>,
        now: Instant,
    ) -> bool {
        let added = !firing.is_subset(&self.sent_firing);
        let repeat = !firing.is_empty()
            && self
                .last_sent
                .is_none_or(|t| now >= t + self.timing.repeat_interval);
        added || !resolved.is_empty() || repeat
    }
}
