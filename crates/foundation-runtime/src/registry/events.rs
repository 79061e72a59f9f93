//! [`RegistryEvent`]s: published on the telemetry bus (`foundation.registry.*`) and to
//! [`Watcher`]s.
//!
//! Every event about one name is sent while the registry holds that name's shard lock, so
//! watchers see a name's events in the order they happened (registered before health
//! changes before unregistered). Events about different names are in send order.

use std::sync::Arc;

use foundation_core::telemetry::{Event, TelemetryBus};
use tokio::sync::broadcast;

use super::entry::{Health, Kind};
use crate::agent::ExitReason;

/// Why an entry left the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemovalReason {
    /// [`Registry::unregister`](super::Registry::unregister) removed it.
    Unregistered,
    /// The registered agent exited, for this reason.
    AgentExited(ExitReason),
    /// It missed its heartbeat TTL and the grace period after it.
    HeartbeatExpired,
}

/// A change in the registry.
///
/// On the telemetry bus it is `foundation.registry.registered`, `.unregistered` or
/// `.health_changed` with the entry's name as source; downcast to `RegistryEvent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryEvent {
    /// A name was registered.
    Registered {
        /// The name.
        name: Arc<str>,
        /// The registration's generation.
        generation: u64,
        /// What was registered.
        kind: Kind,
    },
    /// A name was removed.
    Unregistered {
        /// The name.
        name: Arc<str>,
        /// The generation of the registration removed.
        generation: u64,
        /// Why.
        reason: RemovalReason,
    },
    /// A member's health changed (by `set_health`, `update_metadata`, a missed heartbeat or
    /// the heartbeat that ended one).
    HealthChanged {
        /// The name.
        name: Arc<str>,
        /// The registration's generation.
        generation: u64,
        /// The health before.
        from: Health,
        /// The health now.
        to: Health,
    },
}

impl RegistryEvent {
    /// The name the event is about.
    pub fn entry_name(&self) -> &str {
        match self {
            RegistryEvent::Registered { name, .. }
            | RegistryEvent::Unregistered { name, .. }
            | RegistryEvent::HealthChanged { name, .. } => name,
        }
    }
}

impl Event for RegistryEvent {
    fn name(&self) -> &'static str {
        match self {
            RegistryEvent::Registered { .. } => "foundation.registry.registered",
            RegistryEvent::Unregistered { .. } => "foundation.registry.unregistered",
            RegistryEvent::HealthChanged { .. } => "foundation.registry.health_changed",
        }
    }

    fn source(&self) -> &str {
        self.entry_name()
    }
}

/// Where events go: the bus and the watchers' channel.
pub(crate) struct Events {
    bus: TelemetryBus,
    watchers: broadcast::Sender<RegistryEvent>,
}

impl Events {
    pub(crate) fn new(bus: TelemetryBus, capacity: usize) -> Events {
        Events {
            bus,
            watchers: broadcast::Sender::new(capacity),
        }
    }

    /// Publishes without waiting; a full watcher makes that watcher lag, never the sender.
    pub(crate) fn send(&self, event: RegistryEvent) {
        // `send` fails only when nobody watches.
        let _ = self.watchers.send(event.clone());
        self.bus.emit(event);
    }

    pub(crate) fn watch(&self) -> Watcher {
        Watcher {
            rx: self.watchers.subscribe(),
            missed: 0,
        }
    }

    pub(crate) fn watcher_count(&self) -> usize {
        self.watchers.receiver_count()
    }
}

/// A live feed of [`RegistryEvent`]s from [`Registry::watch`](super::Registry::watch).
///
/// The feed is bounded (`watch_capacity` events, shared by all watchers). A watcher that falls
/// further behind never slows the registry down: the oldest events it has not read are
/// overwritten, its next receive skips to the oldest event still held, and the number skipped
/// is added to [`missed`](Self::missed). A watcher that missed events should re-read the
/// registry ([`Registry::entries`](super::Registry::entries)) to resynchronise. Dropping a
/// watcher unsubscribes it.
#[derive(Debug)]
pub struct Watcher {
    rx: broadcast::Receiver<RegistryEvent>,
    missed: u64,
}

impl Watcher {
    /// Waits for the next event; `None` once the registry is gone and every held event has
    /// been read.
    pub async fn recv(&mut self) -> Option<RegistryEvent> {
        loop {
            match self.rx.recv().await {
                Ok(event) => return Some(event),
                Err(broadcast::error::RecvError::Lagged(n)) => self.missed += n,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// The next held event, if any, without waiting.
    pub fn try_recv(&mut self) -> Option<RegistryEvent> {
        loop {
            match self.rx.try_recv() {
                Ok(event) => return Some(event),
                Err(broadcast::error::TryRecvError::Lagged(n)) => self.missed += n,
                Err(_) => return None,
            }
        }
    }

    /// Every held event, oldest first.
    pub fn drain(&mut self) -> Vec<RegistryEvent> {
        std::iter::from_fn(|| self.try_recv()).collect()
    }

    /// How many events this watcher lost by falling behind.
    pub fn missed(&self) -> u64 {
        self.missed
    }
}
