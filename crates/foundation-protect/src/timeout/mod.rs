//! Timeout: a deadline per call, cancellation-safe.
//!
//! [`Timeout::run`] drives the call until it finishes or the deadline passes; then the call's
//! future is dropped (so whatever it holds — a connection, a permit — is released) and the
//! result is a `TIMEOUT` error with context `timeout` (the deadline in milliseconds) and
//! `name`. [`Timeout::run_with`] overrides the deadline for one call; [`TimeoutLayer`] is
//! the tower layer. Each timeout publishes [`TimeoutElapsed`].
//!
//! Deadlines use tokio's timer, so tests run on paused time.
//!
//! ```
//! use foundation_core::{Error, ErrorCode};
//! use foundation_protect::timeout::{Timeout, TimeoutConfig};
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Error> {
//! let timeout = Timeout::new(TimeoutConfig { duration: Duration::from_millis(100) })?;
//! assert_eq!(timeout.run(async { Ok::<_, Error>(1) }).await?, 1);
//!
//! let slow = async {
//!     tokio::time::sleep(Duration::from_secs(1)).await;
//!     Ok::<_, Error>(2)
//! };
//! let err = timeout.run(slow).await.unwrap_err();
//! assert!(err.is(ErrorCode::TIMEOUT));
//! assert_eq!(err.context_value("timeout"), Some("100"));
//! # Ok(()) }
//! ```

mod deadline;
mod layer;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use foundation_core::{Error, ErrorCode, Event, TelemetryBus, Validate, Validator};
use serde::{Deserialize, Serialize};

use foundation_core::millis;

pub use deadline::Deadline;
pub use layer::{ResponseFuture, TimeoutLayer, TimeoutService};

/// Configuration of a [`Timeout`].
///
/// ```toml
/// duration_ms = 2000
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimeoutConfig {
    /// The deadline of each call, from the moment it first waits.
    #[serde(rename = "duration_ms", with = "millis")]
    pub duration: Duration,
}

impl Default for TimeoutConfig {
    fn default() -> Self {
        TimeoutConfig {
            duration: Duration::from_secs(10),
        }
    }
}

impl Validate for TimeoutConfig {
    fn validate_into(&self, v: &mut Validator) {
        v.positive_duration("duration_ms", self.duration);
    }
}

/// `foundation.timeout.elapsed`: a call overran its deadline and was cancelled.
#[derive(Debug, Clone)]
pub struct TimeoutElapsed {
    /// The timeout's name.
    pub timeout: Arc<str>,
    /// The deadline that passed.
    pub duration: Duration,
}

impl Event for TimeoutElapsed {
    fn name(&self) -> &'static str {
        "foundation.timeout.elapsed"
    }
    fn source(&self) -> &str {
        &self.timeout
    }
}

struct Inner {
    name: Arc<str>,
    nanos: AtomicU64,
    bus: TelemetryBus,
}

/// A per-call deadline. Cheap to clone; clones share the configured duration.
#[derive(Clone)]
pub struct Timeout {
    inner: Arc<Inner>,
}

impl fmt::Debug for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("name", &self.inner.name)
            .field("duration", &self.duration())
            .finish()
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Timeout {
    /// A timeout named `"timeout"` on the global telemetry bus. Fails if the config is
    /// invalid.
    pub fn new(config: TimeoutConfig) -> Result<Timeout, Error> {
        Timeout::builder().config(config).build()
    }

    /// A builder, starting from [`TimeoutConfig::default`].
    pub fn builder() -> TimeoutBuilder {
        TimeoutBuilder::default()
    }

    /// The timeout's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The configured deadline.
    pub fn duration(&self) -> Duration {
        Duration::from_nanos(self.inner.nanos.load(Ordering::Relaxed))
    }

    /// Changes the deadline for calls starting from now on.
    pub fn set_config(&self, config: TimeoutConfig) -> Result<(), Error> {
        config.validate_at("timeout")?;
        self.inner
            .nanos
            .store(nanos(config.duration), Ordering::Relaxed);
        Ok(())
    }

    /// Runs `fut` with the configured deadline.
    pub async fn run<T, Fut>(&self, fut: Fut) -> Result<T, Error>
    where
        Fut: Future<Output = Result<T, Error>>,
    {
        self.run_with(self.duration(), fut).await
    }

    /// Runs `fut` with `duration` as its deadline instead of the configured one (a zero
    /// duration lets the future be polled once).
    pub async fn run_with<T, Fut>(&self, duration: Duration, fut: Fut) -> Result<T, Error>
    where
        Fut: Future<Output = Result<T, Error>>,
    {
        self.deadline_with(duration, fut).await?
    }

    /// Runs any future with the configured deadline, keeping its output apart from the
    /// timeout's own error: `Ok(output)` if it finished in time, else `TIMEOUT`.
    pub fn deadline<Fut: Future>(&self, fut: Fut) -> Deadline<&Timeout, Fut> {
        self.deadline_with(self.duration(), fut)
    }

    /// [`deadline`](Self::deadline) with `duration` instead of the configured one.
    pub fn deadline_with<Fut: Future>(
        &self,
        duration: Duration,
        fut: Fut,
    ) -> Deadline<&Timeout, Fut> {
        Deadline::new(self, duration, fut)
    }

    /// The `TIMEOUT` error for a call that overran `duration`, published as an event.
    pub(crate) fn elapsed(&self, duration: Duration) -> Error {
        let inner = &*self.inner;
        let ms = duration.as_millis();
        tracing::debug!(
            timeout = &*inner.name,
            timeout_ms = ms as u64,
            "foundation.timeout.elapsed"
        );
        inner.bus.emit(TimeoutElapsed {
            timeout: inner.name.clone(),
            duration,
        });
        Error::new(
            ErrorCode::TIMEOUT,
            format!("call overran its {ms} ms deadline"),
        )
        .with_context("timeout", ms)
        .with_context("name", &inner.name)
    }
}

/// Builds a [`Timeout`].
#[must_use]
#[derive(Debug)]
pub struct TimeoutBuilder {
    name: String,
    config: TimeoutConfig,
    bus: Option<TelemetryBus>,
}

impl Default for TimeoutBuilder {
    fn default() -> Self {
        TimeoutBuilder {
            name: "timeout".into(),
            config: TimeoutConfig::default(),
            bus: None,
        }
    }
}

impl TimeoutBuilder {
    /// The name used in errors and events (must not be empty).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The configuration.
    pub fn config(mut self, config: TimeoutConfig) -> Self {
        self.config = config;
        self
    }

    /// The telemetry bus (default [`TelemetryBus::global`]).
    pub fn bus(mut self, bus: TelemetryBus) -> Self {
        self.bus = Some(bus);
        self
    }

    /// Validates and builds.
    pub fn build(self) -> Result<Timeout, Error> {
        let mut v = Validator::new("timeout");
        v.non_empty("name", &self.name);
        self.config.validate_into(&mut v);
        v.finish()?;
        Ok(Timeout {
            inner: Arc::new(Inner {
                name: Arc::from(self.name),
                nanos: AtomicU64::new(nanos(self.config.duration)),
                bus: self.bus.unwrap_or_else(|| TelemetryBus::global().clone()),
            }),
        })
    }
}
