//! The [`MemoryManager`]: samples, tracks the level, runs cleanups, reports.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

use foundation_core::{Clock, Error, ErrorCode, Result, TelemetryBus, Validate};
use foundation_protect::protection::{MemoryGate, PressureLevel};
use parking_lot::Mutex;

use super::MemoryConfig;
use super::events::{CleanupCompleted, PressureChanged};
use super::level::{self, Thresholds};
use super::reading::{Measured, MemorySample};
use super::sampler::Sampler;
use super::source::{MemorySource, ProcSource};
use super::status::{MemoryStatus, StrategyInfo};
use super::strategy::{
    CleanupReport, CleanupStrategy, CleanupTrigger, Strategies, StrategyOutcome, panic_message,
};

/// Watches the process's memory and keeps a pressure level that the protection facade's
/// memory gate reads. Cheap to clone; clones share everything.
///
/// Each sample reads the [`MemorySource`], measures usage against the limit, moves the level
/// (with hysteresis), and when the level rises — or stays high or critical for another
/// `cleanup_interval` — runs the registered [`CleanupStrategy`]s for that level. Level changes
/// and cleanups are published on the telemetry bus and logged with `tracing`.
#[derive(Clone)]
pub struct MemoryManager {
    inner: Arc<Inner>,
}

struct Inner {
    config: MemoryConfig,
    thresholds: Thresholds,
    source: Box<dyn MemorySource>,
    bus: TelemetryBus,
    clock: Clock,
    /// The current level, read lock-free by the gate.
    level: AtomicU8,
    strategies: Strategies,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    level: PressureLevel,
    last_sample: Option<MemorySample>,
    last_error: Option<String>,
    samples: u64,
    failed_samples: u64,
    last_cleanup: Option<CleanupReport>,
    last_cleanup_at: Option<Instant>,
}

impl std::fmt::Debug for MemoryManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryManager")
            .field("level", &self.level())
            .field("config", &self.inner.config)
            .finish()
    }
}

/// Builds a [`MemoryManager`].
#[must_use]
pub struct MemoryManagerBuilder {
    config: MemoryConfig,
    source: Option<Box<dyn MemorySource>>,
    bus: Option<TelemetryBus>,
    clock: Clock,
    strategies: Vec<Arc<dyn CleanupStrategy>>,
}

impl MemoryManagerBuilder {
    /// The configuration (default: [`MemoryConfig::default`]).
    pub fn config(mut self, config: MemoryConfig) -> Self {
        self.config = config;
        self
    }

    /// Where the numbers come from (default: [`ProcSource::new`]).
    pub fn source(mut self, source: impl MemorySource) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The bus events go to (default: the global bus).
    pub fn bus(mut self, bus: TelemetryBus) -> Self {
        self.bus = Some(bus);
        self
    }

    /// The clock `cleanup_interval` is measured on (default: tokio's).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Registers a cleanup strategy.
    pub fn strategy(mut self, strategy: impl CleanupStrategy) -> Self {
        self.strategies.push(Arc::new(strategy));
        self
    }

    /// Validates the config and builds the manager, at [`PressureLevel::Low`] until the
    /// first sample.
    pub fn build(self) -> Result<MemoryManager> {
        self.config.validate_at("memory")?;
        let inner = Inner {
            thresholds: Thresholds::new(&self.config),
            config: self.config,
            source: self.source.unwrap_or_else(|| Box::new(ProcSource::new())),
            bus: self.bus.unwrap_or_else(|| TelemetryBus::global().clone()),
            clock: self.clock,
            level: AtomicU8::new(level::to_u8(PressureLevel::Low)),
            strategies: Strategies::default(),
            state: Mutex::new(State::default()),
        };
        for s in self.strategies {
            inner.strategies.register(s);
        }
        Ok(MemoryManager {
            inner: Arc::new(inner),
        })
    }
}

