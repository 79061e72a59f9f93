//! The limiter's configuration: algorithm, quota, key bound, backend.

use std::fmt;
use std::time::Duration;

use foundation_core::{Error, Validate, Validator};
use serde::{Deserialize, Serialize};

/// Which admission algorithm a limiter runs.
///
/// In TOML/JSON it is a snake_case string (`"gcra"`, `"token_bucket"`, `"fixed_window"`,
/// `"sliding_window"`, `"leaky_bucket"`); any other name is refused with an error that names
/// the `algorithm` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "String", into = "&'static str")]
pub enum Algorithm {
    /// Generic cell rate algorithm: one permit every `period / rate`, up to `burst` at once.
    /// One `u64` of state, lock-free.
    #[default]
    Gcra,
    /// Continuous token bucket: `burst` tokens, refilled at `rate` per `period`. The token
    /// count is kept explicitly (fixed point), lock-free.
    TokenBucket,
    /// At most `rate` permits per `period`-long window aligned to the limiter's start.
    FixedWindow,
    /// Sliding-window *counter* approximation: the previous window's count weighted by how
    /// much of it still overlaps the sliding window, plus the current window's count, must
    /// stay within `rate`.
    SlidingWindow,
    /// Leaky bucket as a queue (traffic shaper): admitted work leaves at exactly one permit
    /// every `period / rate`. `check` admits only when the queue is empty (no bursts);
    /// `acquire` joins a queue at most `burst` permits deep and waits for its slot.
    LeakyBucket,
}

impl Algorithm {
    /// Every algorithm, in the order of this enum.
    pub const ALL: [Algorithm; 5] = [
        Algorithm::Gcra,
        Algorithm::TokenBucket,
        Algorithm::FixedWindow,
        Algorithm::SlidingWindow,
        Algorithm::LeakyBucket,
    ];

    /// The config name, e.g. `"gcra"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Algorithm::Gcra => "gcra",
            Algorithm::TokenBucket => "token_bucket",
            Algorithm::FixedWindow => "fixed_window",
            Algorithm::SlidingWindow => "sliding_window",
            Algorithm::LeakyBucket => "leaky_bucket",
        }
    }

    /// Whether the per-`period` limit is `rate` (windows) rather than `burst` (buckets).
    pub const fn is_windowed(self) -> bool {
        matches!(self, Algorithm::FixedWindow | Algorithm::SlidingWindow)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Algorithm> for &'static str {
    fn from(a: Algorithm) -> &'static str {
        a.as_str()
    }
}

impl TryFrom<String> for Algorithm {
    type Error = String;

    fn try_from(name: String) -> Result<Algorithm, String> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.as_str() == name)
            .ok_or_else(|| {
                let names: Vec<_> = Algorithm::ALL.iter().map(|a| a.as_str()).collect();
                format!(
                    "algorithm: unknown algorithm `{name}`, expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// What a waiting-capable front end (the tower layer) does when the quota is used up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnLimit {
    /// Refuse at once with `RATE_LIMITED` and a `retry_after`.
    #[default]
    Reject,
    /// Wait (fairly, first come first served) until the request is admitted.
    Wait,
}

/// What the Redis backend does when Redis cannot be reached in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnUnavailable {
    /// Admit the call.
    FailOpen,
    /// Refuse with `LIMITER_BACKEND_UNAVAILABLE`.
    FailClosed,
    /// Decide with an in-process keyed limiter of the same quota (per process, so a
    /// cluster of N processes admits up to N times the quota while Redis is down).
    #[default]
    Local,
}

/// Settings of the Redis backend (used when the crate is built with feature `redis`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisBackendConfig {
    /// `redis://host:port/db`.
    pub url: String,
    /// Prefix of every key the limiter writes (`<prefix><limiter name>:<key>`).
    pub key_prefix: String,
    /// Longest wait for a connection, in milliseconds.
    pub connect_timeout_ms: u64,
    /// Longest wait for one check's answer, in milliseconds.
    pub response_timeout_ms: u64,
    /// After a failure, how long to decide by `on_unavailable` before trying Redis again.
    pub retry_interval_ms: u64,
    /// Policy while Redis is unreachable.
    pub on_unavailable: OnUnavailable,
}

impl Default for RedisBackendConfig {
    fn default() -> Self {
        RedisBackendConfig {
            url: "redis://127.0.0.1:6379".into(),
            key_prefix: "foundation:limiter:".into(),
            connect_timeout_ms: 250,
            response_timeout_ms: 100,
            retry_interval_ms: 1_000,
            on_unavailable: OnUnavailable::Local,
        }
    }
}

impl Validate for RedisBackendConfig {
    fn validate_into(&self, v: &mut Validator) {
        v.non_empty("url", &self.url)
            .check(
                self.url.starts_with("redis://") || self.url.starts_with("rediss://"),
                "url",
                "must start with redis:// or rediss://",
            )
            .non_empty("key_prefix", &self.key_prefix)
            .at_least_one("connect_timeout_ms", self.connect_timeout_ms)
            .at_least_one("response_timeout_ms", self.response_timeout_ms)
            .at_least_one("retry_interval_ms", self.retry_interval_ms);
    }
}

