//! The live config handle and its immutable snapshots.

use std::fmt;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use foundation_core::{Error, Result};
use serde::de::DeserializeOwned;
use toml::Value;

use crate::layer::LayerSet;
use crate::problem::{self, Problem};
use crate::provenance::Source;
use crate::schema::Schema;
use crate::secret::{REDACTED, Secrets};
use crate::tree::Tree;
use crate::typed;

/// One merged, validated config. Immutable; cheap to share.
pub struct Snapshot {
    tree: Tree,
    layers: LayerSet,
    secrets: Arc<Secrets>,
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
    /// The section at `path` as `T` (the whole config for the empty path; an absent section
    /// reads as an empty table, so `#[serde(default)]` types get their defaults). Errors name
    /// the field and where its value came from.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        typed::deserialize(&self.tree, path).map_err(|p| self.error(p))
    }

    /// The value at `path` and the layers that set it.
    pub fn explain(&self, path: &str) -> Explanation {
        let value = self.tree.get(path).map(|v| {
            if self.secrets.is_secret(path) {
                Value::from(REDACTED)
            } else {
                self.redacted(path, v)
            }
        });
        Explanation {
            path: path.to_string(),
            value,
            chain: self.tree.chain(path).to_vec(),
        }
    }

    /// The layers this snapshot was built from.
    pub fn layers(&self) -> &LayerSet {
        &self.layers
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
    fn error(&self, problems: Vec<Problem>) -> Error {
        problem::into_error(&scrub(&self.tree, &self.secrets, problems))
    }
}

/// Replaces the text of every secret leaf value in the messages with `***`.
fn scrub(tree: &Tree, secrets: &Secrets, mut problems: Vec<Problem>) -> Vec<Problem> {
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
            p.message = p.message.replace(h.as_str(), REDACTED);
        }
    }
    problems
}

impl fmt::Display for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (path, source) in self.tree.leaves() {
            let value = match self.tree.get(path) {
                Some(_) if self.secrets.is_secret(path) => Value::from(REDACTED),
                Some(v) => v.clone(),
                None => continue,
            };
            writeln!(f, "{path} = {value}  # {source}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field(
                "values",
                &self.redacted("", &Value::Table(self.tree.root().clone())),
            )
            .finish_non_exhaustive()
    }
}

/// The live config: lock-free reads of the current [`Snapshot`]; changes are validated
/// whole and swapped in only when valid.
pub struct Config {
    current: ArcSwap<Snapshot>,
    schema: Schema,
    secrets: Arc<Secrets>,
    writer: Mutex<()>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("current", &self.snapshot())
            .field("schema", &self.schema)
            .finish()
    }
}

impl Config {
    /// Builds and validates `layers`. Returns the config and the unknown-key warnings (under
    /// [`crate::UnknownKeys::Warn`]), or one `INVALID_CONFIG` error listing every problem.
    pub fn load(
        schema: Schema,
        secrets: Secrets,
        layers: LayerSet,
    ) -> Result<(Config, Vec<Problem>)> {
        let secrets = Arc::new(secrets);
        let (snapshot, warnings) = build(&schema, &secrets, layers)?;
        let config = Config {
            current: ArcSwap::from_pointee(snapshot),
            schema,
            secrets,
            writer: Mutex::new(()),
        };
        Ok((config, warnings))
    }

    /// The current snapshot (one atomic load; never blocks).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// The section at `path` of the current snapshot as `T`.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.current.load().get(path)
    }

    /// The value at `path` and the layers that set it.
    pub fn explain(&self, path: &str) -> Explanation {
        self.current.load().explain(path)
    }

    /// Replaces the layers. The new config is swapped in only if it builds and validates;
    /// otherwise the current one stays and the error lists every problem.
    pub fn apply(&self, layers: LayerSet) -> Result<Vec<Problem>> {
        let _guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        self.swap(layers)
    }

    /// Adds a run-time override of the value at `path` to the current layers and applies it.
    pub fn set(&self, path: &str, value: impl Into<Value>) -> Result<Vec<Problem>> {
        let _guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let layers = self.current.load().layers.clone().set(path, value);
        self.swap(layers)
    }

    fn swap(&self, layers: LayerSet) -> Result<Vec<Problem>> {
        let (snapshot, warnings) = build(&self.schema, &self.secrets, layers)?;
        self.current.store(Arc::new(snapshot));
        Ok(warnings)
    }
}

/// Merges and validates `layers` into a snapshot.
fn build(
    schema: &Schema,
    secrets: &Arc<Secrets>,
    layers: LayerSet,
) -> Result<(Snapshot, Vec<Problem>)> {
    let tree = layers
        .build()
        .map_err(|p| problem::into_error(&scrub(&Tree::default(), secrets, p)))?;
    let (errors, warnings) = schema.check(&tree);
    let snapshot = Snapshot {
        tree,
        layers,
        secrets: Arc::clone(secrets),
    };
    if !errors.is_empty() {
        return Err(snapshot.error(errors));
    }
    let warnings = scrub(&snapshot.tree, secrets, warnings);
    Ok((snapshot, warnings))
}
