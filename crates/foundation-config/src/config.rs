//! The live config handle: lock-free reads, validated whole changes, live typed values.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use arc_swap::ArcSwap;
use foundation_core::{Error, ErrorCode, Result, TelemetryBus};
use serde::de::DeserializeOwned;
use toml::Value;

use crate::diff::{self, Change};
use crate::events::{ConfigApplied, ConfigRefused};
use crate::layer::LayerSet;
use crate::live::{Commit, Live, Rebind};
use crate::problem::{self, Problem};
use crate::schema::Schema;
use crate::secret::Secrets;
use crate::snapshot::{Explanation, Snapshot, scrub};
use crate::tree::Tree;

/// The outcome of an applied change.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    /// The version now in effect (unchanged when nothing changed).
    pub version: u64,
    /// Unknown-key warnings (under [`crate::UnknownKeys::Warn`]).
    pub warnings: Vec<Problem>,
    /// The values that changed, secrets redacted; empty when the change was a no-op.
    pub changes: Vec<Change>,
}

/// A validated change not yet in effect.
pub(crate) struct Prepared {
    pub(crate) snapshot: Snapshot,
    pub(crate) warnings: Vec<Problem>,
    pub(crate) changes: Vec<Change>,
    /// The updates of the live values it was validated against (deserialized once).
    commits: Vec<Commit>,
    /// The id the next live value registered after validation gets.
    next_live: u64,
}

/// The live values to update, each with its registration id.
#[derive(Default)]
struct LiveSet {
    slots: Vec<(u64, Weak<dyn Rebind>)>,
    next: u64,
}

/// The live config: lock-free reads of the current [`Snapshot`]; changes are validated
/// whole (schema, and every [`Live`] value's type) and swapped in only when valid.
pub struct Config {
    name: String,
    current: ArcSwap<Snapshot>,
    schema: Schema,
    secrets: Arc<Secrets>,
    /// The writer lock; it also guards the live values to update.
    live: Mutex<LiveSet>,
    managed: AtomicBool,
    bus: TelemetryBus,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("name", &self.name)
            .field("current", &self.snapshot())
            .field("schema", &self.schema)
            .finish()
    }
}

impl Config {
    /// Builds and validates `layers` as version 1. Returns the config and the unknown-key
    /// warnings (under [`crate::UnknownKeys::Warn`]), or one `INVALID_CONFIG` error listing
    /// every problem.
    pub fn load(
        schema: Schema,
        secrets: Secrets,
        layers: LayerSet,
    ) -> Result<(Config, Vec<Problem>)> {
        let secrets = Arc::new(secrets);
        let (snapshot, warnings) = build(&schema, &secrets, layers, 1)?;
        let config = Config {
            name: "config".to_string(),
            current: ArcSwap::from_pointee(snapshot),
            schema,
            secrets,
            live: Mutex::new(LiveSet::default()),
            managed: AtomicBool::new(false),
            bus: TelemetryBus::global().clone(),
        };
        Ok((config, warnings))
    }

    /// Names this config in events and stored history (default `config`).
    pub fn with_name(mut self, name: impl Into<String>) -> Config {
        self.name = name.into();
        self
    }

    /// Publishes this config's events on `bus` (default: the global bus).
    pub fn with_bus(mut self, bus: TelemetryBus) -> Config {
        self.bus = bus;
        self
    }

    /// The config's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The bus this config publishes on.
    pub fn bus(&self) -> &TelemetryBus {
        &self.bus
    }

    /// The current snapshot (one atomic load; never blocks).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// The version in effect.
    pub fn version(&self) -> u64 {
        self.current.load().version
    }

