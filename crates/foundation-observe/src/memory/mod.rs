//! The memory manager: process and cgroup memory, pressure levels, cleanup.
//!
//! A [`MemoryManager`] samples the process's memory on an interval ([`MemoryManager::start`])
//! or on demand ([`MemoryManager::sample_now`]):
//!
//! - **usage** is the cgroup v2 `memory.current` when the process has one, else its RSS
//!   (`VmRSS` of `/proc/self/status`);
//! - **the limit** is the tightest cgroup `memory.max` of the process's cgroup and its
//!   ancestors (`max` means none), else [`MemoryConfig::limit_bytes`], else the machine's
//!   total memory (`MemTotal` of `/proc/meminfo`);
//! - with the cargo feature `jemalloc`, jemalloc's `allocated` and `resident` statistics are
//!   read too (through `tikv-jemalloc-ctl`). They describe jemalloc's heap, so the
//!   application must also make jemalloc its global allocator (`tikv-jemallocator`'s
//!   `#[global_allocator]`), or they mean nothing.
//!
//! Usage as a fraction of the limit sets the [`PressureLevel`](foundation_protect::protection::PressureLevel)
//! — low, medium, high, critical — from the thresholds of [`MemoryConfig`], with hysteresis: a
//! level is left only once usage falls `hysteresis` below its threshold. The manager is a
//! [`MemoryGate`](foundation_protect::protection::MemoryGate) (a lock-free read of the level),
//! so a `Protection` built with `.memory_gate(manager.gate())` refuses new work at critical
//! with `protect.memory_pressure`.
//!
//! When the level rises, and every `cleanup_interval` while it stays high or critical, the
//! [`CleanupStrategy`]s registered for that level run, lowest priority first; each reports
//! what it freed or how it failed (a panic is caught and reported). The run is returned, kept
//! as [`MemoryManager::last_cleanup`], and published. Built in: [`TrimCaches`] (caches
//! implementing [`Trim`]), [`PruneBusBuffers`] (sheds stuck telemetry subscriptions) and
//! [`FnStrategy`].
//!
//! Events on the telemetry bus: [`PressureChanged`] (`foundation.memory.pressure_changed`)
//! and [`CleanupCompleted`] (`foundation.memory.cleanup`); the same names are `tracing` events.
//!
//! Bad input never panics: a missing cgroup file falls back silently; a malformed one (garbage,
//! empty, negative) is left out and named in the reading's `warnings`; if usage or a limit
//! cannot be had at all (`/proc` unreadable), `sample_now` returns
//! [`MEMORY_READ_FAILED`](foundation_core::ErrorCode::MEMORY_READ_FAILED), the level stays, and the sampler goes on.
//!
//! ```
//! use std::sync::Arc;
//! use foundation_core::{ErrorCode, Result, TelemetryBus};
//! use foundation_observe::memory::{
//!     MemoryConfig, MemoryManager, MemoryReading, MemorySource, FnStrategy, Freed,
//! };
//! use foundation_protect::protection::{PressureLevel, Protection};
//!
//! /// A source that always reports 96 MiB used of a 100 MiB cgroup.
//! struct Full;
//! impl MemorySource for Full {
//!     fn read(&self) -> Result<MemoryReading> {
//!         Ok(MemoryReading {
//!             cgroup_current_bytes: Some(96 << 20),
//!             cgroup_limit_bytes: Some(100 << 20),
//!             ..MemoryReading::default()
//!         })
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let manager = MemoryManager::builder()
//!     .config(MemoryConfig::default())
//!     .source(Full)
//!     .bus(TelemetryBus::new())
//!     .strategy(FnStrategy::new("drop-scratch", |_| Ok(Freed::bytes(1024))))
//!     .build()?;
//! let sample = manager.sample_now()?;
//! assert_eq!(sample.level, PressureLevel::Critical);
//! assert_eq!(manager.last_cleanup().unwrap().freed_bytes, 1024);
//!
//! let protection = Protection::builder("api").memory_gate(manager.gate()).build()?;
//! let refused = protection.run(|_| async { Ok(()) }).await.unwrap_err();
//! assert!(refused.is(ErrorCode::MEMORY_PRESSURE));
//! # Ok::<(), foundation_core::Error>(())
//! # }).unwrap();
//! ```

mod config;
mod events;
mod fn_strategy;
#[cfg(feature = "jemalloc")]
mod jemalloc;
mod level;
mod manager;
mod parse;
mod prune_bus;
mod reading;
mod sampler;
mod source;
mod status;
mod strategy;
mod trim_caches;
mod trim_monitor;

pub use config::MemoryConfig;
pub use events::{CleanupCompleted, PressureChanged};
pub use fn_strategy::FnStrategy;
pub use manager::{MemoryManager, MemoryManagerBuilder};
pub use prune_bus::PruneBusBuffers;
pub use reading::{JemallocStats, LimitSource, MemoryReading, MemorySample, UsageSource};
pub use sampler::Sampler;
pub use source::{MemorySource, ProcSource};
pub use status::{MemoryStatus, StrategyInfo};
pub use strategy::{
    CleanupReport, CleanupStrategy, CleanupTrigger, Freed, StrategyOutcome, StrategyResult,
};
pub use trim_caches::{Trim, TrimCaches};
pub use trim_monitor::TrimMonitorHistory;
