//! [`BreakerRegistry`]: named breakers, each with its own configuration.
//!
//! A breaker is created on first use from its named config, or from the default one. The
//! registry's [`RegistryConfig`] is the TOML section:
//!
//! ```
//! use foundation_protect::breaker::{BreakerRegistry, RegistryConfig};
//!
//! let config: RegistryConfig = toml::from_str(r#"
//!     [default]
//!     failure_rate_threshold = 50.0
//!
//!     [breakers.payments]
//!     failure_rate_threshold = 20.0
//!     minimum_calls = 5
//! "#).unwrap();
//! let registry = BreakerRegistry::builder().config(config).build().unwrap();
//! let payments = registry.get_or_create("payments").unwrap();
//! assert_eq!(payments.config().failure_rate_threshold, 20.0);
//! assert_eq!(registry.get_or_create("search").unwrap().config().failure_rate_threshold, 50.0);
//! assert_eq!(registry.names(), ["payments", "search"]);
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use foundation_core::{Clock, Error, ErrorCode, TelemetryBus, Validate, Validator};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use super::circuit::CircuitBreaker;
use super::config::BreakerConfig;
use super::status::BreakerStatus;
use crate::outcome::{DefaultClassifier, SharedClassifier};

/// The configuration of a registry: a default and per-name overrides.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistryConfig {
    /// The config of breakers without their own entry.
    pub default: BreakerConfig,
    /// Per-name configs.
    pub breakers: BTreeMap<String, BreakerConfig>,
}

impl RegistryConfig {
    /// The config for `name`: its own, else the default.
    pub fn for_name(&self, name: &str) -> &BreakerConfig {
        self.breakers.get(name).unwrap_or(&self.default)
    }
}

impl Validate for RegistryConfig {
    fn validate_into(&self, v: &mut Validator) {
        v.nested("default", &self.default);
        for (name, config) in &self.breakers {
            v.non_empty("breakers.<name>", name);
            v.nested(&format!("breakers.{name}"), config);
        }
    }
}

struct RegistryInner {
    breakers: RwLock<HashMap<Arc<str>, CircuitBreaker>>,
    config: RwLock<RegistryConfig>,
    clock: Clock,
    bus: TelemetryBus,
    classifier: SharedClassifier,
}

/// Named circuit breakers. Cheap to clone; clones share the breakers.
#[derive(Clone)]
pub struct BreakerRegistry {
    inner: Arc<RegistryInner>,
}

impl std::fmt::Debug for BreakerRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BreakerRegistry")
            .field("breakers", &self.names())
            .finish()
    }
}

impl BreakerRegistry {
    /// A builder; every breaker of the registry shares its clock, bus and classifier.
    pub fn builder() -> RegistryBuilder {
        RegistryBuilder {
            config: RegistryConfig::default(),
            clock: Clock::tokio(),
            bus: TelemetryBus::global().clone(),
            classifier: Arc::new(DefaultClassifier),
        }
    }

    /// A registry with `config` and the default clock, bus and classifier.
    pub fn new(config: RegistryConfig) -> Result<Self, Error> {
        BreakerRegistry::builder().config(config).build()
    }

    /// The breaker named `name`, created from its config on first use.
    pub fn get_or_create(&self, name: &str) -> Result<CircuitBreaker, Error> {
        if let Some(b) = self.get(name) {
            return Ok(b);
        }
        check_name(name)?;
        // Lock order everywhere: `breakers`, then `config`; reading the config under the
        // breakers lock means a concurrent `configure` is never lost.
        let mut breakers = self.inner.breakers.write();
        if let Some(b) = breakers.get(name) {
            return Ok(b.clone());
        }
        let config = self.inner.config.read().for_name(name).clone();
        let breaker = self.build(name, config)?;
        breakers.insert(Arc::from(name), breaker.clone());
        Ok(breaker)
    }

    /// The breaker named `name`, if it exists.
    pub fn get(&self, name: &str) -> Option<CircuitBreaker> {
        self.inner.breakers.read().get(name).cloned()
    }

