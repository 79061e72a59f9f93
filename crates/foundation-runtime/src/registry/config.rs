//! [`RegistryConfig`] and [`RegistryBuilder`].

use std::sync::Arc;
use std::time::Duration;

use foundation_core::clock::Clock;
use foundation_core::error::{Error, ErrorCode};
use foundation_core::telemetry::TelemetryBus;
use foundation_core::validate::{Validate, Validator};
use serde::{Deserialize, Serialize};

use super::{Inner, Registry};

/// The most shards a registry may have.
pub const MAX_SHARDS: usize = 1 << 12;

/// The largest watcher feed a registry may have (its slots are allocated up front).
pub const MAX_WATCH_CAPACITY: usize = 1 << 16;

/// How a [`Registry`] is built. In serde form durations are integer milliseconds
/// (`expiry_grace_ms`, `sweep_interval_ms`).
///
/// ```
/// use foundation_runtime::registry::RegistryConfig;
/// let cfg: RegistryConfig =
///     serde_json::from_str(r#"{"shards":16,"expiry_grace_ms":5000,"sweep_interval_ms":null}"#)
///         .unwrap();
/// assert_eq!(cfg.shards, 16);
/// assert_eq!(cfg.sweep_interval, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistryConfig {
    /// How many partitions names (and capabilities) are spread over: a power of two,
    /// `1..=MAX_SHARDS`. The default is four per CPU, rounded up to a power of two.
    pub shards: usize,
    /// How many events the watchers' feed holds before a lagging watcher misses some,
    /// `1..=MAX_WATCH_CAPACITY`, rounded up to a power of two.
    pub watch_capacity: usize,
    /// How long an entry whose heartbeat expired stays (unhealthy) before it is removed.
    #[serde(rename = "expiry_grace_ms", with = "foundation_core::millis")]
    pub expiry_grace: Duration,
    /// How often the background sweeper runs [`Registry::sweep`]; `None` runs no sweeper
    /// (call `sweep` yourself). Must be positive when set. The sweeper ticks on tokio's
    /// clock; whether a heartbeat is overdue is judged on the registry's own clock.
    #[serde(rename = "sweep_interval_ms", with = "foundation_core::millis::option")]
    pub sweep_interval: Option<Duration>,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        RegistryConfig {
            shards: (cpus * 4).next_power_of_two().min(MAX_SHARDS),
            watch_capacity: 1024,
            expiry_grace: Duration::from_secs(30),
            sweep_interval: Some(Duration::from_secs(1)),
        }
    }
}

impl Validate for RegistryConfig {
    fn validate_into(&self, v: &mut Validator) {
        v.check(
            self.shards.is_power_of_two() && self.shards <= MAX_SHARDS,
            "shards",
            format_args!(
                "must be a power of two between 1 and {MAX_SHARDS}, got {}",
                self.shards
            ),
        );
        v.check(
            (1..=MAX_WATCH_CAPACITY).contains(&self.watch_capacity),
            "watch_capacity",
            format_args!(
                "must be between 1 and {MAX_WATCH_CAPACITY}, got {}",
                self.watch_capacity
            ),
        );
        if let Some(every) = self.sweep_interval {
            v.positive_duration("sweep_interval_ms", every);
        }
    }
}

/// Builds a [`Registry`]: [`Registry::builder`], then `config`, `clock`, `bus`, `build`.
#[derive(Debug, Default)]
pub struct RegistryBuilder {
    config: RegistryConfig,
    clock: Clock,
    bus: Option<TelemetryBus>,
}

impl RegistryBuilder {
    /// Uses this config (default: [`RegistryConfig::default`]).
    pub fn config(mut self, config: RegistryConfig) -> RegistryBuilder {
        self.config = config;
        self
    }

    /// Takes heartbeat time from `clock` (default: [`Clock::tokio`]).
    pub fn clock(mut self, clock: Clock) -> RegistryBuilder {
        self.clock = clock;
        self
    }

    /// Publishes events on `bus` (default: the global bus).
    pub fn bus(mut self, bus: TelemetryBus) -> RegistryBuilder {
        self.bus = Some(bus);
        self
    }

    /// Builds the registry and, if `sweep_interval` is set, starts its sweeper task, which
    /// the registry owns: it stops when the last clone of the registry is dropped.
    ///
    /// Errors: `INVALID_CONFIG` naming the bad field; `SHUTDOWN` when a sweeper is asked
    /// for outside a tokio runtime.
    pub fn build(self) -> Result<Registry, Error> {
        self.config.validate()?;
        let runtime = match self.config.sweep_interval {
            Some(_) => Some(tokio::runtime::Handle::try_current().map_err(|_| {
                Error::new(
                    ErrorCode::SHUTDOWN,
                    "a registry with a sweeper must be built on a tokio runtime",
                )
                .with_context("field", "sweep_interval_ms")
            })?),
            None => None,
        };
        let bus = self.bus.unwrap_or_else(|| TelemetryBus::global().clone());
        let inner = Arc::new(Inner::new(&self.config, self.clock, bus));
        if let (Some(runtime), Some(every)) = (runtime, self.config.sweep_interval) {
            let task = runtime.spawn(super::heartbeat::sweeper(Arc::downgrade(&inner), every));
            *inner.sweeper.lock() = Some(task.abort_handle());
        }
        Ok(Registry { inner })
    }
}
