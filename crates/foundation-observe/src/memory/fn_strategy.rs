//! A cleanup strategy made from a function.

use std::fmt;

use foundation_core::Result;
use foundation_protect::protection::PressureLevel;

use super::strategy::{CleanupStrategy, Freed};

/// A [`CleanupStrategy`] from a name and a function.
///
/// ```
/// use foundation_observe::memory::{FnStrategy, Freed};
/// use foundation_protect::protection::PressureLevel;
///
/// let flush = FnStrategy::new("flush-batches", |_level| Ok(Freed::items(3)))
///     .from_level(PressureLevel::High)
///     .with_priority(5);
/// ```
pub struct FnStrategy<F> {
    name: String,
    f: F,
    priority: u32,
    min_level: PressureLevel,
}

impl<F> fmt::Debug for FnStrategy<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnStrategy")
            .field("name", &self.name)
            .field("priority", &self.priority)
            .field("min_level", &self.min_level)
            .finish()
    }
}

impl<F> FnStrategy<F>
where
    F: Fn(PressureLevel) -> Result<Freed> + Send + Sync + 'static,
{
    /// A strategy running `f`, priority 100, from [`PressureLevel::Medium`] up.
    pub fn new(name: impl Into<String>, f: F) -> FnStrategy<F> {
        FnStrategy {
            name: name.into(),
            f,
            priority: 100,
            min_level: PressureLevel::Medium,
        }
    }

    /// Runs from `level` up instead.
    pub fn from_level(mut self, level: PressureLevel) -> FnStrategy<F> {
        self.min_level = level;
        self
    }

    /// Sets the priority (lower runs first).
    pub fn with_priority(mut self, priority: u32) -> FnStrategy<F> {
        self.priority = priority;
        self
    }
}

impl<F> CleanupStrategy for FnStrategy<F>
where
    F: Fn(PressureLevel) -> Result<Freed> + Send + Sync + 'static,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn priority(&self) -> u32 {
        self.priority
    }

    fn min_level(&self) -> PressureLevel {
        self.min_level
    }

    fn clean(&self, level: PressureLevel) -> Result<Freed> {
        (self.f)(level)
    }
}
