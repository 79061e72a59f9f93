//! The registry: named agents and services with metadata, discovery and load balancing.
//!
//! A [`Registry`] maps unique names to entries: an agent (its [`AgentRef`], stored
//! type-erased) or a service (metadata only). Each entry has [`Metadata`]: [`Kind`],
//! [`Health`], capabilities, [`Resources`] (load, cpu, memory), node, labels and an optional
//! heartbeat TTL.
//!
//! - **Lookup** by name ([`lookup`](Registry::lookup) typed, [`entry`](Registry::entry)
//!   untyped), by capability ([`by_capability`](Registry::by_capability)), by a predicate
//!   ([`find`](Registry::find)). Names live in `2^k` shards, each a `hashbrown` table behind
//!   its own read-write lock; a name is hashed once, so a typed lookup costs what a
//!   `DashMap` get plus a clone of the value costs. Health, resources and the last
//!   heartbeat are atomics: heartbeats and health reads take only a shard's read lock.
//! - **Agents leave by themselves.** [`register_agent`](Registry::register_agent) puts an
//!   exit hook on the agent; when it stops, panics or is aborted its entry is removed. Each
//!   registration has a generation, and the hook removes only its own, so a name registered
//!   again after the agent exited is never clobbered by the old hook. Removing an entry by
//!   hand drops its hook at once: nothing is left on the agent.
//! - **Heartbeats.** An entry with a TTL must [`heartbeat`](Registry::heartbeat) within it;
//!   [`sweep`](Registry::sweep) marks one that did not `Unhealthy` and, after the config's
//!   `expiry_grace`, removes it. The registry owns a sweeper task calling `sweep` every
//!   `sweep_interval`; time comes from the injected [`Clock`].
//! - **Load balancing** over the members of a capability with [`pick`](Registry::pick):
//!   round robin, least loaded, random, or consistent hashing by key (rendezvous hashing,
//!   see [`Balance`]). Healthy members are preferred, degraded ones used only when no
//!   healthy member is left, unhealthy ones never; with none, `REGISTRY_NO_INSTANCE`.
//! - **Events** ([`RegistryEvent`]: registered, unregistered with its [`RemovalReason`],
//!   health changed) go to the telemetry bus as `foundation.registry.*` and to bounded
//!   [`Watcher`]s ([`watch`](Registry::watch)); a slow watcher misses events, it never
//!   blocks the registry.
//! - **Backup**: [`snapshot`](Registry::snapshot) / [`restore`](Registry::restore) with a
//!   serde [`Snapshot`] of names and metadata (agent addresses are not carried: see there).
//!
//! No user code runs under a registry lock: predicates run on copies of the entries, and
//! exit hooks and events are registry code.
//!
//! ```
//! use std::time::Duration;
//! use foundation_runtime::agent::{spawn, Agent, AgentConfig, Context, StopReason};
//! use foundation_runtime::registry::{Kind, Metadata, Registry, RegistryConfig, Balance};
//!
//! struct Worker;
//! impl Agent for Worker {
//!     type Msg = ();
//!     async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let registry = Registry::builder().build().unwrap();
//! let worker = spawn(Worker, AgentConfig::named("worker-1")).await.unwrap();
//! registry
//!     .register_agent("worker-1", &worker, Metadata::new(Kind::Agent).with_capability("resize"))
//!     .unwrap();
//!
//! let by_name = registry.lookup::<Worker>("worker-1").unwrap();
//! let picked = registry.pick_agent::<Worker>("resize", Balance::LeastLoaded).unwrap();
//! assert_eq!(by_name.name(), picked.name());
//!
//! worker.shutdown(StopReason::Normal).await;
//! assert!(registry.entry("worker-1").is_err()); // removed when it stopped
//! # });
//! ```

mod balance;
mod config;
mod discovery;
mod entry;
mod events;
mod heartbeat;
mod shards;
mod slot;
mod snapshot;
mod update;

pub use balance::Balance;
pub use config::{MAX_SHARDS, MAX_WATCH_CAPACITY, RegistryBuilder, RegistryConfig};
pub use entry::{Entry, Health, Kind, Metadata, Resources};
pub use events::{RegistryEvent, RemovalReason, Watcher};
pub use heartbeat::SweepReport;
pub use snapshot::{RestoreReport, SNAPSHOT_VERSION, Snapshot, SnapshotEntry};

use std::any::Any;
use std::hash::BuildHasher as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use foundation_core::clock::{Clock, Stopwatch};
use foundation_core::error::{Error, ErrorCode};
use foundation_core::telemetry::TelemetryBus;
use parking_lot::Mutex;
use tokio::task::AbortHandle;