    /// The section at `path` of the current snapshot as `T`, deserialized on each call; use
    /// [`Config::live`] on a hot path.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.current.load().get(path)
    }

    /// The section at `path` as `agent` sees it.
    pub fn get_for<T: DeserializeOwned>(&self, agent: &str, path: &str) -> Result<T> {
        self.current.load().get_for(agent, path)
    }

    /// The value at `path` and the layers that set it.
    pub fn explain(&self, path: &str) -> Explanation {
        self.current.load().explain(path)
    }

    /// The value at `path` for `agent` and the layers that set it (defaults ← environment ←
    /// service ← agent).
    pub fn effective(&self, agent: &str, path: &str) -> Explanation {
        self.current.load().effective(agent, path)
    }

    /// The section at `path` as a live `T` (see [`Live`]); an error when the current config
    /// does not deserialize into `T`.
    pub fn live<T: DeserializeOwned + Send + Sync + 'static>(&self, path: &str) -> Result<Live<T>> {
        self.register(None, path)
    }

    /// The section at `path` as `agent` sees it, as a live `T`.
    pub fn live_for<T: DeserializeOwned + Send + Sync + 'static>(
        &self,
        agent: &str,
        path: &str,
    ) -> Result<Live<T>> {
        self.register(Some(agent), path)
    }

    fn register<T: DeserializeOwned + Send + Sync + 'static>(
        &self,
        agent: Option<&str>,
        path: &str,
    ) -> Result<Live<T>> {
        let mut live = self.lock();
        let handle = Live::read(&self.current.load(), agent, path)?;
        live.slots.retain(|(_, w)| w.strong_count() > 0);
        let id = live.next;
        live.next += 1;
        live.slots.push((id, handle.rebind()));
        Ok(handle)
    }

    /// Replaces the layers. The new config is swapped in only if it builds and validates;
    /// otherwise the current one stays and the error lists every problem.
    pub fn apply(&self, layers: LayerSet) -> Result<Applied> {
        self.change(|_| Ok(layers))
    }

    /// Overrides the value at `path` (the service layer) and applies it.
    pub fn set(&self, path: &str, value: impl Into<Value>) -> Result<Applied> {
        let value = value.into();
        self.change(|layers| Ok(layers.clone().set(path, value)))
    }

    /// Overrides the value at `path` for `agent` only and applies it.
    pub fn set_for(&self, agent: &str, path: &str, value: impl Into<Value>) -> Result<Applied> {
        let value = value.into();
        self.change(|layers| Ok(layers.clone().set_for(agent, path, value)))
    }

    /// Removes the service overrides at or under `path`; `NOT_FOUND` when there are none.
    pub fn unset(&self, path: &str) -> Result<Applied> {
        self.change(|layers| unset(layers, None, path))
    }

    /// Removes `agent`'s overrides at or under `path`; `NOT_FOUND` when there are none.
    pub fn unset_for(&self, agent: &str, path: &str) -> Result<Applied> {
        self.change(|layers| unset(layers, Some(agent), path))
    }

    /// Reads the TOML files again (including files a rollback pinned to an older text).
    pub fn reload(&self) -> Result<Applied> {
        self.change(|layers| Ok(layers.unpinned()))
    }

    /// Applies `edit(current layers)` under the writer lock.
    fn change(&self, edit: impl FnOnce(&LayerSet) -> Result<LayerSet>) -> Result<Applied> {
        if self.managed.load(Ordering::Acquire) {
            return Err(Error::new(
                ErrorCode::INVALID_INPUT,
                "this config is managed by a ConfigService: change it through the service, \
                 which stores every version",
            )
            .with_context("config", &self.name));
        }
        let live = self.lock();
        let layers = edit(&self.current.load().layers)?;
        let prepared = self
            .prepare_locked(&live, layers)
            .map_err(|e| self.refused(e))?;
        if prepared.changes.is_empty() {
            return Ok(self.unchanged(prepared));
        }
        let version = self.version() + 1;
        Ok(self.commit_locked(live, prepared, version))
    }

    /// Builds and validates `layers` (schema and live values) as the next change.
    pub(crate) fn prepare(&self, layers: LayerSet) -> Result<Prepared> {
        let live = self.lock();
        self.prepare_locked(&live, layers)
    }

    /// Publishes that a change was refused with `error`, and returns it.
    pub(crate) fn refused(&self, error: Error) -> Error {
        self.bus.emit(ConfigRefused {
            config: self.name.clone(),
            error: error.to_string(),
        });
        error
    }

    fn prepare_locked(&self, live: &LiveSet, layers: LayerSet) -> Result<Prepared> {
        let current = self.current.load();
        let (snapshot, warnings) = build(&self.schema, &self.secrets, layers, current.version)?;
        let mut problems = Vec::new();
        let mut commits = Vec::new();
        for slot in live.slots.iter().filter_map(|(_, w)| w.upgrade()) {
            match slot.prepare(&current, &snapshot) {
                Ok(commit) => commits.extend(commit),
                Err(found) => {
                    for p in found {
                        if !problems.contains(&p) {
                            problems.push(p);
                        }
                    }
                }
            }
        }
        if !problems.is_empty() {
            return Err(snapshot.error(&snapshot.tree, problems));
        }
        let changes = diff::between(&current, &snapshot);
        Ok(Prepared {
            snapshot,
            warnings,
            changes,
            commits,
            next_live: live.next,
        })
    }

    /// The outcome of a change that changed nothing.
    pub(crate) fn unchanged(&self, prepared: Prepared) -> Applied {
        Applied {
            version: self.version(),
            warnings: prepared.warnings,
            changes: Vec::new(),
        }
    }

    /// Puts `prepared` in effect as `version` and updates the live values.
    pub(crate) fn commit(&self, prepared: Prepared, version: u64) -> Applied {
        let live = self.lock();
        self.commit_locked(live, prepared, version)
    }

    fn commit_locked(
        &self,
        mut live: MutexGuard<'_, LiveSet>,
        mut prepared: Prepared,
        version: u64,
    ) -> Applied {
        prepared.snapshot.version = version;
        let old = self.current.load_full();
        live.slots.retain(|(_, w)| w.strong_count() > 0);
        // Live values registered since validation (a service validates, stores, then
        // commits) were not prepared yet.
        let mut commits = std::mem::take(&mut prepared.commits);
        commits.extend(
            live.slots
                .iter()
                .filter(|(id, _)| *id >= prepared.next_live)
                .filter_map(|(_, w)| w.upgrade())
                .filter_map(|slot| slot.prepare(&old, &prepared.snapshot).ok().flatten()),
        );
        self.current.store(Arc::new(prepared.snapshot));
        drop(live);
        for commit in commits {
            commit();
        }
        self.bus.emit(ConfigApplied {
            config: self.name.clone(),
            version,
            changes: prepared.changes.len(),
        });
        Applied {
            version,
            warnings: prepared.warnings,
            changes: prepared.changes,
        }
    }

    /// Marks this config as changed only through a [`crate::ConfigService`].
    pub(crate) fn set_managed(&self) {
        self.managed.store(true, Ordering::Release);
    }

    fn lock(&self) -> MutexGuard<'_, LiveSet> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// `layers` without the overrides (of `agent`, or the service's) at or under `path`.
