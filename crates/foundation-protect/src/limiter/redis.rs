//! [`RedisRateLimiter`]: one quota per key shared by every process using the same Redis.
//!
//! Each check is one round trip: `EVALSHA` of a GCRA Lua script (the script is loaded once
//! and cached by its SHA; `NOSCRIPT` after a Redis restart reloads it). The script reads the
//! time from the Redis server (`TIME`), so processes with skewed clocks still agree, and
//! stores the key's theoretical arrival time in microseconds with an expiry of when the key
//! is full again, so Redis memory stays bounded by the keys in use.
//!
//! When Redis cannot be reached within `connect_timeout_ms` / `response_timeout_ms`, the
//! configured [`OnUnavailable`] policy decides: fail open, fail closed
//! (`LIMITER_BACKEND_UNAVAILABLE`), or a local in-process keyed limiter of the same quota.
//! For `retry_interval_ms` after a failure the limiter does not try Redis again and decides
//! by the policy at once; it never panics and never waits longer than the timeouts.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use foundation_core::{Clock, Error, ErrorCode, TelemetryBus, Validate, Validator};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::config::{LimiterConfig, OnUnavailable, Quota, RedisBackendConfig};
use super::engine::{Engine, resolve_quota};
use super::events::LimiterBackendUnavailable;
use super::keyed::KeyedRateLimiter;
use super::params::Params;
use super::status::LimiterStatus;

const GCRA_SCRIPT: &str = r#"
local emission = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local new_tat = tat + n * emission
local allow_at = new_tat - tau
if allow_at > now then
  return {0, math.ceil(allow_at - now)}
end
redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, 0}
"#;

/// A distributed rate limiter on Redis. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct RedisRateLimiter {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRateLimiter")
            .field("name", &self.name())
            .field("quota", &self.quota())
            .field("available", &self.is_available())
            .finish()
    }
}

struct Inner {
    engine: Engine,
    config: LimiterConfig,
    redis: RedisBackendConfig,
    client: redis::Client,
    script: redis::Script,
    connection: ArcSwapOption<ConnectionManager>,
    /// Engine time (ns) before which Redis is not tried again.
    down_until: AtomicU64,
    /// Whether the last attempt failed (an event is emitted on each new failure).
    down: AtomicBool,
    fallback: KeyedRateLimiter<String>,
}

/// Builds a [`RedisRateLimiter`] (see [`RedisRateLimiter::builder`]).
#[derive(Debug)]
pub struct RedisRateLimiterBuilder {
    name: String,
    config: LimiterConfig,
    quota_exact: Option<Quota>,
    clock: Clock,
    bus: Option<TelemetryBus>,
    fallback: Option<KeyedRateLimiter<String>>,
}

impl RedisRateLimiterBuilder {
    /// The limiter's name; Redis keys are `<key_prefix><name>:<key>`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The whole configuration; its `redis` section must be set.
    pub fn config(mut self, config: LimiterConfig) -> Self {
        self.config = config;
        self
    }

    /// The Redis section (overrides the config's).
    pub fn redis(mut self, redis: RedisBackendConfig) -> Self {
        self.config.redis = Some(redis);
        self
    }

    /// The quota of each key (overrides the config's rate, period and burst).
    pub fn quota(mut self, quota: Quota) -> Self {
        self.quota_exact = Some(quota);
        self
    }

    /// The clock used for the retry interval and the local fallback (default: tokio's).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The telemetry bus (default: the global bus).
    pub fn bus(mut self, bus: TelemetryBus) -> Self {
        self.bus = Some(bus);
        self
    }

    /// The limiter deciding under [`OnUnavailable::Local`] (default: an in-memory keyed GCRA
    /// limiter of the same quota and `max_keys`).
    pub fn fallback(mut self, fallback: KeyedRateLimiter<String>) -> Self {
        self.fallback = Some(fallback);
        self
    }

