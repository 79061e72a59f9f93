//! The manager's state as the API shows it.

use foundation_protect::protection::PressureLevel;
use serde::{Deserialize, Serialize};

use super::reading::MemorySample;
use super::strategy::CleanupReport;

/// A registered strategy, as listed in [`MemoryStatus`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StrategyInfo {
    /// Its name.
    pub name: String,
    /// Its priority (lower runs first).
    pub priority: u32,
    /// The lowest level it runs at.
    pub min_level: PressureLevel,
}

/// Everything the memory manager knows, for the HTTP API and the dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryStatus {
    /// The current level (what the memory gate reports).
    pub level: PressureLevel,
    /// The last successful sample (usage, limit, where each came from, warnings).
    pub last_sample: Option<MemorySample>,
    /// The error of the last sample if it failed; cleared by the next good one.
    pub last_error: Option<String>,
    /// Samples taken, successful or not.
    pub samples: u64,
    /// Samples that failed.
    pub failed_samples: u64,
    /// The last cleanup run.
    pub last_cleanup: Option<CleanupReport>,
    /// The registered strategies, in run order.
    pub strategies: Vec<StrategyInfo>,
}
