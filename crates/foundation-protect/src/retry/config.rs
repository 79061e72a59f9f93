//! [`RetryConfig`]: how many attempts, how long to wait between them, and for how long at most.

use std::time::Duration;

use foundation_core::{Validate, Validator};
use serde::{Deserialize, Serialize};

use super::budget::RetryBudgetConfig;
use foundation_core::millis;

/// How the delay before the next attempt grows.
///
/// `n` below is the number of the attempt that just failed (1 for the first call). Every
/// delay is capped by [`RetryConfig::max_delay`], then [`RetryConfig::jitter`] applies (except
/// to [`Backoff::DecorrelatedJitter`], which is random by construction).
///
/// In TOML: `backoff = { kind = "exponential", initial_ms = 100, multiplier = 2.0 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Backoff {
    /// The same delay every time.
    Constant {
        /// The delay.
        #[serde(rename = "delay_ms", with = "millis")]
        delay: Duration,
    },
    /// `initial + step × (n − 1)`.
    Linear {
        /// The first delay.
        #[serde(rename = "initial_ms", with = "millis")]
        initial: Duration,
        /// Added after each further failure.
        #[serde(rename = "step_ms", with = "millis")]
        step: Duration,
    },
    /// `initial × multiplier^(n − 1)`.
    Exponential {
        /// The first delay.
        #[serde(rename = "initial_ms", with = "millis")]
        initial: Duration,
        /// The growth factor, at least 1.
        multiplier: f64,
    },
    /// AWS's "decorrelated jitter": `min(max_delay, random(base, previous × 3))`, starting
    /// from `previous = base`.
    DecorrelatedJitter {
        /// The smallest delay, and the first `previous`.
        #[serde(rename = "base_ms", with = "millis")]
        base: Duration,
    },
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::Exponential {
            initial: Duration::from_millis(100),
            multiplier: 2.0,
        }
    }
}

impl Backoff {
    /// The smallest delay the backoff produces before jitter (its first delay).
    pub fn initial(&self) -> Duration {
        match *self {
            Backoff::Constant { delay } => delay,
            Backoff::Linear { initial, .. } | Backoff::Exponential { initial, .. } => initial,
            Backoff::DecorrelatedJitter { base } => base,
        }
    }
}

impl Validate for Backoff {
    fn validate_into(&self, v: &mut Validator) {
        match *self {
            Backoff::Constant { delay } => {
                v.positive_duration("delay_ms", delay);
            }
            Backoff::Linear { initial, step } => {
                v.positive_duration("initial_ms", initial)
                    .positive_duration("step_ms", step);
            }
            Backoff::Exponential {
                initial,
                multiplier,
            } => {
                v.positive_duration("initial_ms", initial).check(
                    multiplier.is_finite() && multiplier >= 1.0,
                    "multiplier",
                    format_args!("must be a number of at least 1, got {multiplier}"),
                );
            }
            Backoff::DecorrelatedJitter { base } => {
                v.positive_duration("base_ms", base);
            }
        }
    }
}

/// Randomisation applied to [`Backoff::Constant`], [`Backoff::Linear`] and
/// [`Backoff::Exponential`] delays so that many clients failing together do not retry in
/// lock step. `d` is the capped delay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// Exactly `d` (the default: predictable; prefer `full` for fleets of clients).
    #[default]
    None,
    /// Uniform in `0..=d`.
    Full,
    /// `d/2` plus uniform in `0..=d/2`.
    Equal,
}

/// Configuration of a [`Retry`](super::Retry).
///
/// ```toml
/// max_attempts = 4
/// max_delay_ms = 2000
/// max_total_time_ms = 10000
/// jitter = "full"
/// backoff = { kind = "exponential", initial_ms = 100, multiplier = 2.0 }
/// budget = { ttl_ms = 10000, min_retries_per_sec = 10, retry_ratio = 0.2 }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts in all, the first call included (at least 1; 1 means never retry).
    pub max_attempts: u32,
    /// How the delay grows.
    pub backoff: Backoff,
    /// Randomisation of the delay (ignored by [`Backoff::DecorrelatedJitter`]).
    pub jitter: Jitter,
    /// No backoff delay is longer than this (an error's `retry_after` may still ask for more).
    #[serde(rename = "max_delay_ms", with = "millis")]
    pub max_delay: Duration,
    /// Give up rather than wait past this much time since the first attempt started.
    /// `None`: no limit besides `max_attempts`.
    #[serde(
        rename = "max_total_time_ms",
        with = "millis::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_total_time: Option<Duration>,
    /// A private retry budget for this retry. A budget shared by several retries is given to
    /// the builder instead ([`RetryBuilder::budget`](super::RetryBuilder::budget)).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<RetryBudgetConfig>,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 3,
            backoff: Backoff::default(),
            jitter: Jitter::None,
            max_delay: Duration::from_secs(10),
            max_total_time: None,
            budget: None,
        }
    }
}

impl Validate for RetryConfig {
    fn validate_into(&self, v: &mut Validator) {
        v.at_least_one("max_attempts", u64::from(self.max_attempts))
            .nested("backoff", &self.backoff)
            .positive_duration("max_delay_ms", self.max_delay);
        let initial = self.backoff.initial();
        v.check(
            initial.is_zero() || self.max_delay >= initial,
            "max_delay_ms",
            format_args!(
                "must not be less than the backoff's initial delay ({} ms), got {} ms",
                initial.as_millis(),
                self.max_delay.as_millis()
            ),
        );
        if let Some(total) = self.max_total_time {
            v.positive_duration("max_total_time_ms", total);
        }
        if let Some(budget) = &self.budget {
            v.nested("budget", budget);
        }
    }
}