    /// Validates and builds. Does not connect: the first check does.
    pub fn build(self) -> Result<RedisRateLimiter, Error> {
        let Some(redis) = self.config.redis.clone() else {
            return Err(Error::invalid_config(
                "redis",
                "the redis section is required",
            ));
        };
        let quota = resolve_quota(&self.name, &self.config, self.quota_exact)?;
        let client = redis::Client::open(redis.url.as_str())
            .map_err(|e| Error::invalid_config("redis.url", e))?;
        let bus = self.bus.unwrap_or_else(|| TelemetryBus::global().clone());
        let fallback = match self.fallback {
            Some(f) => f,
            None => KeyedRateLimiter::builder()
                .name(self.name.clone())
                .config(LimiterConfig {
                    redis: None,
                    ..self.config.clone()
                })
                .quota(quota)
                .clock(self.clock.clone())
                .bus(bus.clone())
                .build()?,
        };
        Ok(RedisRateLimiter {
            inner: Arc::new(Inner {
                engine: Engine::new(
                    Arc::from(self.name.as_str()),
                    self.config.algorithm,
                    Params::new(quota),
                    self.clock,
                    bus,
                ),
                config: self.config,
                redis,
                client,
                script: redis::Script::new(GCRA_SCRIPT),
                connection: ArcSwapOption::empty(),
                down_until: AtomicU64::new(0),
                down: AtomicBool::new(false),
                fallback,
            }),
        })
    }
}

impl RedisRateLimiter {
    /// A builder with the default config and Redis section, the name `"default"`.
    pub fn builder() -> RedisRateLimiterBuilder {
        RedisRateLimiterBuilder {
            name: "default".into(),
            config: LimiterConfig {
                redis: Some(RedisBackendConfig::default()),
                ..LimiterConfig::default()
            },
            quota_exact: None,
            clock: Clock::tokio(),
            bus: None,
            fallback: None,
        }
    }

    /// The limiter's name.
    pub fn name(&self) -> &str {
        &self.inner.engine.name
    }

    /// The quota each key gets.
    pub fn quota(&self) -> Quota {
        self.inner.engine.params.quota()
    }

    /// The config it was built from.
    pub fn config(&self) -> &LimiterConfig {
        &self.inner.config
    }

    /// Whether the last attempt to reach Redis succeeded (true before the first).
    pub fn is_available(&self) -> bool {
        !self.inner.down.load(Ordering::Acquire)
    }

    /// Replaces the quota; state in Redis (each key's schedule) is kept.
    pub fn set_quota(&self, quota: Quota) -> Result<(), Error> {
        let mut v = Validator::new("quota");
        quota.validate_into(&mut v);
        v.finish()?;
        self.inner.engine.params.set(quota);
        self.inner.fallback.set_quota(quota)
    }

    /// Counters of this process's decisions.
    pub fn status(&self) -> LimiterStatus {
        let engine = &self.inner.engine;
        let p = engine.params.load();
        LimiterStatus::new(engine, p.burst, None)
    }

    /// Takes one permit for `key`.
    pub async fn check(&self, key: &str) -> Result<(), Error> {
        self.check_n(key, 1).await
    }

