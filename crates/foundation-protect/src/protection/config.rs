//! Named protections from a TOML section.
//!
//! ```toml
//! [protection.payments]
//! timeout = { duration_ms = 2000 }
//!
//! [protection.payments.circuit_breaker]
//! failure_rate_threshold = 50.0
//!
//! [protection.payments.retry]
//! max_attempts = 3
//! ```
//!
//! Every stage is optional; each has the same `Config` struct the stage itself takes, and an
//! unknown key or stage is an error naming it.

use std::collections::BTreeMap;

use foundation_core::{Error, ErrorCode, Result, Validate, Validator};
use serde::{Deserialize, Serialize};

use super::{Protection, ProtectionBuilder};
use crate::breaker::BreakerConfig;
use crate::bulkhead::BulkheadConfig;
use crate::limiter::LimiterConfig;
use crate::retry::RetryConfig;
use crate::timeout::TimeoutConfig;

/// The stages of one named protection, as carried in TOML and by the config service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProtectionConfig {
    /// The rate limiter, if any.
    pub rate_limit: Option<LimiterConfig>,
    /// The bulkhead, if any.
    pub bulkhead: Option<BulkheadConfig>,
    /// The circuit breaker, if any.
    pub circuit_breaker: Option<BreakerConfig>,
    /// The retry loop, if any.
    pub retry: Option<RetryConfig>,
    /// The per-attempt timeout, if any.
    pub timeout: Option<TimeoutConfig>,
}

impl Validate for ProtectionConfig {
    fn validate_into(&self, v: &mut Validator) {
        if let Some(c) = &self.rate_limit {
            v.nested("rate_limit", c);
        }
        if let Some(c) = &self.bulkhead {
            v.nested("bulkhead", c);
        }
        if let Some(c) = &self.circuit_breaker {
            v.nested("circuit_breaker", c);
        }
        if let Some(c) = &self.retry {
            v.nested("retry", c);
        }
        if let Some(c) = &self.timeout {
            v.nested("timeout", c);
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    #[serde(default)]
    protection: BTreeMap<String, ProtectionConfig>,
}

/// Protections by name, built from configuration.
#[derive(Debug, Clone, Default)]
pub struct ProtectionRegistry {
    protections: BTreeMap<String, Protection>,
}

impl ProtectionRegistry {
    /// Parses a TOML document's `[protection.<name>]` tables and builds every protection.
    /// Malformed TOML, unknown keys and invalid values are refused whole, naming the field.
    pub fn from_toml(text: &str) -> Result<ProtectionRegistry> {
        let doc: Document = toml::from_str(text).map_err(|e| {
            Error::new(
                ErrorCode::INVALID_CONFIG,
                format!("protection config: {}", e.message()),
            )
            .with_context("span", format!("{:?}", e.span()))
        })?;
        ProtectionRegistry::from_configs(doc.protection, |b| b)
    }

    /// Builds one protection per entry; `customize` sets what configs can't carry (clock,
    /// bus, classifier, memory gate, shared instances).
    pub fn from_configs(
        configs: impl IntoIterator<Item = (String, ProtectionConfig)>,
        customize: impl Fn(ProtectionBuilder) -> ProtectionBuilder,
    ) -> Result<ProtectionRegistry> {
        let configs: Vec<_> = configs.into_iter().collect();
        let mut v = Validator::new("protection");
        for (name, config) in &configs {
            v.non_empty("<name>", name);
            v.nested(name, config);
        }
        v.finish()?;
        let mut protections = BTreeMap::new();
        for (name, config) in configs {
            let p = customize(ProtectionBuilder::from_config(name.as_str(), &config)).build()?;
            protections.insert(name, p);
        }
        Ok(ProtectionRegistry { protections })
    }

    /// The protection named `name`, or a not-found error.
    pub fn get(&self, name: &str) -> Result<Protection> {
        self.protections
            .get(name)
            .cloned()
            .ok_or_else(|| Error::not_found("protection", name))
    }

    /// Every name, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.protections.keys().map(String::as_str)
    }
}