impl MemoryManager {
    /// A builder with the defaults.
    pub fn builder() -> MemoryManagerBuilder {
        MemoryManagerBuilder {
            config: MemoryConfig::default(),
            source: None,
            bus: None,
            clock: Clock::default(),
            strategies: Vec::new(),
        }
    }

    /// A manager reading `/proc` and `/sys/fs/cgroup` with `config`, on the global bus.
    pub fn new(config: MemoryConfig) -> Result<MemoryManager> {
        MemoryManager::builder().config(config).build()
    }

    /// The configuration.
    pub fn config(&self) -> &MemoryConfig {
        &self.inner.config
    }

    /// The current level, without locking.
    pub fn level(&self) -> PressureLevel {
        level::from_u8(self.inner.level.load(Ordering::Acquire))
    }

    /// This manager as the protection facade's memory gate:
    /// `Protection::builder(..).memory_gate(manager.gate())`.
    pub fn gate(&self) -> Arc<dyn MemoryGate> {
        Arc::new(self.clone())
    }

    /// Registers a cleanup strategy; it runs from the next cleanup on.
    pub fn register(&self, strategy: impl CleanupStrategy) {
        self.inner.strategies.register(Arc::new(strategy));
    }

    /// Starts the background sampler: a sample now, then one every `interval`. The sampler
    /// stops when the returned handle is dropped or [stopped](Sampler::stop).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn start(&self) -> Sampler {
        Sampler::spawn(self.clone(), self.inner.config.interval)
    }

    /// Reads memory now, moves the level and, if called for, runs cleanup before returning.
    ///
    /// A reading with warnings (a malformed cgroup file...) still counts, measured from what
    /// could be read. If neither usage nor a limit can be determined, or the source fails,
    /// the level stays where it was and the error ([`MEMORY_READ_FAILED`](foundation_core::ErrorCode::MEMORY_READ_FAILED)
    /// or the source's) is returned and kept in [`status`](Self::status).
    pub fn sample_now(&self) -> Result<MemorySample> {
        let inner = &*self.inner;
        let measured = catch_unwind(AssertUnwindSafe(|| inner.source.read()))
            .unwrap_or_else(|p| {
                Err(Error::new(
                    ErrorCode::INTERNAL,
                    format!("the memory source panicked: {}", panic_message(p.as_ref())),
                ))
            })
            .and_then(|r| Measured::from_reading(&r, inner.config.limit_bytes).map(|m| (r, m)));
        let (reading, measured) = match measured {
            Ok(ok) => ok,
            Err(e) => {
                let mut state = inner.state.lock();
                state.samples += 1;
                state.failed_samples += 1;
                if state.last_error.is_none() {
                    tracing::warn!(error = %e, "foundation.memory.sample_failed");
                }
                state.last_error = Some(e.to_string());
                return Err(e);
            }
        };
        let now = inner.clock.now();
        let fraction = measured.fraction();
        let (sample, from, cleanup) = {
            let mut state = inner.state.lock();
            let from = state.level;
            let to = inner.thresholds.next(from, fraction);
            state.level = to;
            inner.level.store(level::to_u8(to), Ordering::Release);
            let cleanup = if to > from {
                Some(CleanupTrigger::LevelRose)
            } else if to >= PressureLevel::High
                && state.last_cleanup_at.is_none_or(|at| {
                    now.saturating_duration_since(at) >= inner.config.cleanup_interval
                })
            {
                Some(CleanupTrigger::Sustained)
            } else {
                None
            };
            if cleanup.is_some() {
                state.last_cleanup_at = Some(now);
            }
            let new_warnings = state
                .last_sample
                .as_ref()
                .is_none_or(|s| s.reading.warnings != reading.warnings);
            if new_warnings && !reading.warnings.is_empty() {
                tracing::warn!(warnings = ?reading.warnings, "foundation.memory.read_warnings");
            }
            let sample = MemorySample {
                usage_bytes: measured.usage_bytes,
                usage_source: measured.usage_source,
                limit_bytes: measured.limit_bytes,
                limit_source: measured.limit_source,
                fraction,
                level: to,
                reading,
            };
            state.samples += 1;
            state.last_error = None;
            state.last_sample = Some(sample.clone());
            (sample, from, cleanup)
        };
        if from != sample.level {
            self.announce(from, &sample);
        }
        if let Some(trigger) = cleanup {
            self.run_cleanup(
                sample.level,
                trigger,
                Some(sample.usage_bytes),
                Some(sample.limit_bytes),
            );
        }
        Ok(sample)
    }

    /// Runs the strategies for `level` now, whatever the current level, and reports.
    pub fn cleanup_now(&self, level: PressureLevel) -> CleanupReport {
        let last = self.inner.state.lock().last_sample.clone();
        self.run_cleanup(
            level,
            CleanupTrigger::Requested,
            last.as_ref().map(|s| s.usage_bytes),
            last.as_ref().map(|s| s.limit_bytes),
        )
    }

    /// The last cleanup run, if any.
    pub fn last_cleanup(&self) -> Option<CleanupReport> {
        self.inner.state.lock().last_cleanup.clone()
    }

    /// The last successful sample, if any.
    pub fn last_sample(&self) -> Option<MemorySample> {
        self.inner.state.lock().last_sample.clone()
    }

    /// Everything the manager knows, serializable for the API.
    pub fn status(&self) -> MemoryStatus {
        let strategies = self
            .inner
            .strategies
            .describe()
            .into_iter()
            .map(|(name, priority, min_level)| StrategyInfo {
                name,
                priority,
                min_level,
            })
            .collect();
        let state = self.inner.state.lock();
        MemoryStatus {
            level: state.level,
            last_sample: state.last_sample.clone(),
            last_error: state.last_error.clone(),
            samples: state.samples,
            failed_samples: state.failed_samples,
            last_cleanup: state.last_cleanup.clone(),
            strategies,
        }
    }

    fn announce(&self, from: PressureLevel, sample: &MemorySample) {
        let (to, usage, limit) = (sample.level, sample.usage_bytes, sample.limit_bytes);
        if to > from {
            tracing::warn!(
                from = from.as_str(),
                to = to.as_str(),
                usage,
                limit,
                "foundation.memory.pressure_changed"
            );
        } else {
            tracing::info!(
                from = from.as_str(),
                to = to.as_str(),
                usage,
                limit,
                "foundation.memory.pressure_changed"
            );
        }
        self.inner.bus.emit(PressureChanged {
            from,
            to,
            usage_bytes: usage,
            limit_bytes: limit,
        });
    }

    fn run_cleanup(
        &self,
        level: PressureLevel,
        trigger: CleanupTrigger,
        usage_bytes: Option<u64>,
        limit_bytes: Option<u64>,
    ) -> CleanupReport {
        let results = self.inner.strategies.run(level);
        let mut report = CleanupReport {
            level,
            trigger,
            usage_bytes,
            limit_bytes,
            freed_bytes: 0,
            freed_items: 0,
            failed: 0,
            results,
        };
        for r in &report.results {
            match &r.outcome {
                StrategyOutcome::Freed(f) => {
                    report.freed_bytes = report.freed_bytes.saturating_add(f.bytes);
                    report.freed_items = report.freed_items.saturating_add(f.items);
                }
                _ => report.failed += 1,
            }
        }
        tracing::info!(
            level = level.as_str(),
            ?trigger,
            strategies = report.results.len(),
            freed_bytes = report.freed_bytes,
            freed_items = report.freed_items,
            failed = report.failed,
            "foundation.memory.cleanup"
        );
        self.inner.state.lock().last_cleanup = Some(report.clone());
        self.inner.bus.emit(CleanupCompleted {
            report: report.clone(),
        });
        report
    }
}

impl MemoryGate for MemoryManager {
    fn level(&self) -> PressureLevel {
        MemoryManager::level(self)
    }
}