    /// Takes `n` permits for `key` in one round trip, or refuses with `RATE_LIMITED` and a
    /// `retry_after`; if Redis is unreachable, decides by the configured policy.
    pub async fn check_n(&self, key: &str, n: u32) -> Result<(), Error> {
        if n == 0 {
            return Ok(());
        }
        let inner = &*self.inner;
        let engine = &inner.engine;
        let p = engine.params.load();
        let permits = u64::from(n);
        if permits > p.burst {
            return Err(engine.exceeds(permits, &p).with_context("key", key));
        }
        let now = engine.now();
        if now < inner.down_until.load(Ordering::Acquire) {
            return self.unavailable(key, n, None);
        }
        let call = self.call(key, permits, p.emission_ns, p.tau_ns);
        let limit = Duration::from_millis(
            inner
                .redis
                .connect_timeout_ms
                .saturating_add(inner.redis.response_timeout_ms),
        );
        let answer = match tokio::time::timeout(limit, call).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => return self.failed(key, n, e),
            Err(_) => {
                let e = Error::new(ErrorCode::EXTERNAL_TIMEOUT, "redis did not answer in time");
                return self.failed(key, n, e);
            }
        };
        inner.down.store(false, Ordering::Release);
        match answer {
            (1, _) => {
                engine.counters.admitted(permits);
                Ok(())
            }
            (_, wait_us) => {
                let wait_ns = u64::try_from(wait_us).unwrap_or(0).saturating_mul(1_000);
                Err(engine.denied(now, permits, wait_ns.max(1), &p, || Some(key.to_string())))
            }
        }
    }

    async fn call(
        &self,
        key: &str,
        n: u64,
        emission_ns: u64,
        tau_ns: u64,
    ) -> Result<(i64, i64), Error> {
        let inner = &*self.inner;
        let mut connection = match inner.connection.load_full() {
            Some(c) => (*c).clone(),
            None => {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_millis(
                        inner.redis.connect_timeout_ms,
                    )))
                    .set_response_timeout(Some(Duration::from_millis(
                        inner.redis.response_timeout_ms,
                    )))
                    .set_number_of_retries(1);
                let c = ConnectionManager::new_with_config(inner.client.clone(), config)
                    .await
                    .map_err(translate)?;
                inner.connection.store(Some(Arc::new(c.clone())));
                c
            }
        };
        let redis_key = format!("{}{}:{}", inner.redis.key_prefix, inner.engine.name, key);
        inner
            .script
            .key(redis_key)
            .arg(emission_ns as f64 / 1_000.0)
            .arg(tau_ns as f64 / 1_000.0)
            .arg(n)
            .invoke_async::<(i64, i64)>(&mut connection)
            .await
            .map_err(translate)
    }

    #[cold]
    fn failed(&self, key: &str, n: u32, cause: Error) -> Result<(), Error> {
        let inner = &*self.inner;
        let now = inner.engine.now();
        let retry = Duration::from_millis(inner.redis.retry_interval_ms);
        inner.down_until.store(
            now.saturating_add(u64::try_from(retry.as_nanos()).unwrap_or(u64::MAX)),
            Ordering::Release,
        );
        inner.down.store(true, Ordering::Release);
        tracing::warn!(
            target: "foundation.limiter.backend_unavailable",
            limiter = %inner.engine.name,
            policy = ?inner.redis.on_unavailable,
            error = %cause,
            "redis unreachable"
        );
        inner.engine.bus.emit(LimiterBackendUnavailable {
            limiter: inner.engine.name.clone(),
            policy: inner.redis.on_unavailable,
            error: cause.to_string(),
        });
        self.unavailable(key, n, Some(cause))
    }

    fn unavailable(&self, key: &str, n: u32, cause: Option<Error>) -> Result<(), Error> {
        let inner = &*self.inner;
        match inner.redis.on_unavailable {
            OnUnavailable::FailOpen => {
                inner.engine.counters.admitted(u64::from(n));
                Ok(())
            }
            OnUnavailable::FailClosed => {
                let p = inner.engine.params.load();
                inner
                    .engine
                    .counters
                    .denied(inner.engine.now(), p.period_ns);
                let wait = inner
                    .down_until
                    .load(Ordering::Acquire)
                    .saturating_sub(inner.engine.now());
                let err = Error::new(
                    ErrorCode::LIMITER_BACKEND_UNAVAILABLE,
                    "the rate limiter's redis backend is unreachable",
                )
                .with_context("limiter", &*inner.engine.name)
                .with_retry_after(Duration::from_nanos(wait.max(1)));
                Err(match cause {
                    Some(c) => err.with_source(c),
                    None => err,
                })
            }
            OnUnavailable::Local => {
                let result = inner.fallback.check_n(key, n);
                match &result {
                    Ok(()) => inner.engine.counters.admitted(u64::from(n)),
                    Err(_) => {
                        let p = inner.engine.params.load();
                        inner
                            .engine
                            .counters
                            .denied(inner.engine.now(), p.period_ns);
                    }
                }
                result
            }
        }
    }
}

fn translate(e: redis::RedisError) -> Error {
    let code = if e.is_timeout() {
        ErrorCode::EXTERNAL_TIMEOUT
    } else if e.is_io_error() || e.is_connection_refusal() || e.is_connection_dropped() {
        ErrorCode::NETWORK
    } else {
        ErrorCode::UNAVAILABLE
    };
    Error::new(code, format!("redis: {e}")).with_source(e)
}