    /// Creates a breaker named `name` with its own `config` (remembered for the name).
    /// Fails with `ALREADY_EXISTS` if the name is taken.
    pub fn register(&self, name: &str, config: BreakerConfig) -> Result<CircuitBreaker, Error> {
        check_name(name)?;
        config.validate_at(&format!("breakers.{name}"))?;
        let mut breakers = self.inner.breakers.write();
        if breakers.contains_key(name) {
            return Err(Error::new(
                ErrorCode::ALREADY_EXISTS,
                format!("a breaker named \"{name}\" already exists"),
            )
            .with_context("breaker", name));
        }
        let breaker = self.build(name, config.clone())?;
        self.inner
            .config
            .write()
            .breakers
            .insert(name.to_string(), config);
        breakers.insert(Arc::from(name), breaker.clone());
        Ok(breaker)
    }

    /// Sets the config for `name`, reconfiguring the live breaker (keeping its state and
    /// window) if it exists.
    pub fn configure(&self, name: &str, config: BreakerConfig) -> Result<(), Error> {
        check_name(name)?;
        config.validate_at(&format!("breakers.{name}"))?;
        let breakers = self.inner.breakers.read();
        if let Some(b) = breakers.get(name) {
            b.reconfigure(config.clone())?;
        }
        self.inner
            .config
            .write()
            .breakers
            .insert(name.to_string(), config);
        Ok(())
    }

    /// Replaces the whole configuration and reconfigures every live breaker with its new
    /// config. Nothing changes if the config is invalid.
    pub fn reconfigure(&self, config: RegistryConfig) -> Result<(), Error> {
        config.validate()?;
        let breakers = self.inner.breakers.read();
        for b in breakers.values() {
            b.reconfigure(config.for_name(b.name()).clone())?;
        }
        *self.inner.config.write() = config;
        Ok(())
    }

    /// Removes the breaker named `name` (clones held elsewhere keep working).
    pub fn remove(&self, name: &str) -> Option<CircuitBreaker> {
        self.inner.breakers.write().remove(name)
    }

    /// The names of the live breakers, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .inner
            .breakers
            .read()
            .keys()
            .map(|k| k.to_string())
            .collect();
        names.sort();
        names
    }

    /// A status snapshot of every live breaker, sorted by name.
    pub fn statuses(&self) -> Vec<BreakerStatus> {
        let live: Vec<CircuitBreaker> = self.inner.breakers.read().values().cloned().collect();
        let mut out: Vec<BreakerStatus> = live.iter().map(CircuitBreaker::status).collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    fn build(&self, name: &str, config: BreakerConfig) -> Result<CircuitBreaker, Error> {
        CircuitBreaker::builder(name)
            .config(config)
            .clock(self.inner.clock.clone())
            .bus(self.inner.bus.clone())
            .classifier(self.inner.classifier.clone())
            .build()
    }
}

fn check_name(name: &str) -> Result<(), Error> {
    if name.trim().is_empty() {
        return Err(Error::invalid_input("name", "must not be empty"));
    }
    Ok(())
}

/// Builds a [`BreakerRegistry`]; see [`BreakerRegistry::builder`].
#[must_use]
pub struct RegistryBuilder {
    config: RegistryConfig,
    clock: Clock,
    bus: TelemetryBus,
    classifier: SharedClassifier,
}

impl RegistryBuilder {
    /// The configuration (default: [`RegistryConfig::default`]).
    pub fn config(mut self, config: RegistryConfig) -> Self {
        self.config = config;
        self
    }

    /// The clock of every breaker (default: [`Clock::tokio`]).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The telemetry bus of every breaker (default: [`TelemetryBus::global`]).
    pub fn bus(mut self, bus: TelemetryBus) -> Self {
        self.bus = bus;
        self
    }

    /// The classifier of every breaker (default: [`DefaultClassifier`]).
    pub fn classifier(mut self, classifier: SharedClassifier) -> Self {
        self.classifier = classifier;
        self
    }

    /// Validates the configuration and builds the registry.
    pub fn build(self) -> Result<BreakerRegistry, Error> {
        self.config.validate()?;
        Ok(BreakerRegistry {
            inner: Arc::new(RegistryInner {
                breakers: RwLock::new(HashMap::new()),
                config: RwLock::new(self.config),
                clock: self.clock,
                bus: self.bus,
                classifier: self.classifier,
            }),
        })
    }
}
