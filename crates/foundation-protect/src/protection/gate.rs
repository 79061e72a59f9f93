//! The memory-pressure gate: the first stage of every protected call.
//!
//! The memory manager (in `foundation-observe`) implements [`MemoryGate`]; the facade asks
//! it for the current [`PressureLevel`] and refuses new work at or above its configured level
//! (default [`PressureLevel::Critical`]) with [`ErrorCode::MEMORY_PRESSURE`](foundation_core::ErrorCode::MEMORY_PRESSURE).
//! [`ManualGate`] is a gate set by hand, for tests and for operators.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

/// How close the process is to its memory limit.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum PressureLevel {
    /// Plenty of headroom.
    #[default]
    Low,
    /// Worth trimming caches.
    Medium,
    /// Shed optional work.
    High,
    /// Refuse new work.
    Critical,
}

impl PressureLevel {
    /// The lower-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            PressureLevel::Low => "low",
            PressureLevel::Medium => "medium",
            PressureLevel::High => "high",
            PressureLevel::Critical => "critical",
        }
    }

    fn from_u8(v: u8) -> PressureLevel {
        match v {
            0 => PressureLevel::Low,
            1 => PressureLevel::Medium,
            2 => PressureLevel::High,
            _ => PressureLevel::Critical,
        }
    }
}

/// Something that knows the current memory pressure. Must answer quickly, without blocking:
/// it is read on every protected call.
pub trait MemoryGate: Send + Sync + 'static {
    /// The current level.
    fn level(&self) -> PressureLevel;
}

/// A gate whose level is set by hand. Clones share the level.
#[derive(Debug, Clone, Default)]
pub struct ManualGate {
    level: Arc<AtomicU8>,
}

impl ManualGate {
    /// A gate at [`PressureLevel::Low`].
    pub fn new() -> ManualGate {
        ManualGate::default()
    }

    /// Sets the level every reader sees next.
    pub fn set(&self, level: PressureLevel) {
        self.level.store(level as u8, Ordering::Release);
    }
}

impl MemoryGate for ManualGate {
    fn level(&self) -> PressureLevel {
        PressureLevel::from_u8(self.level.load(Ordering::Acquire))
    }
}
