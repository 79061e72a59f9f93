//! [`LimiterRegistry`]: named limiters ("rules") built from config.

use std::collections::BTreeMap;

use foundation_core::{Clock, Error, TelemetryBus, Validator};

use super::backend::Limiter;
use super::config::LimiterConfig;

/// Limiters by name, e.g. from a `[limiters.<name>]` TOML table.
///
/// ```
/// use foundation_protect::limiter::{LimiterConfig, LimiterRegistry};
/// use std::collections::BTreeMap;
///
/// let rules: BTreeMap<String, LimiterConfig> = toml::from_str(r#"
///     [login]
///     algorithm = "sliding_window"
///     rate = 5
///     period_ms = 60000
///     keyed = true
///
///     [api]
///     rate = 100
///     burst = 20
/// "#).unwrap();
/// let registry = LimiterRegistry::from_config(&rules).unwrap();
/// assert_eq!(registry.names().collect::<Vec<_>>(), ["api", "login"]);
/// assert!(registry.get("login").is_some());
/// ```
#[derive(Debug, Clone, Default)]
pub struct LimiterRegistry {
    limiters: BTreeMap<String, Limiter>,
    /// The config each limiter was built from (absent for limiters added with `insert`).
    configs: BTreeMap<String, LimiterConfig>,
}

impl LimiterRegistry {
    /// Builds every limiter with tokio's clock and the global bus. Every problem of every
    /// config is reported in one error, fields prefixed by the limiter's name.
    pub fn from_config(
        configs: &BTreeMap<String, LimiterConfig>,
    ) -> Result<LimiterRegistry, Error> {
        LimiterRegistry::from_config_with(configs, Clock::tokio(), TelemetryBus::global().clone())
    }

    /// Builds every limiter with the given clock and bus.
    pub fn from_config_with(
        configs: &BTreeMap<String, LimiterConfig>,
        clock: Clock,
        bus: TelemetryBus,
    ) -> Result<LimiterRegistry, Error> {
        let mut registry = LimiterRegistry::default();
        registry.apply_with(configs, clock, bus)?;
        Ok(registry)
    }

    /// Applies a changed rule set (hot reload), all or nothing: a rule whose only change is
    /// its quota keeps its state (`set_quota`); a rule with a new algorithm, kind or backend
    /// is built afresh; new rules are added and missing ones removed. An invalid set changes
    /// nothing. Uses tokio's clock and the global bus for the limiters it builds.
    pub fn apply(&mut self, configs: &BTreeMap<String, LimiterConfig>) -> Result<(), Error> {
        self.apply_with(configs, Clock::tokio(), TelemetryBus::global().clone())
    }

    /// [`apply`](Self::apply) with the given clock and bus for the limiters it builds.
    pub fn apply_with(
        &mut self,
        configs: &BTreeMap<String, LimiterConfig>,
        clock: Clock,
        bus: TelemetryBus,
    ) -> Result<(), Error> {
        let mut v = Validator::new("");
        for (name, config) in configs {
            v.non_empty("name", name);
            v.nested(name, config);
        }
        v.finish()?;
        let mut limiters = BTreeMap::new();
        let mut requotas = Vec::new();
        for (name, config) in configs {
            let kept = match (self.limiters.get(name), self.configs.get(name)) {
                (Some(limiter), Some(old)) if only_quota_differs(old, config) => {
                    requotas.push((limiter.clone(), config.quota()));
                    limiter.clone()
                }
                _ => Limiter::from_config(name, config, clock.clone(), bus.clone())?,
            };
            limiters.insert(name.clone(), kept);
        }
        for (limiter, quota) in requotas {
            limiter.set_quota(quota)?;
        }
        self.limiters = limiters;
        self.configs = configs.clone();
        Ok(())
    }

    /// Adds or replaces a limiter under its own name; returns the one it replaced.
    pub fn insert(&mut self, limiter: impl Into<Limiter>) -> Option<Limiter> {
        let limiter = limiter.into();
        self.configs.remove(limiter.name());
        self.limiters.insert(limiter.name().to_string(), limiter)
    }

    /// The limiter named `name`.
    pub fn get(&self, name: &str) -> Option<&Limiter> {
        self.limiters.get(name)
    }

    /// The limiter named `name`, or `NOT_FOUND`.
    pub fn require(&self, name: &str) -> Result<&Limiter, Error> {
        self.get(name)
            .ok_or_else(|| Error::not_found("limiter", name))
    }

    /// The names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.limiters.keys().map(String::as_str)
    }

    /// How many limiters there are.
    pub fn len(&self) -> usize {
        self.limiters.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.limiters.is_empty()
    }
}

/// Whether `new` can be applied to a limiter built from `old` by changing its quota alone.
fn only_quota_differs(old: &LimiterConfig, new: &LimiterConfig) -> bool {
    let requota = LimiterConfig {
        rate: new.rate,
        period_ms: new.period_ms,
        burst: new.burst,
        ..old.clone()
    };
    requota == *new
}
