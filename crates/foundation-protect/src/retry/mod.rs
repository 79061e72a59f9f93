//! Retry: backoff, retry budget, breaker awareness and a dead-letter sink.
//!
//! A [`Retry`] runs an operation until it succeeds or retrying stops making sense:
//!
//! - **Backoff** ([`Backoff`]): constant, linear, exponential or AWS-style decorrelated
//!   jitter, capped by `max_delay`, optionally jittered ([`Jitter`]); at most `max_attempts`
//!   attempts and, optionally, no wait ending past `max_total_time`. An error's
//!   `retry_after` is honoured: the wait is at least that long.
//! - **Only what is worth it**: the [`Classifier`](crate::outcome::Classifier) decides which
//!   errors are retryable; a circuit breaker's refusal stops the loop at once, unchanged.
//! - **Retry budget** ([`RetryBudget`]): retries limited to a ratio of calls over a sliding
//!   window, shareable between retries, so a failing dependency cannot cause a retry storm.
//! - **Dead letters** ([`DeadLetterSink`]): what retrying gave up on, with every attempt's
//!   error, can be handed to a sink.
//! - **Events**: [`RetryAttempt`] per retried attempt, [`RetryExhausted`] when giving up.
//! - [`RetryLayer`] is the tower layer; [`Retry::start`] gives the loop to callers that
//!   drive it themselves.
//!
//! Errors returned: the operation's own error when it is not retryable or is a breaker
//! refusal; otherwise `RETRY_EXHAUSTED` or `RETRY_BUDGET_EXHAUSTED` wrapping the last error
//! (see [`RetryState::on_failure`]).
//!
//! Waits use tokio's timer, so tests run on paused time. The first attempt's success path
//! does not allocate.
//!
//! ```
//! use foundation_core::{Error, ErrorCode};
//! use foundation_protect::retry::{Backoff, Retry, RetryConfig};
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Error> {
//! let retry = Retry::builder()
//!     .name("inventory")
//!     .config(RetryConfig {
//!         max_attempts: 4,
//!         backoff: Backoff::Exponential { initial: Duration::from_millis(50), multiplier: 2.0 },
//!         ..RetryConfig::default()
//!     })
//!     .build()?;
//!
//! let stock = retry
//!     .run(|attempt| async move {
//!         if attempt < 3 {
//!             Err(Error::new(ErrorCode::NETWORK, "connection reset"))
//!         } else {
//!             Ok(42)
//!         }
//!     })
//!     .await?;
//! assert_eq!(stock, 42);
//! # Ok(()) }
//! ```

mod backoff;
mod budget;
mod config;
mod dead_letter;
mod events;
mod layer;
mod state;

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use foundation_core::{Clock, Error, TelemetryBus, Validate};

use crate::outcome::{DefaultClassifier, SharedClassifier};

pub use budget::{RetryBudget, RetryBudgetConfig};
pub use config::{Backoff, Jitter, RetryConfig};
pub use dead_letter::{AttemptRecord, DeadLetter, DeadLetterSink, InMemoryDeadLetterSink};
pub use events::{DeadLetterFailed, GiveUpReason, RetryAttempt, RetryExhausted};
pub use layer::{ResponseFuture, RetryLayer, RetryService};
pub use state::{RetryDecision, RetryState, is_breaker_refusal};

pub(crate) struct Inner {
    name: Arc<str>,
    config: RetryConfig,
    classifier: SharedClassifier,
    budget: Option<Arc<RetryBudget>>,
    sink: Option<Arc<dyn DeadLetterSink>>,
    clock: Clock,
    bus: TelemetryBus,
    jitter_seed: Option<u64>,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("name", &self.name)
            .field("config", &self.config)
            .field("budget", &self.budget)
            .field("dead_letter", &self.sink.is_some())
            .finish()
    }
}

/// A retry policy. Cheap to clone; clones share the budget and sink.
#[derive(Clone)]
pub struct Retry {
    inner: Arc<Inner>,
}

impl fmt::Debug for Retry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl Retry {
    /// A retry named `"retry"` with the given config, the default classifier and the global
    /// telemetry bus. Fails if the config is invalid.
    pub fn new(config: RetryConfig) -> Result<Retry, Error> {
        Retry::builder().config(config).build()
    }

    /// A builder, starting from [`RetryConfig::default`].
    pub fn builder() -> RetryBuilder {
        RetryBuilder::default()
    }

    /// The retry's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The configuration.
    pub fn config(&self) -> &RetryConfig {
        &self.inner.config
    }

    /// The budget this retry draws on, if any.
    pub fn budget(&self) -> Option<&Arc<RetryBudget>> {
        self.inner.budget.as_ref()
    }

