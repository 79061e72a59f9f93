//! Typed, live values: a section deserialized once per change, read lock-free.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::cache::Cache;
use arc_swap::{ArcSwap, Guard};
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::problem::Problem;
use crate::snapshot::Snapshot;
use crate::typed;

/// A section of the config as a `T`, kept current by every applied change.
///
/// The section is deserialized once per change that touches it, not per read:
/// [`Live::load`] is one atomic load with no lock and no allocation. While a `Live` exists,
/// a change whose section does not deserialize into `T` is refused whole, so the value is
/// always one that was valid. Subscribers get each new value through a watch channel
/// ([`Live::subscribe`]); [`Live::bind`] re-configures a component with it. Cheap to clone;
/// clones share the value.
pub struct Live<T> {
    slot: Arc<Slot<T>>,
}

pub(crate) struct Slot<T> {
    agent: Option<String>,
    path: String,
    value: ArcSwap<T>,
    changes: AtomicU64,
    tx: watch::Sender<Arc<T>>,
}

/// A pending update of one live value, run once the new snapshot is in place.
pub(crate) type Commit = Box<dyn FnOnce() + Send>;

/// A live value the config updates on every change.
pub(crate) trait Rebind: Send + Sync {
    /// The update for `new` (`None` when its section did not change), or why `new` cannot
    /// be read as this value's type.
    fn prepare(
        self: Arc<Self>,
        old: &Snapshot,
        new: &Snapshot,
    ) -> Result<Option<Commit>, Vec<Problem>>;
}

impl<T> Clone for Live<T> {
    fn clone(&self) -> Live<T> {
        Live {
            slot: Arc::clone(&self.slot),
        }
    }
}

impl<T> fmt::Debug for Live<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Live")
            .field("path", &self.slot.path)
            .field("agent", &self.slot.agent)
            .field("changes", &self.changes())
            .finish()
    }
}

impl<T: DeserializeOwned + Send + Sync + 'static> Live<T> {
    /// The section at `path` (for `agent`) of `snapshot`, or why it is not a `T`.
    pub(crate) fn read(
        snapshot: &Snapshot,
        agent: Option<&str>,
        path: &str,
    ) -> Result<Live<T>, foundation_core::Error> {
        let tree = snapshot.tree_for(agent);
        let value: T = typed::deserialize(tree, path).map_err(|p| snapshot.error(tree, p))?;
        let value = Arc::new(value);
        let (tx, _) = watch::channel(Arc::clone(&value));
        Ok(Live {
            slot: Arc::new(Slot {
                agent: agent.map(String::from),
                path: path.to_string(),
                value: ArcSwap::new(value),
                changes: AtomicU64::new(0),
                tx,
            }),
        })
    }

    /// What the config keeps to update this value.
    pub(crate) fn rebind(&self) -> std::sync::Weak<dyn Rebind> {
        let weak: std::sync::Weak<Slot<T>> = Arc::downgrade(&self.slot);
        weak
    }
}

impl<T> Live<T> {
    /// The current value: one atomic load, no lock, no allocation. Hold the guard briefly
    /// (it pins this value); use [`Live::get`] to keep one.
    #[inline]
    pub fn load(&self) -> Guard<Arc<T>> {
        self.slot.value.load()
    }

    /// A cache of this value for one thread or task: its reads skip arc-swap's bookkeeping
    /// (see [`Cached`]).
    pub fn cached(&self) -> Cached<T> {
        Cached {
            cache: Cache::new(SlotRef(Arc::clone(&self.slot))),
        }
    }

    /// The current value, to keep.
    pub fn get(&self) -> Arc<T> {
        self.slot.value.load_full()
    }

    /// A receiver that sees every new value (the current one is marked seen).
    pub fn subscribe(&self) -> watch::Receiver<Arc<T>> {
        self.slot.tx.subscribe()
    }

    /// How many times the value has changed since this handle was created.
    pub fn changes(&self) -> u64 {
        self.slot.changes.load(Ordering::Acquire)
    }

    /// The dotted path of the section.
    pub fn path(&self) -> &str {
        &self.slot.path
    }

    /// The agent whose view this is, `None` for the service's config.
    pub fn agent(&self) -> Option<&str> {
        self.slot.agent.as_deref()
    }
}

/// A [`Live`] value cached by its reader ([`Live::cached`]): [`Cached::load`] is one atomic
/// load and a comparison while the value has not changed, and refreshes itself when it has.
/// It needs `&mut self`, so each thread or task keeps its own; it keeps the last value it
/// read alive until its next read.
pub struct Cached<T> {
    cache: Cache<SlotRef<T>, Arc<T>>,
}

/// The slot as the cache sees it: its `ArcSwap`.
struct SlotRef<T>(Arc<Slot<T>>);

impl<T> Deref for SlotRef<T> {
    type Target = ArcSwap<T>;

    fn deref(&self) -> &ArcSwap<T> {
        &self.0.value
    }
}

impl<T> Cached<T> {
    /// The current value.
    #[inline]
    pub fn load(&mut self) -> &Arc<T> {
        self.cache.load()
    }
}

impl<T> fmt::Debug for Cached<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cached").finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned + Send + Sync + 'static> Rebind for Slot<T> {
    fn prepare(
        self: Arc<Self>,
        old: &Snapshot,
        new: &Snapshot,
    ) -> Result<Option<Commit>, Vec<Problem>> {
        let agent = self.agent.as_deref();
        if !self.path.is_empty() && old.section(agent, &self.path) == new.section(agent, &self.path)
        {
            return Ok(None);
        }
        let value: T = typed::deserialize(new.tree_for(agent), &self.path).map_err(|mut p| {
            if let Some(agent) = agent {
                p.iter_mut()
                    .for_each(|p| p.message = format!("{} (as agent {agent} reads it)", p.message));
            }
            p
        })?;
        Ok(Some(Box::new(move || {
            let value = Arc::new(value);
            self.value.store(Arc::clone(&value));
            self.changes.fetch_add(1, Ordering::AcqRel);
            self.tx.send_replace(value);
        })))
    }
}
