//! Circuit breaker: stop calling a dependency that is failing, probe it, recover gradually.
//!
//! A [`CircuitBreaker`] counts the outcomes of calls in a sliding window (the last N calls or
//! the last T seconds) and **trips open** when the failure rate, a per-class rate (network,
//! timeout, application, as decided by the [`Classifier`](crate::outcome::Classifier)) or the
//! slow-call rate reaches its threshold, once the window holds the minimum number of calls.
//! Open, it refuses calls with `CIRCUIT_OPEN` (and `retry_after`) for the open duration,
//! which can grow by a backoff on repeated trips. Then it turns **half-open**: exactly
//! `half_open_probes` calls are let through, reserved atomically however many tasks race;
//! their results close or reopen it. After closing it can **ramp**: admit a growing fraction
//! of calls over `recovery_ramp`, shedding the rest with `CIRCUIT_RAMPING`.
//!
//! Operators can force it open, close, disable it (admit all, count nothing), switch it to
//! metrics-only (count, never trip), reset it, and reconfigure it live without losing its
//! window. [`BreakerRegistry`] holds named breakers, each with its own config.
//! [`CircuitBreakerLayer`] makes it a tower middleware.
//!
//! The breaker never runs the call: it decides ([`CircuitBreaker::try_acquire`] returns a
//! [`Permit`]) and records ([`Permit::record`]). The closed path is an atomic load to admit
//! and a lock-free ring update to record — no allocation, no lock. [`PermitRef`]
//! ([`CircuitBreaker::try_acquire_ref`]), [`CircuitBreaker::call`] and
//! [`CircuitBreaker::call_sync`] borrow the breaker and skip the reference count: use them
//! when the breaker outlives the call.
//!
//! ```
//! use std::time::Duration;
//! use foundation_core::{Error, ErrorCode, ManualClock};
//! use foundation_protect::breaker::{BreakerConfig, BreakerState, CircuitBreaker, WindowConfig};
//! use foundation_protect::outcome::Outcome;
//!
//! let clock = ManualClock::new();
//! let breaker = CircuitBreaker::builder("payments")
//!     .config(BreakerConfig {
//!         window: WindowConfig::Count { size: 10 },
//!         minimum_calls: 4,
//!         failure_rate_threshold: 50.0,
//!         open_duration: Duration::from_secs(10),
//!         half_open_probes: 1,
//!         ..BreakerConfig::default()
//!     })
//!     .clock(clock.clock())
//!     .build()?;
//!
//! // The caller runs the call; the breaker decides and records.
//! for _ in 0..4 {
//!     let permit = breaker.try_acquire()?;
//!     permit.record_error(&Error::new(ErrorCode::NETWORK, "connection reset"));
//! }
//! assert_eq!(breaker.state(), BreakerState::Open);
//! let refused = breaker.try_acquire().unwrap_err();
//! assert!(refused.is(ErrorCode::CIRCUIT_OPEN));
//! assert_eq!(refused.retry_after(), Some(Duration::from_secs(10)));
//! assert_eq!(refused.context_value("breaker"), Some("payments"));
//!
//! // After the open duration, one probe is let through; its success closes the breaker.
//! clock.advance(Duration::from_secs(10));
//! let probe = breaker.try_acquire()?;
//! assert!(probe.is_probe());
//! assert!(breaker.try_acquire().unwrap_err().is(ErrorCode::CIRCUIT_HALF_OPEN_FULL));
//! probe.record(Outcome::Success);
//! assert_eq!(breaker.state(), BreakerState::Closed);
//! # Ok::<(), Error>(())
//! ```

mod callers;
mod circuit;
mod config;
mod engine;
mod events;
mod layer;
mod permit;
mod registry;
mod state;
mod status;
mod window;

pub use callers::{CallerStatus, OTHER_CALLER};
pub use circuit::{BreakerBuilder, CircuitBreaker};
pub use config::{
    BreakerConfig, ClassThresholds, MAX_HALF_OPEN_PROBES, MAX_TRACKED_CALLERS, MAX_WINDOW_BUCKETS,
    MAX_WINDOW_SIZE, OpenBackoff, WindowConfig,
};
pub use events::{CallRejected, ProbeResult, SlowCall, StateChanged};
pub use layer::{CircuitBreakerLayer, CircuitBreakerService, ResponseFuture};
pub use permit::{Permit, PermitRef};
pub use registry::{BreakerRegistry, RegistryBuilder, RegistryConfig};
pub use state::{BreakerState, TransitionReason};
pub use status::{BreakerStatus, ProbeStatus, TransitionRecord};
pub use window::WindowCounts;