use crate::agent::{Agent, AgentRef};
use events::Events;
use shards::{NameTable, Shards, find};
use slot::Slot;

/// The registry. Cheap to clone; clones share the entries. The sweeper task stops when the
/// last clone is dropped.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    shards: Shards,
    events: Events,
    clock: Stopwatch,
    expiry_grace_nanos: u64,
    next_generation: AtomicU64,
    random: AtomicU64,
    registered_total: AtomicU64,
    removed_total: AtomicU64,
    pub(crate) sweeper: Mutex<Option<AbortHandle>>,
}

impl Inner {
    pub(crate) fn new(config: &RegistryConfig, clock: Clock, bus: TelemetryBus) -> Inner {
        Inner {
            shards: Shards::new(config.shards),
            events: Events::new(bus, config.watch_capacity),
            clock: clock.stopwatch(),
            expiry_grace_nanos: u64::try_from(config.expiry_grace.as_nanos()).unwrap_or(u64::MAX),
            next_generation: AtomicU64::new(0),
            random: AtomicU64::new(std::hash::RandomState::new().hash_one(0u8)),
            registered_total: AtomicU64::new(0),
            removed_total: AtomicU64::new(0),
            sweeper: Mutex::new(None),
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = self.sweeper.get_mut().take() {
            task.abort();
        }
    }
}

/// Counters for leak checks and dashboards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistryStats {
    /// Entries registered now.
    pub entries: usize,
    /// Capabilities offered by at least one entry.
    pub capabilities: usize,
    /// Memberships in the capability index (an entry counts once per capability).
    pub capability_members: usize,
    /// Live watchers.
    pub watchers: usize,
    /// Registrations ever made.
    pub registered_total: u64,
    /// Removals ever made, for any reason.
    pub removed_total: u64,
}

fn not_found(name: &str) -> Error {
    Error::new(
        ErrorCode::NOT_FOUND,
        format!("no registry entry named `{name}`"),
    )
    .with_context("name", name)
}

fn check_name(name: &str) -> Result<(), Error> {
    if name.trim().is_empty() {
        return Err(Error::invalid_input("name", "must not be empty"));
    }
    Ok(())
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("entries", &self.len())
            .finish()
    }
}

impl Registry {
    /// A builder with the default config, the tokio clock and the global bus.
    pub fn builder() -> RegistryBuilder {
        RegistryBuilder::default()
    }

    fn now(&self) -> u64 {
        self.inner.clock.elapsed_nanos()
    }

    /// Registers `agent` under `name`. The entry holds its address (see
    /// [`lookup`](Self::lookup)) and is removed when the agent exits. Returns the
    /// registration's generation.
    ///
    /// The removal runs on the thread that records the exit, just after the agent's
    /// [`wait`](AgentRef::wait)ers are woken: once [`AgentHandle::shutdown`](crate::agent::AgentHandle::shutdown) (or dropping
    /// the handle) returns, the entry is gone; a `wait` on another thread may return a
    /// moment earlier.
    ///
    /// Errors: `ALREADY_EXISTS` if the name is taken; `INVALID_INPUT` naming the field for
    /// an empty name, bad metadata, or an agent that already exited (field `agent`). If the
    /// agent exits while this runs, the entry is removed as on any exit.
    pub fn register_agent<A: Agent>(
        &self,
        name: &str,
        agent: &AgentRef<A>,
        metadata: Metadata,
    ) -> Result<u64, Error> {
        if !agent.is_alive() {
            return Err(Error::invalid_input("agent", "has already exited")
                .with_context("name", name)
                .with_context("agent", agent.name()));
        }
        let address: Arc<dyn Any + Send + Sync> = Arc::new(agent.clone());
        let slot = self.insert(name, metadata, Some(address))?;
        let registry = Arc::downgrade(&self.inner);
        let (name, generation) = (slot.name.clone(), slot.generation);
        // Outside every registry lock: the hook runs at once if the agent just exited.
        let hook = agent.on_exit(move |reason| {
            let why = RemovalReason::AgentExited(reason.clone());
            if let Some(inner) = Weak::upgrade(&registry) {
                Registry { inner }.remove(&name, Some(generation), why);
            }
        });
        *slot.exit_hook.lock() = Some(hook);
        Ok(slot.generation)
    }

    /// Registers a service (or any member without an agent address) under `name`. It stays
    /// until [`unregister`](Self::unregister)ed or, if it has a TTL, until its heartbeat
    /// expires. Returns the registration's generation.
    ///
    /// Errors: `ALREADY_EXISTS` if the name is taken, `INVALID_INPUT` naming the field.
    pub fn register(&self, name: &str, metadata: Metadata) -> Result<u64, Error> {
        self.insert(name, metadata, None)
            .map(|slot| slot.generation)
    }

