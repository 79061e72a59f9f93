//! [`AlertConfig`]: rules, receivers, the routing tree, inhibition, and the engine's
//! timings and bounds, as carried in TOML and by the config service.
//!
//! ```toml
//! evaluation_interval_ms = 15000
//! fallback_receiver = "ops-log"
//!
//! [[receivers]]
//! kind = "webhook"
//! name = "pager"
//! url = "http://127.0.0.1:9000/hook"
//!
//! [[receivers]]
//! kind = "log"
//! name = "ops-log"
//!
//! [route]
//! receiver = "pager"
//! group_by = ["alertname"]
//! ```

use std::collections::BTreeSet;
use std::time::Duration;

use foundation_core::{Validate, Validator, millis};
use foundation_protect::breaker::BreakerConfig;
use foundation_protect::retry::{Backoff, RetryConfig};
use serde::{Deserialize, Serialize};

use super::inhibit::InhibitRuleConfig;
use super::receivers::webhook_url;
use super::route::RouteConfig;
use super::rule::RuleConfig;

/// The name of the log receiver the default config has.
pub const DEFAULT_RECEIVER: &str = "log";

/// How every delivery is protected: retried with backoff, bounded by a timeout, and behind a
/// circuit breaker per receiver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Attempts and backoff of one notification (default: 3 attempts, 1 s doubling).
    pub retry: RetryConfig,
    /// The deadline of each attempt (default 10 s).
    #[serde(rename = "timeout_ms", with = "millis")]
    pub timeout: Duration,
    /// The breaker in front of each receiver (default: the breaker's defaults); `None` for
    /// none.
    pub circuit_breaker: Option<BreakerConfig>,
}

impl Default for DeliveryConfig {
    fn default() -> DeliveryConfig {
        DeliveryConfig {
            retry: RetryConfig {
                max_attempts: 3,
                backoff: Backoff::Exponential {
                    initial: Duration::from_secs(1),
                    multiplier: 2.0,
                },
                max_delay: Duration::from_secs(30),
                ..RetryConfig::default()
            },
            timeout: Duration::from_secs(10),
            circuit_breaker: Some(BreakerConfig::default()),
        }
    }
}

impl Validate for DeliveryConfig {
    fn validate_into(&self, v: &mut Validator) {
        v.nested("retry", &self.retry)
            .positive_duration("timeout_ms", self.timeout);
        if let Some(breaker) = &self.circuit_breaker {
            v.nested("circuit_breaker", breaker);
        }
    }
}

/// A receiver built from configuration (in-process channels and custom receivers are
/// registered on the builder instead).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ReceiverConfig {
    /// A [`LogReceiver`](super::receivers::LogReceiver).
    Log {
        /// Its name.
        name: String,
    },
    /// A [`WebhookReceiver`](super::receivers::WebhookReceiver).
    Webhook {
        /// Its name.
        name: String,
        /// The URL notifications are POSTed to.
        url: String,
    },
}

impl ReceiverConfig {
    /// The receiver's name.
    pub fn name(&self) -> &str {
        match self {
            ReceiverConfig::Log { name } | ReceiverConfig::Webhook { name, .. } => name,
        }
    }
}

/// Alerting's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertConfig {
    /// How often rules are evaluated (default 15 s).
    #[serde(rename = "evaluation_interval_ms", with = "millis")]
    pub evaluation_interval: Duration,
    /// How often groups are checked for notifications due and escalations (default 1 s).
    #[serde(rename = "flush_interval_ms", with = "millis")]
    pub flush_interval: Duration,
    /// State changes kept per alert (default 20).
    pub history: usize,
    /// Alerts kept, resolved ones included (default 10,000); the oldest resolved are
    /// forgotten first, and past it new alerts are refused.
    pub max_alerts: usize,
    /// How long a resolved alert stays visible after its last notification (default 1 h).
    #[serde(rename = "resolved_retention_ms", with = "millis")]
    pub resolved_retention: Duration,
    /// Silences kept, expired ones included (default 1,000).
    pub max_silences: usize,
    /// How long an expired silence stays visible (default 24 h).
    #[serde(rename = "silence_retention_ms", with = "millis")]
    pub silence_retention: Duration,
    /// The receiver told when another receiver stays down (`AlertReceiverDown`); the log
    /// always is. `None`: the log only.
    pub fallback_receiver: Option<String>,
    /// How deliveries are protected.
    pub delivery: DeliveryConfig,
    /// Receivers built from configuration.
    pub receivers: Vec<ReceiverConfig>,
    /// The routing tree.
    pub route: RouteConfig,
    /// Inhibition rules.
    pub inhibit_rules: Vec<InhibitRuleConfig>,
    /// Alert rules.
    pub rules: Vec<RuleConfig>,
}

impl Default for AlertConfig {
    fn default() -> AlertConfig {
        AlertConfig {
            evaluation_interval: Duration::from_secs(15),
            flush_interval: Duration::from_secs(1),
            history: 20,
            max_alerts: 10_000,
            resolved_retention: Duration::from_secs(3_600),
            max_silences: 1_000,
            silence_retention: Duration::from_secs(86_400),
            fallback_receiver: None,
            delivery: DeliveryConfig::default(),
            receivers: vec![ReceiverConfig::Log {
                name: DEFAULT_RECEIVER.to_string(),
            }],
            route: RouteConfig::to(DEFAULT_RECEIVER),
            inhibit_rules: Vec::new(),
            rules: Vec::new(),
        }
    }
}

impl AlertConfig {
    /// Records every problem, with `extra` receiver names registered outside the config.
    pub(crate) fn validate_with(&self, v: &mut Validator, extra: &BTreeSet<String>) {
        v.positive_duration("evaluation_interval_ms", self.evaluation_interval)
            .positive_duration("flush_interval_ms", self.flush_interval)
            .at_least_one("history", self.history as u64)
            .at_least_one("max_alerts", self.max_alerts as u64)
            .at_least_one("max_silences", self.max_silences as u64)
            .nested("delivery", &self.delivery);
        let mut names = extra.clone();
        for (i, receiver) in self.receivers.iter().enumerate() {
            let name = receiver.name();
            v.non_empty(&format!("receivers[{i}].name"), name).check(
                names.insert(name.to_string()),
                &format!("receivers[{i}].name"),
                format_args!("receiver {name:?} is defined twice"),
            );
            if let ReceiverConfig::Webhook { url, .. } = receiver
                && let Err(reason) = webhook_url(url)
            {
                v.check(false, &format!("receivers[{i}].url"), reason);
            }
        }
        if let Some(fallback) = &self.fallback_receiver {
            v.check(
                names.contains(fallback),
                "fallback_receiver",
                format_args!("no receiver named {fallback:?}"),
            );
        }
        self.route.validate_into(v, "route", &names, true);
        for (i, rule) in self.inhibit_rules.iter().enumerate() {
            rule.validate_into(v, &format!("inhibit_rules[{i}]"));
        }
        let mut rule_names = BTreeSet::new();
        for (i, rule) in self.rules.iter().enumerate() {
            v.nested(&format!("rules[{i}]"), rule).check(
                rule_names.insert(rule.name.as_str()),
                &format!("rules[{i}].name"),
                format_args!("rule {:?} is defined twice", rule.name),
            );
        }
    }
}

impl Validate for AlertConfig {
    /// Checks the config against the receivers it defines itself (the manager's builder also
    /// accepts receivers registered on it).
    fn validate_into(&self, v: &mut Validator) {
        self.validate_with(v, &BTreeSet::new());
    }
}