/// A quota: `rate` permits per `period`, at most `burst` at once.
///
/// For the bucket algorithms (`gcra`, `token_bucket`) `burst` is the bucket's capacity and
/// the largest `n` a single `check_n` may ask for; for `leaky_bucket` it is the depth of the
/// waiting queue; the window algorithms admit `rate` per window and the largest `n` is `rate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    /// Permits per period (at least 1).
    pub rate: u32,
    /// The period (greater than zero; `period / rate` must be at least 1 ns).
    pub period: Duration,
    /// Permits that may be taken at once (at least 1).
    pub burst: u32,
}

impl Quota {
    /// `rate` per `period`, with a burst of `rate`.
    pub const fn new(rate: u32, period: Duration) -> Quota {
        Quota {
            rate,
            period,
            burst: rate,
        }
    }

    /// `rate` per second, with a burst of `rate`.
    pub const fn per_second(rate: u32) -> Quota {
        Quota::new(rate, Duration::from_secs(1))
    }

    /// The same rate with another burst.
    pub const fn with_burst(mut self, burst: u32) -> Quota {
        self.burst = burst;
        self
    }

    /// The time between two permits at the steady rate (`period / rate`).
    pub fn emission_interval(&self) -> Duration {
        self.period / self.rate.max(1)
    }
}

impl Validate for Quota {
    fn validate_into(&self, v: &mut Validator) {
        v.at_least_one("rate", u64::from(self.rate))
            .positive_duration("period", self.period)
            .at_least_one("burst", u64::from(self.burst));
        if self.rate >= 1 && !self.period.is_zero() {
            v.check(
                self.period.as_nanos() >= u128::from(self.rate),
                "rate",
                "period / rate must be at least 1ns",
            );
        }
    }
}

/// Configuration of one named limiter, as carried in TOML and by the config service.
///
/// ```toml
/// algorithm = "gcra"
/// rate = 100
/// period_ms = 1000
/// burst = 20
/// keyed = true
/// max_keys = 100000
/// on_limit = "reject"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimiterConfig {
    /// The admission algorithm.
    pub algorithm: Algorithm,
    /// Permits per period.
    pub rate: u32,
    /// The period in milliseconds.
    pub period_ms: u64,
    /// Permits at once (bucket capacity, or the leaky bucket's queue depth).
    pub burst: u32,
    /// One quota per key (a [`KeyedRateLimiter`](super::KeyedRateLimiter)) rather than one
    /// for everyone, when built through [`Limiter::from_config`](super::Limiter::from_config).
    pub keyed: bool,
    /// Keyed limiters keep state for at most this many keys; idle keys are evicted first.
    pub max_keys: usize,
    /// What the tower layer does when the quota is used up.
    pub on_limit: OnLimit,
    /// Decide in Redis instead of in memory (feature `redis`).
    pub redis: Option<RedisBackendConfig>,
}

impl Default for LimiterConfig {
    fn default() -> Self {
        LimiterConfig {
            algorithm: Algorithm::Gcra,
            rate: 100,
            period_ms: 1_000,
            burst: 100,
            keyed: false,
            max_keys: 100_000,
            on_limit: OnLimit::Reject,
            redis: None,
        }
    }
}

impl LimiterConfig {
    /// A config running `algorithm` with `quota`, everything else default.
    pub fn new(algorithm: Algorithm, quota: Quota) -> LimiterConfig {
        LimiterConfig {
            algorithm,
            rate: quota.rate,
            period_ms: u64::try_from(quota.period.as_millis()).unwrap_or(u64::MAX),
            burst: quota.burst,
            ..LimiterConfig::default()
        }
    }

    /// The quota this config describes.
    pub fn quota(&self) -> Quota {
        Quota {
            rate: self.rate,
            period: Duration::from_millis(self.period_ms),
            burst: self.burst,
        }
    }

    /// Validates the config, returning an `INVALID_CONFIG` error naming every bad field.
    pub fn validated(self) -> Result<LimiterConfig, Error> {
        self.validate()?;
        Ok(self)
    }
}

impl Validate for LimiterConfig {
    fn validate_into(&self, v: &mut Validator) {
        v.at_least_one("rate", u64::from(self.rate))
            .at_least_one("period_ms", self.period_ms)
            .at_least_one("burst", u64::from(self.burst))
            .at_least_one("max_keys", self.max_keys as u64);
        if self.rate >= 1 && self.period_ms >= 1 {
            v.check(
                u128::from(self.period_ms) * 1_000_000 >= u128::from(self.rate),
                "rate",
                "period / rate must be at least 1ns",
            );
        }
        if let Some(redis) = &self.redis {
            v.nested("redis", redis);
            v.check(
                matches!(self.algorithm, Algorithm::Gcra | Algorithm::TokenBucket),
                "algorithm",
                "the redis backend runs gcra (token_bucket is accepted as its equivalent)",
            );
        }
    }
}
