//! [`CheckOptions`]: how the aggregator treats one registered check.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A group of checks served at its own endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Group {
    /// `/health/live`: is the process alive, or should it be restarted? Keep these few and
    /// cheap: a failing liveness probe gets the process killed.
    Liveness,
    /// `/health/ready`: can the process take traffic now?
    Readiness,
}

/// Whether a check runs on every request or only when asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Depth {
    /// Runs on every report (subject to its cache).
    #[default]
    Quick,
    /// Expensive: runs only in reports that ask for deep checks (`?deep=true`); other
    /// reports leave it out.
    Deep,
}

/// How the aggregator treats one check: criticality, timeout, cache, depth and groups.
///
/// The default is a quick, non-critical check in the readiness group, with the
/// [`HealthConfig`](super::HealthConfig)'s timeout and cache TTL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOptions {
    pub(crate) critical: bool,
    pub(crate) timeout: Option<Duration>,
    pub(crate) ttl: Option<Duration>,
    pub(crate) depth: Depth,
    pub(crate) liveness: bool,
    pub(crate) readiness: bool,
    pub(crate) component_id: Option<String>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            critical: false,
            timeout: None,
            ttl: None,
            depth: Depth::Quick,
            liveness: false,
            readiness: true,
            component_id: None,
        }
    }
}

impl CheckOptions {
    /// The defaults: quick, non-critical, readiness group.
    pub fn new() -> CheckOptions {
        CheckOptions::default()
    }

    /// Critical checks that fail make the whole report fail; a non-critical failure only
    /// degrades it to warn.
    pub fn critical(mut self, critical: bool) -> CheckOptions {
        self.critical = critical;
        self
    }

    /// How long one run may take before it counts as failed (timed out).
    pub fn timeout(mut self, timeout: Duration) -> CheckOptions {
        self.timeout = Some(timeout);
        self
    }

    /// How long a result is reused before the check runs again (zero: every request runs
    /// it, though concurrent requests still share one run).
    pub fn ttl(mut self, ttl: Duration) -> CheckOptions {
        self.ttl = Some(ttl);
        self
    }

    /// Quick or deep.
    pub fn depth(mut self, depth: Depth) -> CheckOptions {
        self.depth = depth;
        self
    }

    /// The groups the check is in (none: it appears only at `/health`).
    pub fn groups(mut self, groups: &[Group]) -> CheckOptions {
        self.liveness = groups.contains(&Group::Liveness);
        self.readiness = groups.contains(&Group::Readiness);
        self
    }

    /// The draft's `componentId`: which instance of the component was checked.
    pub fn component_id(mut self, id: impl Into<String>) -> CheckOptions {
        self.component_id = Some(id.into());
        self
    }

    /// Whether the check is in `group`.
    pub fn in_group(&self, group: Group) -> bool {
        match group {
            Group::Liveness => self.liveness,
            Group::Readiness => self.readiness,
        }
    }
}
