//! [`CircuitBreaker`] and its [`BreakerBuilder`].

use std::future::Future;
use std::sync::Arc;

use foundation_core::{Clock, Error, TelemetryBus, Validate, Validator};

use super::config::BreakerConfig;
use super::engine::Inner;
use super::permit::{Permit, PermitRef};
use super::state::{BreakerState, TransitionReason};
use super::status::BreakerStatus;
use crate::outcome::{DefaultClassifier, SharedClassifier};

/// A circuit breaker. Cheap to clone; clones share state.
///
/// The breaker only decides and records: the caller runs the call, either around a
/// [`Permit`] from [`try_acquire`](CircuitBreaker::try_acquire) or through
/// [`call`](CircuitBreaker::call). Nothing blocks and no user code runs under a lock.
#[derive(Clone)]
pub struct CircuitBreaker {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.inner.name)
            .field("state", &self.state())
            .finish()
    }
}

impl CircuitBreaker {
    /// A breaker with `config`, the tokio clock, the global bus and the default classifier.
    /// Fails if the name is empty or the config is invalid.
    pub fn new(name: impl Into<Arc<str>>, config: BreakerConfig) -> Result<Self, Error> {
        CircuitBreaker::builder(name).config(config).build()
    }

    /// A builder for a breaker named `name`.
    pub fn builder(name: impl Into<Arc<str>>) -> BreakerBuilder {
        BreakerBuilder {
            name: name.into(),
            config: BreakerConfig::default(),
            clock: Clock::tokio(),
            bus: TelemetryBus::global().clone(),
            classifier: Arc::new(DefaultClassifier),
        }
    }

    /// Asks to make one call. Closed: no allocation, no lock. Refusals are `CIRCUIT_OPEN`
    /// (with `retry_after`), `CIRCUIT_HALF_OPEN_FULL`, `CIRCUIT_FORCED_OPEN` or
    /// `CIRCUIT_RAMPING`, each with context `breaker=<name>`.
    #[inline]
    pub fn try_acquire(&self) -> Result<Permit, Error> {
        let admission = self.inner.acquire()?;
        Ok(Permit::new(self.inner.clone(), admission, None))
    }