    fn insert(
        &self,
        name: &str,
        metadata: Metadata,
        address: Option<Arc<dyn Any + Send + Sync>>,
    ) -> Result<Arc<Slot>, Error> {
        check_name(name)?;
        metadata.check().map_err(|e| e.with_context("name", name))?;
        let inner = &*self.inner;
        let hash = inner.shards.hash(name);
        let mut table = inner.shards.names(hash).write();
        if find(&table, hash, name).is_some() {
            return Err(Error::new(
                ErrorCode::ALREADY_EXISTS,
                format!("a registry entry named `{name}` already exists"),
            )
            .with_context("name", name));
        }
        let generation = inner.next_generation.fetch_add(1, Ordering::Relaxed) + 1;
        let kind = metadata.kind;
        let slot = Arc::new(Slot::new(
            name.into(),
            hash,
            generation,
            metadata,
            address,
            self.now(),
        ));
        table.insert_unique(hash, slot.clone(), |s| s.hash);
        inner.shards.index_add(&slot, &slot.profile().capabilities);
        inner.registered_total.fetch_add(1, Ordering::Relaxed);
        inner.events.send(RegistryEvent::Registered {
            name: slot.name.clone(),
            generation,
            kind,
        });
        Ok(slot)
    }

    /// Removes `name`. `NOT_FOUND` naming it if it is not registered.
    pub fn unregister(&self, name: &str) -> Result<Entry, Error> {
        self.remove(name, None, RemovalReason::Unregistered)
            .map(|slot| slot.entry(self.now()))
            .ok_or_else(|| not_found(name))
    }

    /// Removes `name` if it is registered (with `generation`, when given).
    fn remove(&self, name: &str, generation: Option<u64>, why: RemovalReason) -> Option<Arc<Slot>> {
        let hash = self.inner.shards.hash(name);
        let slot = {
            let mut table = self.inner.shards.names(hash).write();
            self.remove_locked(&mut table, hash, name, generation, why)?
        };
        slot.release_hook();
        Some(slot)
    }

    /// Removes under the held shard lock: table, capability index, event.
    fn remove_locked(
        &self,
        table: &mut NameTable,
        hash: u64,
        name: &str,
        generation: Option<u64>,
        reason: RemovalReason,
    ) -> Option<Arc<Slot>> {
        let found = table.find_entry(hash, |s| {
            &*s.name == name && generation.is_none_or(|g| s.generation == g)
        });
        let (slot, _) = found.ok()?.remove();
        let inner = &*self.inner;
        inner
            .shards
            .index_remove(&slot, &slot.profile().capabilities);
        inner.removed_total.fetch_add(1, Ordering::Relaxed);
        inner.events.send(RegistryEvent::Unregistered {
            name: slot.name.clone(),
            generation: slot.generation,
            reason,
        });
        Some(slot)
    }

    /// Runs `f` on the slot named `name` under its shard's read lock.
    fn read<R>(&self, name: &str, f: impl FnOnce(&Arc<Slot>) -> R) -> Result<R, Error> {
        let hash = self.inner.shards.hash(name);
        let found = find(&self.inner.shards.names(hash).read(), hash, name).map(f);
        found.ok_or_else(|| not_found(name))
    }

    /// Runs `f` on the slot named `name` under its shard's write lock (every event about a
    /// name is sent under this lock, keeping a name's events in order).
    fn write<R>(&self, name: &str, f: impl FnOnce(&Arc<Slot>) -> R) -> Result<R, Error> {
        let hash = self.inner.shards.hash(name);
        let found = find(&self.inner.shards.names(hash).write(), hash, name).map(f);
        found.ok_or_else(|| not_found(name))
    }

    /// A feed of registry events from now on (see [`Watcher`] for its bound).
    pub fn watch(&self) -> Watcher {
        self.inner.events.watch()
    }

    /// How many entries are registered.
    pub fn len(&self) -> usize {
        self.inner
            .shards
            .all_names()
            .map(|shard| shard.read().len())
            .sum()
    }

    /// Whether nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sizes of everything the registry keeps, for leak checks.
    pub fn stats(&self) -> RegistryStats {
        let (capabilities, capability_members) = self.inner.shards.index_size();
        RegistryStats {
            entries: self.len(),
            capabilities,
            capability_members,
            watchers: self.inner.events.watcher_count(),
            registered_total: self.inner.registered_total.load(Ordering::Relaxed),
            removed_total: self.inner.removed_total.load(Ordering::Relaxed),
        }
    }
}
