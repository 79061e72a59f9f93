//! [`PoolBuilder`]: name, config, clock and telemetry bus for a new [`Pool`].

use std::sync::Arc;

use foundation_core::{Clock, Error, TelemetryBus, Validator};
use parking_lot::Mutex;

use super::Pool;
use super::config::PoolConfig;
use super::inner::Inner;
use super::maintenance;
use super::manager::Manager;
use crate::breaker::CircuitBreaker;

/// Builds a [`Pool`]; start with [`Pool::builder`].
pub struct PoolBuilder<M: Manager> {
    manager: M,
    config: PoolConfig,
    name: String,
    clock: Clock,
    bus: Option<TelemetryBus>,
    breaker: Option<CircuitBreaker>,
}

impl<M: Manager> PoolBuilder<M> {
    pub(crate) fn new(manager: M) -> Self {
        PoolBuilder {
            manager,
            config: PoolConfig::default(),
            name: "pool".to_string(),
            clock: Clock::tokio(),
            bus: None,
            breaker: None,
        }
    }

    /// The configuration (default: [`PoolConfig::default`]).
    pub fn config(mut self, config: PoolConfig) -> Self {
        self.config = config;
        self
    }

    /// The name used in errors, events and status (default `"pool"`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The clock for lifetimes and idle times (default [`Clock::tokio`]). Checkout timeouts
    /// and the maintenance interval always run on tokio's timer.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The telemetry bus for events (default [`TelemetryBus::global`]).
    pub fn bus(mut self, bus: TelemetryBus) -> Self {
        self.bus = Some(bus);
        self
    }

    /// A circuit breaker guarding the backend: the pool asks it before creating each
    /// connection and records each create's outcome (a create abandoned before it answered,
    /// e.g. at the checkout timeout, counts as a timeout). While it refuses, a checkout that needs
    /// a new connection fails at once with `POOL_BACKEND_DOWN` (the last real connection
    /// error in message and context, the breaker's `retry_after`) instead of waiting for the
    /// checkout timeout. Idle connections are still handed out. Give the pool its own
    /// breaker: `Protection::with_pool` refuses a pool guarded by the protection's own
    /// breaker (one attempt would take two of its permits).
    pub fn breaker(mut self, breaker: CircuitBreaker) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// Validates the configuration and builds the pool.
    ///
    /// Building does not connect. Inside a tokio runtime it spawns the pool's maintenance
    /// task, whose first round (at once) creates `min_idle` connections in the background;
    /// call [`Pool::fill`] to wait for them and see the first connection error. Outside a
    /// runtime there is no maintenance task: connections are created on demand only.
    pub fn build(self) -> Result<Pool<M>, Error> {
        let mut v = Validator::new("");
        v.non_empty("name", &self.name);
        v.finish()?;
        self.config.validate()?;
        let bus = self.bus.unwrap_or_else(|| TelemetryBus::global().clone());
        let inner = Arc::new(Inner::new(
            self.manager,
            self.name,
            self.config,
            self.clock,
            bus,
            self.breaker,
        ));
        let task = maintenance::spawn(&inner);
        Ok(Pool::from_parts(inner, Mutex::new(task)))
    }
}
