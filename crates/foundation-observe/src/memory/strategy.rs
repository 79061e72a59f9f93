//! Cleanup strategies: the [`CleanupStrategy`] trait, what a run reports, and the registry
//! that runs them in priority order.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use foundation_core::Result;
use foundation_protect::protection::PressureLevel;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// Something that can give memory back under pressure: a cache to trim, buffers to drop,
/// old monitor windows to forget.
///
/// Register it with [`MemoryManager::register`](super::MemoryManager::register). When the
/// level rises to [`min_level`](Self::min_level) or above (and, while it stays high or
/// critical, again every `cleanup_interval`), every applicable strategy runs, lowest
/// [`priority`](Self::priority) first. A strategy runs on the sampler's task: keep it quick
/// and non-blocking. An error or a panic is reported as that strategy's failure; the others
/// still run.
///
/// ```
/// use foundation_core::Result;
/// use foundation_observe::memory::{CleanupStrategy, Freed};
/// use foundation_protect::protection::PressureLevel;
///
/// struct DropScratch;
/// impl CleanupStrategy for DropScratch {
///     fn name(&self) -> &str { "drop-scratch" }
///     fn min_level(&self) -> PressureLevel { PressureLevel::High }
///     fn clean(&self, _level: PressureLevel) -> Result<Freed> { Ok(Freed::bytes(4096)) }
/// }
/// ```
pub trait CleanupStrategy: Send + Sync + 'static {
    /// A short name for reports and logs.
    fn name(&self) -> &str;

    /// Order among strategies: lower runs first; equal priorities run in registration order.
    fn priority(&self) -> u32 {
        100
    }

    /// The lowest level this strategy runs at; it also runs at every level above.
    fn min_level(&self) -> PressureLevel {
        PressureLevel::Medium
    }

    /// Gives memory back; `level` is the level being handled.
    fn clean(&self, level: PressureLevel) -> Result<Freed>;
}

/// What a strategy gave back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Freed {
    /// Bytes freed, as far as the strategy can tell (0 if it cannot).
    pub bytes: u64,
    /// Things freed (entries, events, windows).
    pub items: u64,
    /// A short note (e.g. what was shed), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Freed {
    /// `n` bytes freed.
    pub fn bytes(n: u64) -> Freed {
        Freed {
            bytes: n,
            ..Freed::default()
        }
    }

    /// `n` items freed.
    pub fn items(n: u64) -> Freed {
        Freed {
            items: n,
            ..Freed::default()
        }
    }

    /// Adds a note.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Freed {
        self.detail = Some(detail.into());
        self
    }
}

/// How one strategy's run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum StrategyOutcome {
    /// It ran and freed this much.
    Freed(Freed),
    /// It returned an error.
    Failed {
        /// The error's code name, e.g. `core.internal`.
        code: String,
        /// The error, displayed.
        error: String,
    },
    /// It panicked; the panic was caught.
    Panicked {
        /// The panic's message.
        message: String,
    },
}

/// One strategy's part of a cleanup run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StrategyResult {
    /// The strategy's name.
    pub strategy: String,
    /// Its priority.
    pub priority: u32,
    /// How it ended.
    pub outcome: StrategyOutcome,
}

/// Why a cleanup ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CleanupTrigger {
    /// The level rose.
    LevelRose,
    /// The level stayed high or critical for another `cleanup_interval`.
    Sustained,
    /// [`MemoryManager::cleanup_now`](super::MemoryManager::cleanup_now) was called.
    Requested,
}

/// A whole cleanup run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CleanupReport {
    /// The level handled.
    pub level: PressureLevel,
    /// Why it ran.
    pub trigger: CleanupTrigger,
    /// Usage when it started, if a sample had been taken.
    pub usage_bytes: Option<u64>,
    /// The limit when it started, if a sample had been taken.
    pub limit_bytes: Option<u64>,
    /// Every applicable strategy, in the order they ran.
    pub results: Vec<StrategyResult>,
    /// The sum of what the strategies freed.
    pub freed_bytes: u64,
    /// The sum of the items the strategies freed.
    pub freed_items: u64,
    /// How many strategies failed or panicked.
    pub failed: usize,
}

/// Registered strategies, kept sorted by priority then registration order.
#[derive(Default)]
pub(crate) struct Strategies {
    list: Mutex<Vec<Arc<dyn CleanupStrategy>>>,
}

impl Strategies {
    pub(crate) fn register(&self, strategy: Arc<dyn CleanupStrategy>) {
        let mut list = self.list.lock();
        let at = list.partition_point(|s| s.priority() <= strategy.priority());
        list.insert(at, strategy);
    }

    /// `(name, priority, min_level)` of each strategy, in run order.
    pub(crate) fn describe(&self) -> Vec<(String, u32, PressureLevel)> {
        self.list
            .lock()
            .iter()
            .map(|s| (s.name().to_string(), s.priority(), s.min_level()))
            .collect()
    }

    /// Runs every strategy that applies at `level` (none under the lock), catching panics.
    pub(crate) fn run(&self, level: PressureLevel) -> Vec<StrategyResult> {
        let applicable: Vec<_> = self
            .list
            .lock()
            .iter()
            .filter(|s| s.min_level() <= level)
            .cloned()
            .collect();
        applicable
            .iter()
            .map(|s| {
                let outcome = match catch_unwind(AssertUnwindSafe(|| s.clean(level))) {
                    Ok(Ok(freed)) => StrategyOutcome::Freed(freed),
                    Ok(Err(e)) => StrategyOutcome::Failed {
                        code: e.code().name().to_string(),
                        error: e.to_string(),
                    },
                    Err(panic) => StrategyOutcome::Panicked {
                        message: panic_message(panic.as_ref()),
                    },
                };
                StrategyResult {
                    strategy: s.name().to_string(),
                    priority: s.priority(),
                    outcome,
                }
            })
            .collect()
    }
}

/// The text of a caught panic.
pub(crate) fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}
