//! Building a [`Protection`] from configs or from existing stage instances.

use std::sync::Arc;

use foundation_core::{Clock, Result, TelemetryBus, Validator};

use super::{CallObserver, MemoryGate, PressureLevel, Protection, ProtectionConfig, Stages};
use crate::breaker::{BreakerConfig, CircuitBreaker};
use crate::bulkhead::{Bulkhead, BulkheadConfig};
use crate::limiter::{Limiter, LimiterConfig};
use crate::outcome::{DefaultClassifier, SharedClassifier};
use crate::retry::{Retry, RetryConfig};
use crate::timeout::{Timeout, TimeoutConfig};

/// Builds a [`Protection`]. Every stage is optional; [`build`](Self::build) validates every
/// config at once and reports each bad field under `protection.<name>.<stage>`.
///
/// A stage is given either as a config (built with the protection's name, clock, bus and
/// classifier) or as an existing instance (shared with its other users); the later call wins.
#[must_use]
pub struct ProtectionBuilder {
    name: Arc<str>,
    clock: Clock,
    bus: TelemetryBus,
    classifier: Option<SharedClassifier>,
    gate: Option<(Arc<dyn MemoryGate>, PressureLevel)>,
    config: ProtectionConfig,
    limiter: Option<Limiter>,
    bulkhead: Option<Bulkhead>,
    breaker: Option<CircuitBreaker>,
    retry: Option<Retry>,
    observer: Option<Arc<dyn CallObserver>>,
}

impl ProtectionBuilder {
    pub(super) fn new(name: Arc<str>) -> ProtectionBuilder {
        ProtectionBuilder {
            name,
            clock: Clock::default(),
            bus: TelemetryBus::global().clone(),
            classifier: None,
            gate: None,
            config: ProtectionConfig::default(),
            limiter: None,
            bulkhead: None,
            breaker: None,
            retry: None,
            observer: None,
        }
    }

    /// A builder with every stage the config names.
    pub fn from_config(name: impl Into<Arc<str>>, config: &ProtectionConfig) -> ProtectionBuilder {
        let mut b = ProtectionBuilder::new(name.into());
        b.config = config.clone();
        b
    }

    /// The clock the stages built from configs use (default: tokio's).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The telemetry bus the stages built from configs emit on (default: the global bus).
    pub fn bus(mut self, bus: TelemetryBus) -> Self {
        self.bus = bus;
        self
    }

    /// The classifier the breaker and retry built from configs use.
    pub fn classifier(mut self, classifier: SharedClassifier) -> Self {
        self.classifier = Some(classifier);
        self
    }

    /// Refuses new work while `gate` reports [`PressureLevel::Critical`].
    pub fn memory_gate(self, gate: Arc<dyn MemoryGate>) -> Self {
        self.memory_gate_at(gate, PressureLevel::Critical)
    }

    /// Refuses new work while `gate` reports `refuse_at` or worse.
    pub fn memory_gate_at(mut self, gate: Arc<dyn MemoryGate>, refuse_at: PressureLevel) -> Self {
        self.gate = Some((gate, refuse_at));
        self
    }

    /// Adds a rate limiter built from `config`: in memory, keyed by caller if `keyed`, or in
    /// Redis if it has a `redis` section.
    pub fn rate_limit(mut self, config: LimiterConfig) -> Self {
        self.config.rate_limit = Some(config);
        self.limiter = None;
        self
    }

    /// Uses an existing limiter (local or distributed), shared with its other users.
    pub fn with_limiter(mut self, limiter: impl Into<Limiter>) -> Self {
        self.config.rate_limit = None;
        self.limiter = Some(limiter.into());
        self
    }

    /// Adds a bulkhead built from `config`.
    pub fn bulkhead(mut self, config: BulkheadConfig) -> Self {
        self.config.bulkhead = Some(config);
        self.bulkhead = None;
        self
    }

    /// Uses an existing bulkhead.
    pub fn with_bulkhead(mut self, bulkhead: Bulkhead) -> Self {
        self.config.bulkhead = None;
        self.bulkhead = Some(bulkhead);
        self
    }

    /// Adds a circuit breaker built from `config`, named after the protection.
    pub fn circuit_breaker(mut self, config: BreakerConfig) -> Self {
        self.config.circuit_breaker = Some(config);
        self.breaker = None;
        self
    }

    /// Uses an existing breaker (e.g. one from a `BreakerRegistry`).
    pub fn with_circuit_breaker(mut self, breaker: CircuitBreaker) -> Self {
        self.config.circuit_breaker = None;
        self.breaker = Some(breaker);
        self
    }

    /// Adds a retry loop built from `config`.
    pub fn retry(mut self, config: RetryConfig) -> Self {
        self.config.retry = Some(config);
        self.retry = None;
        self
    }

    /// Uses an existing retry (e.g. one sharing a retry budget or a dead-letter sink).
    pub fn with_retry(mut self, retry: Retry) -> Self {
        self.config.retry = None;
        self.retry = Some(retry);
        self
    }

    /// Adds a per-attempt timeout.
    pub fn timeout(mut self, config: TimeoutConfig) -> Self {
        self.config.timeout = Some(config);
        self
    }

    /// Tells `observer` the outcome of every call (see [`CallObserver`]); elapsed times are
    /// measured on the builder's [`clock`](Self::clock).
    pub fn observer(mut self, observer: Arc<dyn CallObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Validates every config and builds the protection.
    pub fn build(self) -> Result<Protection> {
        let mut v = Validator::new("protection");
        v.non_empty("name", &self.name);
        v.nested(&self.name, &self.config);
        v.finish()?;

        let name = self.name;
        let c = self.config;
        let limiter = match c.rate_limit {
            None => self.limiter,
            Some(c) => Some(Limiter::from_config(
                &name,
                &c,
                self.clock.clone(),
                self.bus.clone(),
            )?),
        };
        let bulkhead = match c.bulkhead {
            None => self.bulkhead,
            Some(c) => Some(
                Bulkhead::builder()
                    .name(&*name)
                    .config(c)
                    .bus(self.bus.clone())
                    .build()?,
            ),
        };
        let classifier = self
            .classifier
            .unwrap_or_else(|| Arc::new(DefaultClassifier));
        let breaker = match c.circuit_breaker {
            None => self.breaker,
            Some(c) => Some(
                CircuitBreaker::builder(name.clone())
                    .config(c)
                    .clock(self.clock.clone())
                    .bus(self.bus.clone())
                    .classifier(classifier.clone())
                    .build()?,
            ),
        };
        let retry = match c.retry {
            None => self.retry,
            Some(c) => Some(
                Retry::builder()
                    .name(&*name)
                    .config(c)
                    .clock(self.clock.clone())
                    .bus(self.bus.clone())
                    .classifier(classifier)
                    .build()?,
            ),
        };
        let timeout = match c.timeout {
            None => None,
            Some(c) => Some(
                Timeout::builder()
                    .name(&*name)
                    .config(c)
                    .bus(self.bus.clone())
                    .build()?,
            ),
        };
        Ok(Protection {
            stages: Arc::new(Stages {
                name,
                gate: self.gate,
                limiter,
                bulkhead,
                breaker,
                retry,
                timeout,
                clock: self.clock,
                observer: self.observer,
            }),
        })
    }
}