pub(crate) fn unset(layers: &LayerSet, agent: Option<&str>, path: &str) -> Result<LayerSet> {
    let mut layers = layers.clone();
    if layers.remove_overrides(agent, path) {
        return Ok(layers);
    }
    let mut err = Error::new(
        ErrorCode::NOT_FOUND,
        format!("no run-time override at or under `{path}`"),
    )
    .with_context("field", path);
    if let Some(agent) = agent {
        err = err.with_context("agent", agent);
    }
    Err(err)
}

/// Merges and validates `layers` (the service's config and each agent's) into a snapshot.
fn build(
    schema: &Schema,
    secrets: &Arc<Secrets>,
    layers: LayerSet,
    version: u64,
) -> Result<(Snapshot, Vec<Problem>)> {
    let built = layers
        .build()
        .map_err(|p| problem::into_error(&scrub(&Tree::default(), secrets, p)))?;
    let (mut errors, warnings) = schema.check(&built.tree);
    for (agent, tree) in &built.agents {
        let (agent_errors, _) = schema.check(tree);
        // Only what the agent's overrides broke: the rest is reported for the service.
        errors.extend(agent_errors.into_iter().filter(|p| {
            tree.source_of(&p.field)
                .is_some_and(|s| *s == crate::Source::Agent(agent.clone()))
        }));
    }
    let snapshot = Snapshot {
        tree: built.tree,
        agents: built.agents,
        documents: built.documents,
        layers,
        secrets: Arc::clone(secrets),
        version,
    };
    if !errors.is_empty() {
        for tree in snapshot.agents.values() {
            errors = scrub(tree, secrets, errors);
        }
        return Err(snapshot.error(&snapshot.tree, errors));
    }
    let warnings = scrub(&snapshot.tree, secrets, warnings);
    Ok((snapshot, warnings))
}
