//! What the registry stores about a member: [`Metadata`] (kind, health, capabilities,
//! resources, node, labels, TTL) and the [`Entry`] view that lookups return.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use foundation_core::error::Error;
use serde::{Deserialize, Serialize};

use crate::agent::{Agent, AgentRef};

/// What a registered member is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A service reached by other means (an address in its labels, say).
    Service,
    /// An agent in this process, reachable through its [`AgentRef`].
    Agent,
    /// A member that coordinates others (a supervisor, a leader).
    Coordinator,
}

/// How well a member is doing. Load balancing prefers `Healthy`, falls back to `Degraded`
/// and never picks `Unhealthy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Fully working.
    Healthy,
    /// Working with reduced capacity or quality.
    Degraded,
    /// Not to be used (reported so, or its heartbeat expired).
    Unhealthy,
}

impl Health {
    pub(crate) fn to_u8(self) -> u8 {
        self as u8
    }

    pub(crate) fn from_u8(v: u8) -> Health {
        match v {
            0 => Health::Healthy,
            1 => Health::Degraded,
            _ => Health::Unhealthy,
        }
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Health::Healthy => "healthy",
            Health::Degraded => "degraded",
            Health::Unhealthy => "unhealthy",
        })
    }
}

/// Resource usage a member reports (at registration, with heartbeats, or by update).
/// Every number must be finite and not negative; units are the reporter's (load as a
/// fraction or a queue length, cpu in cores or percent, memory in bytes), compared only
/// among members of one capability by [`Balance::LeastLoaded`](super::Balance).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Resources {
    /// The load the least-loaded strategy compares.
    pub load: f64,
    /// CPU usage.
    pub cpu: f64,
    /// Memory usage.
    pub memory: f64,
}

impl Resources {
    /// `INVALID_INPUT` naming the first negative or non-finite field.
    pub(crate) fn check(&self) -> Result<(), Error> {
        for (field, value) in [
            ("resources.load", self.load),
            ("resources.cpu", self.cpu),
            ("resources.memory", self.memory),
        ] {
            if !value.is_finite() || value < 0.0 {
                return Err(Error::invalid_input(
                    field,
                    format_args!("must be a finite number >= 0, got {value}"),
                ));
            }
        }
        Ok(())
    }
}

/// Everything the registry knows about a member besides its name and address.
///
/// Build it with [`Metadata::new`] and the `with_*` methods:
///
/// ```
/// use std::time::Duration;
/// use foundation_runtime::registry::{Health, Kind, Metadata};
///
/// let meta = Metadata::new(Kind::Service)
///     .with_capability("payments")
///     .with_node("node-1")
///     .with_label("zone", "eu-west-1a")
///     .with_ttl(Duration::from_secs(10));
/// assert_eq!(meta.health, Health::Healthy);
/// assert!(meta.capabilities.contains("payments"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// What the member is.
    pub kind: Kind,
    /// Its health; `Healthy` unless set.
    #[serde(default = "healthy")]
    pub health: Health,
    /// What it offers; capability lookups and load balancing go by these.
    #[serde(default)]
    pub capabilities: BTreeSet<String>,
    /// Its reported resource usage.
    #[serde(default)]
    pub resources: Resources,
    /// The node (host, pod) it runs on; empty if not said.
    #[serde(default)]
    pub node: String,
    /// Free-form labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// How long it may go without a [`heartbeat`](super::Registry::heartbeat) before it is
    /// marked unhealthy; `None` means it is not expected to heartbeat. In serde form this is
    /// `ttl_ms` (integer milliseconds).
    #[serde(default, rename = "ttl_ms", with = "foundation_core::millis::option")]
    pub ttl: Option<Duration>,
}

fn healthy() -> Health {
    Health::Healthy
}

