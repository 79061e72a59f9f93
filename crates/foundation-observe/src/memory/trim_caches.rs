//! The built-in "trim caches" strategy and the [`Trim`] trait caches implement for it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Weak};

use foundation_core::{Error, ErrorCode, Result};
use foundation_protect::protection::PressureLevel;
use parking_lot::Mutex;

use super::strategy::{CleanupStrategy, Freed, panic_message};

/// A cache (or any structure) that can shrink on demand.
///
/// ```
/// use std::sync::Mutex;
/// use foundation_observe::memory::{Freed, Trim};
/// use foundation_protect::protection::PressureLevel;
///
/// struct Lru(Mutex<Vec<String>>);
/// impl Trim for Lru {
///     fn trim(&self, level: PressureLevel) -> Freed {
///         let mut entries = self.0.lock().unwrap();
///         // Keep half at high pressure, nothing at critical.
///         let keep = if level >= PressureLevel::Critical { 0 } else { entries.len() / 2 };
///         let gone: Vec<String> = entries.drain(keep..).collect();
///         Freed::items(gone.len() as u64).with_detail("lru")
///     }
/// }
/// ```
pub trait Trim: Send + Sync + 'static {
    /// Drops what the cache can afford to lose at `level`, and says how much.
    fn trim(&self, level: PressureLevel) -> Freed;
}

struct Entry {
    name: String,
    cache: Weak<dyn Trim>,
}

/// Trims every registered cache. Clones share the cache list, so caches can be registered
/// after the strategy itself was handed to the manager.
///
/// Caches are held weakly: one that is dropped elsewhere simply leaves the list. A cache that
/// panics is reported as this strategy's failure, after the other caches were trimmed.
#[derive(Clone)]
pub struct TrimCaches {
    caches: Arc<Mutex<Vec<Entry>>>,
    priority: u32,
    min_level: PressureLevel,
}

impl Default for TrimCaches {
    fn default() -> TrimCaches {
        TrimCaches {
            caches: Arc::default(),
            priority: 10,
            min_level: PressureLevel::Medium,
        }
    }
}

impl TrimCaches {
    /// A strategy with no caches yet, priority 10, from [`PressureLevel::Medium`] up.
    pub fn new() -> TrimCaches {
        TrimCaches::default()
    }

    /// Runs from `level` up instead.
    pub fn from_level(mut self, level: PressureLevel) -> TrimCaches {
        self.min_level = level;
        self
    }

    /// Sets the priority (lower runs first).
    pub fn with_priority(mut self, priority: u32) -> TrimCaches {
        self.priority = priority;
        self
    }

    /// Adds a cache under `name`; it is trimmed while it is alive.
    pub fn register<T: Trim>(&self, name: impl Into<String>, cache: &Arc<T>) {
        let cache: Arc<dyn Trim> = cache.clone();
        self.caches.lock().push(Entry {
            name: name.into(),
            cache: Arc::downgrade(&cache),
        });
    }

    /// How many live caches are registered.
    pub fn len(&self) -> usize {
        self.live().len()
    }

    /// Whether no live cache is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The live caches (dropping the dead ones from the list).
    fn live(&self) -> Vec<(String, Arc<dyn Trim>)> {
        let mut caches = self.caches.lock();
        caches.retain(|e| e.cache.strong_count() > 0);
        caches
            .iter()
            .filter_map(|e| Some((e.name.clone(), e.cache.upgrade()?)))
            .collect()
    }
}

impl CleanupStrategy for TrimCaches {
    fn name(&self) -> &str {
        "trim_caches"
    }

    fn priority(&self) -> u32 {
        self.priority
    }

    fn min_level(&self) -> PressureLevel {
        self.min_level
    }

    fn clean(&self, level: PressureLevel) -> Result<Freed> {
        let mut freed = Freed::default();
        let mut panicked = Vec::new();
        let caches = self.live();
        for (name, cache) in &caches {
            match catch_unwind(AssertUnwindSafe(|| cache.trim(level))) {
                Ok(f) => {
                    freed.bytes = freed.bytes.saturating_add(f.bytes);
                    freed.items = freed.items.saturating_add(f.items);
                }
                Err(p) => panicked.push(format!("{name} ({})", panic_message(p.as_ref()))),
            }
        }
        if !panicked.is_empty() {
            return Err(Error::new(
                ErrorCode::INTERNAL,
                format!(
                    "cache(s) panicked while trimming: {}; the others freed {} bytes, {} items",
                    panicked.join(", "),
                    freed.bytes,
                    freed.items
                ),
            ));
        }
        Ok(freed.with_detail(format!("{} cache(s)", caches.len())))
    }
}
