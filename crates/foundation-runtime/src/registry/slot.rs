//! [`Slot`]: one registration as stored. Health, resources, TTL and the last heartbeat are
//! atomics (heartbeats, health reads and sweeps take no lock of the slot's own); the rest
//! (kind, capabilities, node, labels) sits behind a read-write lock that only metadata
//! updates write.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};

use super::entry::{Entry, Health, Kind, Metadata, Resources};
use crate::agent::ExitHook;

/// The parts of [`Metadata`] that change only by `update_metadata` or `set_label`.
#[derive(Debug, Clone)]
pub(crate) struct Profile {
    pub(crate) kind: Kind,
    pub(crate) capabilities: BTreeSet<String>,
    pub(crate) node: String,
    pub(crate) labels: BTreeMap<String, String>,
}

impl Profile {
    /// Splits `metadata` into the profile and the parts kept in atomics: health,
    /// resources and the heartbeat TTL.
    pub(crate) fn split(metadata: Metadata) -> (Profile, Health, Resources, Option<Duration>) {
        let Metadata {
            kind,
            health,
            capabilities,
            resources,
            node,
            labels,
            ttl,
        } = metadata;
        let profile = Profile {
            kind,
            capabilities,
            node,
            labels,
        };
        (profile, health, resources, ttl)
    }
}

/// One registration.
pub(crate) struct Slot {
    pub(crate) name: Arc<str>,
    pub(crate) hash: u64,
    pub(crate) generation: u64,
    pub(crate) address: Option<Arc<dyn Any + Send + Sync>>,
    pub(crate) profile: RwLock<Arc<Profile>>,
    health: AtomicU8,
    /// Set when the sweeper marked it unhealthy for a missed heartbeat; a heartbeat clears it.
    pub(crate) expired: AtomicBool,
    load: AtomicU64,
    cpu: AtomicU64,
    memory: AtomicU64,
    /// The heartbeat TTL in nanoseconds; 0 when none is expected.
    ttl: AtomicU64,
    /// Nanoseconds on the registry's stopwatch at the last heartbeat (or registration).
    heartbeat: AtomicU64,
    /// The agent's exit hook; dropped (unregistered) as soon as the slot leaves the registry.
    pub(crate) exit_hook: Mutex<Option<ExitHook>>,
}

impl Slot {
    pub(crate) fn new(
        name: Arc<str>,
        hash: u64,
        generation: u64,
        metadata: Metadata,
        address: Option<Arc<dyn Any + Send + Sync>>,
        now_nanos: u64,
    ) -> Slot {
        let (profile, health, resources, ttl) = Profile::split(metadata);
        let slot = Slot {
            name,
            hash,
            generation,
            address,
            profile: RwLock::new(Arc::new(profile)),
            health: AtomicU8::new(health.to_u8()),
            expired: AtomicBool::new(false),
            load: AtomicU64::new(0),
            cpu: AtomicU64::new(0),
            memory: AtomicU64::new(0),
            ttl: AtomicU64::new(0),
            heartbeat: AtomicU64::new(now_nanos),
            exit_hook: Mutex::new(None),
        };
        slot.set_resources(resources);
        slot.set_ttl(ttl);
        slot
    }

    /// Unregisters the agent's exit hook (a no-op while the hook is running). Call once the
    /// slot left the registry, outside the shard lock.
    pub(crate) fn release_hook(&self) {
        drop(self.exit_hook.lock().take());
    }

    pub(crate) fn profile(&self) -> Arc<Profile> {
        self.profile.read().clone()
    }

    pub(crate) fn health(&self) -> Health {
        Health::from_u8(self.health.load(Ordering::Acquire))
    }

    /// Stores `health` and returns the previous one.
    pub(crate) fn swap_health(&self, health: Health) -> Health {
        Health::from_u8(self.health.swap(health.to_u8(), Ordering::AcqRel))
    }

    pub(crate) fn load(&self) -> f64 {
        f64::from_bits(self.load.load(Ordering::Relaxed))
    }

    pub(crate) fn resources(&self) -> Resources {
        Resources {
            load: self.load(),
            cpu: f64::from_bits(self.cpu.load(Ordering::Relaxed)),
            memory: f64::from_bits(self.memory.load(Ordering::Relaxed)),
        }
    }

    pub(crate) fn set_resources(&self, r: Resources) {
        self.load.store(r.load.to_bits(), Ordering::Relaxed);
        self.cpu.store(r.cpu.to_bits(), Ordering::Relaxed);
        self.memory.store(r.memory.to_bits(), Ordering::Relaxed);
    }

    /// The TTL in nanoseconds, if one is set.
    pub(crate) fn ttl_nanos(&self) -> Option<u64> {
        Some(self.ttl.load(Ordering::Relaxed)).filter(|ttl| *ttl > 0)
    }

    pub(crate) fn set_ttl(&self, ttl: Option<Duration>) {
        // A validated TTL is positive; a sub-nanosecond one still counts as set.
        let nanos = ttl.map_or(0, |t| {
            u64::try_from(t.as_nanos()).unwrap_or(u64::MAX).max(1)
        });
        self.ttl.store(nanos, Ordering::Relaxed);
    }

    pub(crate) fn heartbeat_at(&self) -> u64 {
        self.heartbeat.load(Ordering::Acquire)
    }

    pub(crate) fn beat(&self, now_nanos: u64) {
        self.heartbeat.fetch_max(now_nanos, Ordering::AcqRel);
    }

    /// The full metadata as of now.
    pub(crate) fn metadata(&self) -> Metadata {
        let p = self.profile();
        Metadata {
            kind: p.kind,
            health: self.health(),
            capabilities: p.capabilities.clone(),
            resources: self.resources(),
            node: p.node.clone(),
            labels: p.labels.clone(),
            ttl: self.ttl_nanos().map(Duration::from_nanos),
        }
    }

    /// The public view, with the heartbeat age measured at `now_nanos`.
    pub(crate) fn entry(&self, now_nanos: u64) -> Entry {
        Entry {
            name: self.name.clone(),
            generation: self.generation,
            metadata: self.metadata(),
            since_heartbeat: Duration::from_nanos(now_nanos.saturating_sub(self.heartbeat_at())),
            address: self.address.clone(),
        }
    }
}