impl Metadata {
    /// Metadata of this kind: healthy, no capabilities, labels or TTL.
    pub fn new(kind: Kind) -> Metadata {
        Metadata {
            kind,
            health: Health::Healthy,
            capabilities: BTreeSet::new(),
            resources: Resources::default(),
            node: String::new(),
            labels: BTreeMap::new(),
            ttl: None,
        }
    }

    /// Adds a capability.
    pub fn with_capability(mut self, capability: impl Into<String>) -> Metadata {
        self.capabilities.insert(capability.into());
        self
    }

    /// Sets the initial health.
    pub fn with_health(mut self, health: Health) -> Metadata {
        self.health = health;
        self
    }

    /// Sets the reported resource usage.
    pub fn with_resources(mut self, resources: Resources) -> Metadata {
        self.resources = resources;
        self
    }

    /// Sets the load (the number least-loaded balancing compares).
    pub fn with_load(mut self, load: f64) -> Metadata {
        self.resources.load = load;
        self
    }

    /// Sets the node.
    pub fn with_node(mut self, node: impl Into<String>) -> Metadata {
        self.node = node.into();
        self
    }

    /// Adds a label.
    pub fn with_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Metadata {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Expects a heartbeat at least every `ttl`.
    pub fn with_ttl(mut self, ttl: Duration) -> Metadata {
        self.ttl = Some(ttl);
        self
    }

    /// `INVALID_INPUT` naming the first bad field.
    pub(crate) fn check(&self) -> Result<(), Error> {
        if self.capabilities.iter().any(|c| c.trim().is_empty()) {
            return Err(Error::invalid_input(
                "capabilities",
                "a capability must not be empty",
            ));
        }
        if self.labels.keys().any(|k| k.trim().is_empty()) {
            return Err(Error::invalid_input(
                "labels",
                "a label key must not be empty",
            ));
        }
        if self.ttl.is_some_and(|ttl| ttl.is_zero()) {
            return Err(Error::invalid_input("ttl_ms", "must be positive"));
        }
        self.resources.check()
    }
}

/// A registered member as of the moment it was read: its name, the generation of its
/// registration, its metadata and heartbeat age. Agent entries also carry the address.
#[derive(Clone)]
pub struct Entry {
    pub(crate) name: Arc<str>,
    pub(crate) generation: u64,
    pub(crate) metadata: Metadata,
    pub(crate) since_heartbeat: Duration,
    pub(crate) address: Option<Arc<dyn Any + Send + Sync>>,
}

impl Entry {
    /// The registered name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The registration's generation: unique per registration, increasing, so a name
    /// registered again after it was removed has a larger one.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The metadata, with health and resources as of the read.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The time since its last heartbeat (or registration).
    pub fn since_heartbeat(&self) -> Duration {
        self.since_heartbeat
    }

    /// Whether an agent address is registered under it.
    pub fn has_agent(&self) -> bool {
        self.address.is_some()
    }

    /// The agent's address, typed. `INVALID_INPUT` (field `name`) if the entry is not an
    /// agent of type `A`.
    pub fn agent<A: Agent>(&self) -> Result<AgentRef<A>, Error> {
        downcast(&self.name, self.address.as_deref())
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("name", &self.name)
            .field("generation", &self.generation)
            .field("metadata", &self.metadata)
            .field("since_heartbeat", &self.since_heartbeat)
            .field("has_agent", &self.has_agent())
            .finish()
    }
}

/// The typed address stored under `name`, or `INVALID_INPUT` naming the expected type.
pub(crate) fn downcast<A: Agent>(
    name: &str,
    address: Option<&(dyn Any + Send + Sync)>,
) -> Result<AgentRef<A>, Error> {
    address
        .and_then(|a| a.downcast_ref::<AgentRef<A>>())
        .cloned()
        .ok_or_else(|| {
            Error::invalid_input(
                "name",
                format_args!(
                    "`{name}` is not registered as an agent of type {}",
                    std::any::type_name::<A>()
                ),
            )
            .with_context("name", name)
        })
}
