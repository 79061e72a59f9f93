//! The vocabulary every Foundation crate shares.
//!
//! - [`Error`] and [`ErrorCode`]: one error type with stable, hierarchical codes
//!   (`category → kind → number`, e.g. `protect.circuit_open` = 2101), a context map,
//!   an optional `retry_after` and [`Error::is_retryable`].
//! - [`telemetry`]: the in-process telemetry bus. Components publish typed events; the
//!   monitor, health aggregator and alerting subscribe. Emitting never blocks.
//! - [`Clock`]: the injectable clock, so every time-dependent component can be driven by
//!   paused tokio time or a [`ManualClock`] in tests.
//! - [`trace`]: W3C trace context (`traceparent`/`tracestate`) and the current context
//!   carried through async code.
//! - [`validate`]: field-named configuration validation shared by every `Config` struct.
//! - `http` (feature `http`): the JSON error every Foundation HTTP router answers with.
//!
//! ```
//! use foundation_core::{Error, ErrorCode};
//! use std::time::Duration;
//!
//! let err = Error::new(ErrorCode::RATE_LIMITED, "quota of 10/s used up")
//!     .with_context("limiter", "api")
//!     .with_retry_after(Duration::from_millis(250));
//! assert_eq!(err.code().number(), 2201);
//! assert_eq!(err.code().name(), "protect.rate_limited");
//! assert!(err.is_retryable());
//! assert_eq!(err.retry_after(), Some(Duration::from_millis(250)));
//! ```

pub mod clock;
pub mod error;
#[cfg(feature = "http")]
pub mod http;
pub mod millis;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod trace;
pub mod validate;

pub use clock::{Clock, ManualClock, Stopwatch};
pub use error::{Category, Error, ErrorCode, Result};
pub use telemetry::{Event, Subscription, TelemetryBus};
pub use trace::TraceContext;
pub use validate::{Validate, Validator};