    /// Like [`try_acquire`](CircuitBreaker::try_acquire), but the permit borrows the
    /// breaker (no reference count touched): the cheapest way to guard a call while
    /// holding the breaker.
    #[inline]
    pub fn try_acquire_ref(&self) -> Result<PermitRef<'_>, Error> {
        Ok(PermitRef::new(&self.inner, self.inner.acquire()?))
    }

    /// Like [`try_acquire`](CircuitBreaker::try_acquire), also counting the call (and any
    /// refusal) for `caller` in [`status`](CircuitBreaker::status). Callers beyond
    /// `max_tracked_callers` are counted as `"other"`.
    pub fn try_acquire_for(&self, caller: &str) -> Result<Permit, Error> {
        let counters = self
            .inner
            .callers
            .get(caller, self.inner.max_tracked_callers());
        match self.inner.acquire() {
            Ok(admission) => Ok(Permit::new(self.inner.clone(), admission, Some(counters))),
            Err(e) => {
                counters.reject();
                Err(e.with_context("caller", caller))
            }
        }
    }

    /// Runs `f` if admitted and records its result (`Ok` is a success, `Err` is classified).
    /// If the future is dropped before finishing, nothing is counted.
    pub async fn call<T, F, Fut>(&self, f: F) -> Result<T, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let permit = self.try_acquire_ref()?;
        let result = f().await;
        permit.record_result(&result);
        result
    }

    /// Runs the synchronous `f` if admitted and records its result, like
    /// [`call`](CircuitBreaker::call) for blocking or CPU-bound code.
    #[inline]
    pub fn call_sync<T, F>(&self, f: F) -> Result<T, Error>
    where
        F: FnOnce() -> Result<T, Error>,
    {
        let permit = self.try_acquire_ref()?;
        let result = f();
        permit.record_result(&result);
        result
    }

    /// Like [`call`](CircuitBreaker::call), but when the breaker refuses, returns what
    /// `fallback` makes of the refusal instead. Errors of the call itself are returned as is.
    pub async fn call_with_fallback<T, F, Fut, FB>(&self, f: F, fallback: FB) -> Result<T, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
        FB: FnOnce(&Error) -> Result<T, Error>,
    {
        let permit = match self.try_acquire_ref() {
            Ok(p) => p,
            Err(refusal) => return fallback(&refusal),
        };
        let result = f().await;
        permit.record_result(&result);
        result
    }

    /// Whether `self` and `other` are handles to the same breaker.
    pub fn same_as(&self, other: &CircuitBreaker) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The breaker's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        self.inner.state()
    }

    /// A snapshot: state, window counts and rates, last transition, per-caller counts.
    pub fn status(&self) -> BreakerStatus {
        self.inner.status()
    }

    /// The classifier that turns errors into outcomes.
    pub fn classifier(&self) -> &SharedClassifier {
        &self.inner.classifier
    }

    /// The live configuration.
    pub fn config(&self) -> BreakerConfig {
        self.inner.config()
    }

    /// Replaces the configuration, keeping the state and the window's counts (carried over
    /// into the new window when its shape changes). New thresholds apply at once: a closed
    /// breaker whose window already breaches them trips. The open period in progress keeps
    /// its end; a new open duration applies from the next trip.
    pub fn reconfigure(&self, config: BreakerConfig) -> Result<(), Error> {
        config.validate_at("breaker")?;
        self.inner.reconfigure(config);
        Ok(())
    }

    /// Refuses every call with `CIRCUIT_FORCED_OPEN` until another manual transition.
    pub fn force_open(&self) {
        self.inner
            .transition(None, BreakerState::ForcedOpen, TransitionReason::ForcedOpen);
    }

    /// Closes the breaker now, with an empty window and no ramp; it may trip again.
    pub fn force_close(&self) {
        self.inner
            .transition(None, BreakerState::Closed, TransitionReason::ForcedClose);
    }

    /// Admits every call and counts nothing until another manual transition.
    pub fn disable(&self) {
        self.inner
            .transition(None, BreakerState::Disabled, TransitionReason::Disabled);
    }

    /// Admits every call and counts it, but never trips, until another manual transition.
    pub fn metrics_only(&self) {
        self.inner.transition(
            None,
            BreakerState::MetricsOnly,
            TransitionReason::MetricsOnly,
        );
    }

    /// Back to a fresh closed breaker: empty window, no trips, no per-caller counts.
    pub fn reset(&self) {
        self.inner
            .transition(None, BreakerState::Closed, TransitionReason::Reset);
    }
}

/// Builds a [`CircuitBreaker`]; see [`CircuitBreaker::builder`].
#[must_use]
pub struct BreakerBuilder {
    name: Arc<str>,
    config: BreakerConfig,
    clock: Clock,
    bus: TelemetryBus,
    classifier: SharedClassifier,
}

impl BreakerBuilder {
    /// The configuration (default: [`BreakerConfig::default`]).
    pub fn config(mut self, config: BreakerConfig) -> Self {
        self.config = config;
        self
    }

    /// The clock (default: [`Clock::tokio`]).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The telemetry bus (default: [`TelemetryBus::global`]).
    pub fn bus(mut self, bus: TelemetryBus) -> Self {
        self.bus = bus;
        self
    }

    /// The classifier (default: [`DefaultClassifier`]).
    pub fn classifier(mut self, classifier: SharedClassifier) -> Self {
        self.classifier = classifier;
        self
    }

    /// Validates the name and the configuration and builds the breaker.
    pub fn build(self) -> Result<CircuitBreaker, Error> {
        let mut v = Validator::new("breaker");
        v.non_empty("name", &self.name);
        self.config.validate_into(&mut v);
        v.finish()?;
        Ok(CircuitBreaker {
            inner: Arc::new(Inner::new(
                self.name,
                self.config,
                self.clock,
                self.bus,
                self.classifier,
            )),
        })
    }
}