    /// Starts one call's retry loop (and deposits the call in the budget).
    #[inline]
    pub fn start(&self) -> RetryState<'_> {
        RetryState::new(&self.inner)
    }

    /// Runs `f(attempt)` (attempt 1-based) until it succeeds or retrying gives up; see
    /// [`RetryState::on_failure`] for the rules and the error returned.
    pub async fn run<T, F, Fut>(&self, f: F) -> Result<T, Error>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        self.drive(None, f).await
    }

    /// Like [`run`](Retry::run), attaching `payload` to the dead letter if retrying gives up.
    pub async fn run_with_payload<T, F, Fut>(
        &self,
        payload: serde_json::Value,
        f: F,
    ) -> Result<T, Error>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        self.drive(Some(Box::new(payload)), f).await
    }

    async fn drive<T, F, Fut>(
        &self,
        payload: Option<Box<serde_json::Value>>,
        mut f: F,
    ) -> Result<T, Error>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let mut state = self.start();
        state.payload = payload;
        loop {
            match f(state.attempt()).await {
                Ok(value) => {
                    state.on_success();
                    return Ok(value);
                }
                Err(err) => match state.on_failure(err) {
                    RetryDecision::RetryAfter(delay) => {
                        if !delay.is_zero() {
                            // Boxed: keeps the timer out of the future's size, so the
                            // first-attempt path stays small; retries pay one allocation.
                            Box::pin(tokio::time::sleep(delay)).await;
                        }
                    }
                    RetryDecision::GiveUp(err) => {
                        // Boxed: the cold path stays out of the future's size.
                        Box::pin(state.send_dead_letter()).await;
                        return Err(err);
                    }
                },
            }
        }
    }
}

/// Builds a [`Retry`].
#[must_use]
pub struct RetryBuilder {
    name: String,
    config: RetryConfig,
    classifier: Option<SharedClassifier>,
    budget: Option<Arc<RetryBudget>>,
    sink: Option<Arc<dyn DeadLetterSink>>,
    clock: Clock,
    bus: Option<TelemetryBus>,
    jitter_seed: Option<u64>,
}

impl Default for RetryBuilder {
    fn default() -> Self {
        RetryBuilder {
            name: "retry".into(),
            config: RetryConfig::default(),
            classifier: None,
            budget: None,
            sink: None,
            clock: Clock::tokio(),
            bus: None,
            jitter_seed: None,
        }
    }
}

impl fmt::Debug for RetryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBuilder")
            .field("name", &self.name)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl RetryBuilder {
    /// The name used in errors, events and dead letters (must not be empty).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The configuration.
    pub fn config(mut self, config: RetryConfig) -> Self {
        self.config = config;
        self
    }

    /// Who decides what is retryable (default [`DefaultClassifier`]).
    pub fn classifier(mut self, classifier: SharedClassifier) -> Self {
        self.classifier = Some(classifier);
        self
    }

    /// A budget, possibly shared with other retries; overrides `config.budget`.
    pub fn budget(mut self, budget: Arc<RetryBudget>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Where operations go when retrying gives up.
    pub fn dead_letter(mut self, sink: Arc<dyn DeadLetterSink>) -> Self {
        self.sink = Some(sink);
        self
    }

    /// The clock for `max_total_time` and a budget built from `config.budget`
    /// (default [`Clock::tokio`]).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The telemetry bus (default [`TelemetryBus::global`]).
    pub fn bus(mut self, bus: TelemetryBus) -> Self {
        self.bus = Some(bus);
        self
    }

    /// Seeds the jitter's random source so delays are reproducible (every call then draws
    /// the same sequence: meant for tests).
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.jitter_seed = Some(seed);
        self
    }

    /// Validates and builds.
    pub fn build(self) -> Result<Retry, Error> {
        let mut v = foundation_core::Validator::new("retry");
        v.non_empty("name", &self.name);
        self.config.validate_into(&mut v);
        v.finish()?;
        let budget = match (self.budget, &self.config.budget) {
            (Some(shared), _) => Some(shared),
            (None, Some(config)) => {
                Some(RetryBudget::with_clock(config.clone(), self.clock.clone())?)
            }
            (None, None) => None,
        };
        Ok(Retry {
            inner: Arc::new(Inner {
                name: Arc::from(self.name),
                config: self.config,
                classifier: self
                    .classifier
                    .unwrap_or_else(|| Arc::new(DefaultClassifier)),
                budget,
                sink: self.sink,
                clock: self.clock,
                bus: self.bus.unwrap_or_else(|| TelemetryBus::global().clone()),
                jitter_seed: self.jitter_seed,
            }),
        })
    }
}
