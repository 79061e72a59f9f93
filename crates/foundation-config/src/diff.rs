//! What changed between two snapshots, with secret values redacted.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use toml::Value;

use crate::provenance::Source;
use crate::snapshot::Snapshot;
use crate::tree::Tree;

/// One changed value. Secret values show as `"***"` (a changed secret is still listed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The dotted path of the value.
    pub path: String,
    /// The agent whose override changed, `None` for the service's config.
    pub agent: Option<String>,
    /// The value before, as TOML text; `None` when it was not set.
    pub before: Option<String>,
    /// The value after, as TOML text; `None` when it is no longer set.
    pub after: Option<String>,
}

/// Every value of `new` as added: the service's config, then each agent's overrides.
pub(crate) fn all(new: &Snapshot) -> Vec<Change> {
    let added = |agent: Option<&str>, (path, value, _): (String, Value, Source)| Change {
        path,
        agent: agent.map(String::from),
        before: None,
        after: Some(value.to_string()),
    };
    let mut changes: Vec<Change> = new
        .values(None)
        .into_iter()
        .map(|v| added(None, v))
        .collect();
    for agent in new.agents() {
        changes.extend(
            new.values(Some(agent))
                .into_iter()
                .filter(|(_, _, source)| matches!(source, Source::Agent(_)))
                .map(|v| added(Some(agent), v)),
        );
    }
    changes
}

/// Every value that differs from `old` to `new`: the service's config, then each agent's
/// values that one of its overrides sets (before or after).
pub(crate) fn between(old: &Snapshot, new: &Snapshot) -> Vec<Change> {
    let mut changes = leaves(old, &old.tree, new, &new.tree, None);
    let agents: BTreeSet<&str> = old.agents().chain(new.agents()).collect();
    for agent in agents {
        let (was, now) = (old.tree_for(Some(agent)), new.tree_for(Some(agent)));
        changes.extend(
            leaves(old, was, new, now, Some(agent))
                .into_iter()
                .filter(|c| by_agent(was, &c.path) || by_agent(now, &c.path)),
        );
    }
    changes
}

/// The differing leaves of two trees.
fn leaves(
    old: &Snapshot,
    was: &Tree,
    new: &Snapshot,
    now: &Tree,
    agent: Option<&str>,
) -> Vec<Change> {
    let paths: BTreeSet<&str> = was
        .leaves()
        .map(|(p, _)| p)
        .chain(now.leaves().map(|(p, _)| p))
        .collect();
    paths
        .into_iter()
        .filter_map(|path| {
            let (before, after) = (was.get(path), now.get(path));
            (before != after).then(|| Change {
                path: path.to_string(),
                agent: agent.map(String::from),
                before: before.map(|v| shown(old, path, v)),
                after: after.map(|v| shown(new, path, v)),
            })
        })
        .collect()
}

/// Whether the value at `path` in `tree` was set by an agent override.
fn by_agent(tree: &Tree, path: &str) -> bool {
    matches!(tree.chain(path).last(), Some(Source::Agent(_)))
}

fn shown(snapshot: &Snapshot, path: &str, v: &Value) -> String {
    snapshot.shown(path, v).to_string()
}
