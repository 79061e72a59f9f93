//! One merged, validated config: the service's values, each agent's, and how to show them.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use foundation_core::{Error, Result};
use serde::de::DeserializeOwned;
use toml::Value;

use crate::layer::{Document, LayerSet};
use crate::problem::{self, Problem};
use crate::provenance::Source;
use crate::secret::{REDACTED, Secrets};
use crate::tree::Tree;
use crate::typed;

/// One merged, validated config. Immutable; cheap to share.
pub struct Snapshot {
    pub(crate) tree: Tree,
    pub(crate) agents: BTreeMap<String, Tree>,
    pub(crate) documents: Vec<Document>,
    pub(crate) layers: LayerSet,
    pub(crate) secrets: Arc<Secrets>,
    pub(crate) version: u64,
}

/// A value and every layer that set it.
#[derive(Clone, Debug, PartialEq)]
pub struct Explanation {
    /// The dotted path asked about.
    pub path: String,
    /// The value (`"***"` when secret), `None` when nothing is set there.
    pub value: Option<Value>,
    /// The sources that set the value, lowest first; the last one won.
    pub chain: Vec<Source>,
}

impl Explanation {
    /// The source whose value is in effect.
    pub fn winner(&self) -> Option<&Source> {
        self.chain.last()
    }
}

impl Snapshot {
    /// The version this snapshot was applied as (1 for the first).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The section at `path` as `T` (the whole config for the empty path; an absent section
    /// reads as an empty table, so `#[serde(default)]` types get their defaults). Errors name
    /// the field and where its value came from.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.get_in(&self.tree, path)
    }

    /// The section at `path` as `agent` sees it: the service's config with that agent's
    /// overrides on top.
    pub fn get_for<T: DeserializeOwned>(&self, agent: &str, path: &str) -> Result<T> {
        self.get_in(self.tree_for(Some(agent)), path)
    }

    /// The value at `path` and the layers that set it.
    pub fn explain(&self, path: &str) -> Explanation {
        self.explain_in(&self.tree, path)
    }

    /// The value at `path` for `agent` and every layer that set it: defaults ← environment
    /// (files, profile, variables) ← service overrides ← the agent's overrides.
    pub fn effective(&self, agent: &str, path: &str) -> Explanation {
        self.explain_in(self.tree_for(Some(agent)), path)
    }

    /// The agents that have overrides.
    pub fn agents(&self) -> impl Iterator<Item = &str> {
        self.agents.keys().map(String::as_str)
    }

    /// The layers this snapshot was built from.
    pub fn layers(&self) -> &LayerSet {
        &self.layers
    }

    /// Every leaf (of the service's config, or of `agent`'s) with its value (redacted when
    /// secret) and winning source, in path order.
    pub fn values(&self, agent: Option<&str>) -> Vec<(String, Value, Source)> {
        let tree = self.tree_for(agent);
        tree.leaves()
            .filter_map(|(path, source)| {
                Some((
                    path.to_string(),
                    self.shown(path, tree.get(path)?),
                    source.clone(),
                ))
            })
            .collect()
    }

    /// The section (or value) at `path` for `agent`, unredacted; for change detection.
    pub(crate) fn section(&self, agent: Option<&str>, path: &str) -> Option<&Value> {
        if path.is_empty() {
            return None;
        }
        self.tree_for(agent).get(path)
    }

    /// `agent`'s tree, or the service's when the agent has no overrides.
    pub(crate) fn tree_for(&self, agent: Option<&str>) -> &Tree {
        agent.and_then(|a| self.agents.get(a)).unwrap_or(&self.tree)
    }

    /// `v` (at `at`) as it may be shown: secret leaves replaced.
    pub(crate) fn shown(&self, at: &str, v: &Value) -> Value {
        if self.secrets.is_secret(at) {
            Value::from(REDACTED)
        } else {
            self.redacted(at, v)
        }
    }

    fn get_in<T: DeserializeOwned>(&self, tree: &Tree, path: &str) -> Result<T> {
        typed::deserialize(tree, path).map_err(|p| self.error(tree, p))
    }

    fn explain_in(&self, tree: &Tree, path: &str) -> Explanation {
        Explanation {
            path: path.to_string(),
            value: tree.get(path).map(|v| self.shown(path, v)),
            chain: tree.chain(path).to_vec(),
        }
    }

    /// A copy of `v` (at `at`) with every secret leaf replaced.
    fn redacted(&self, at: &str, v: &Value) -> Value {
        match v {
            Value::Table(t) => Value::Table(
                t.iter()
                    .map(|(k, v)| {
                        let p = crate::path::join(at, k);
                        (k.clone(), self.redacted(&p, v))
                    })
                    .collect(),
            ),
            Value::Array(a) => Value::Array(
                a.iter()
                    .enumerate()
                    .map(|(i, v)| self.redacted(&crate::path::join(at, &i.to_string()), v))
                    .collect(),
            ),
            _ if self.secrets.is_secret(at) => Value::from(REDACTED),
            other => other.clone(),
        }
    }

    /// One error for `problems`, with secret values scrubbed from every message.
    pub(crate) fn error(&self, tree: &Tree, problems: Vec<Problem>) -> Error {
        problem::into_error(&scrub(tree, &self.secrets, problems))
    }
}

/// Replaces the text of every secret leaf value in the messages with `***`.
pub(crate) fn scrub(tree: &Tree, secrets: &Secrets, mut problems: Vec<Problem>) -> Vec<Problem> {
    let hidden: Vec<String> = tree
        .leaves()
        .filter(|(p, _)| secrets.is_secret(p))
        .filter_map(|(p, _)| match tree.get(p)? {
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        })
        .filter(|s| !s.is_empty())
        .collect();
    for p in &mut problems {
        for h in &hidden {
            p.message = replace_whole(&p.message, h, REDACTED);
        }
    }
    problems
}

/// `text` with each occurrence of `needle` that is not part of a longer word or number
/// replaced by `with` (so a secret `12` leaves `123` alone).
fn replace_whole(text: &str, needle: &str, with: &str) -> String {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(needle) {
        let before = rest[..i].chars().last().or_else(|| out.chars().last());
        let after = rest[i + needle.len()..].chars().next();
        out.push_str(&rest[..i]);
        let inside = (word(before) && needle.starts_with(|c: char| c.is_alphanumeric()))
            || (word(after) && needle.ends_with(|c: char| c.is_alphanumeric()));
        out.push_str(if inside { needle } else { with });
        rest = &rest[i + needle.len()..];
    }
    out.push_str(rest);
    out
}

impl fmt::Display for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (path, value, source) in self.values(None) {
            writeln!(f, "{path} = {value}  # {source}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("version", &self.version)
            .field(
                "values",
                &self.redacted("", &Value::Table(self.tree.root().clone())),
            )
            .field("agents", &self.agents.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::replace_whole;

    #[test]
    fn only_whole_occurrences_are_replaced() {
        assert_eq!(
            replace_whole("got 12, not 123 or a12", "12", "***"),
            "got ***, not 123 or a12"
        );
        assert_eq!(replace_whole("`hunter2`", "hunter2", "***"), "`***`");
        assert_eq!(replace_whole("pw is p@ss!", "p@ss!", "***"), "pw is ***");
        assert_eq!(replace_whole("1212", "12", "***"), "1212");
    }
}
