//! [`Limiter`]: the one type the `Protection` facade (and the registry) holds for any
//! limiter, deciding without waiting for quota.

use foundation_core::{Clock, Error, TelemetryBus};

use super::config::{LimiterConfig, Quota};
use super::direct::RateLimiter;
use super::keyed::KeyedRateLimiter;
#[cfg(feature = "redis")]
use super::redis::RedisRateLimiter;
use super::status::LimiterStatus;

/// Any limiter: in memory (direct or keyed) or in Redis.
///
/// `check_n(key, n)` decides at once. For the in-memory kinds it completes on its first
/// poll without allocating when admitted; a keyed limiter allocates only for a key it has
/// not seen. A direct limiter ignores the key; keyed and Redis limiters use `""` for `None`.
#[derive(Debug, Clone)]
pub enum Limiter {
    /// One in-memory quota for everyone.
    Local(RateLimiter),
    /// One in-memory quota per key.
    Keyed(KeyedRateLimiter<String>),
    /// One quota per key shared through Redis.
    #[cfg(feature = "redis")]
    Redis(RedisRateLimiter),
}

impl Limiter {
    /// Builds the kind the config asks for: Redis if it has a `redis` section, keyed if
    /// `keyed`, otherwise direct.
    pub fn from_config(
        name: &str,
        config: &LimiterConfig,
        clock: Clock,
        bus: TelemetryBus,
    ) -> Result<Limiter, Error> {
        if config.redis.is_some() {
            #[cfg(feature = "redis")]
            return RedisRateLimiter::builder()
                .name(name)
                .config(config.clone())
                .clock(clock)
                .bus(bus)
                .build()
                .map(Limiter::Redis);
            #[cfg(not(feature = "redis"))]
            return Err(Error::invalid_config(
                "redis",
                "this build has no redis backend (feature `redis`)",
            ));
        }
        if config.keyed {
            return KeyedRateLimiter::builder()
                .name(name)
                .config(config.clone())
                .clock(clock)
                .bus(bus)
                .build()
                .map(Limiter::Keyed);
        }
        RateLimiter::builder()
            .name(name)
            .config(config.clone())
            .clock(clock)
            .bus(bus)
            .build()
            .map(Limiter::Local)
    }

    /// The limiter's name.
    pub fn name(&self) -> &str {
        match self {
            Limiter::Local(l) => l.name(),
            Limiter::Keyed(l) => l.name(),
            #[cfg(feature = "redis")]
            Limiter::Redis(l) => l.name(),
        }
    }

    /// Takes `n` permits for `key` now, or refuses (`RATE_LIMITED` with `retry_after`,
    /// `RATE_LIMIT_EXCEEDS_CAPACITY`, or for Redis per its unavailable policy).
    #[inline]
    pub async fn check_n(&self, key: Option<&str>, n: u32) -> Result<(), Error> {
        match self {
            Limiter::Local(l) => l.check_n(n),
            Limiter::Keyed(l) => l.check_n(key.unwrap_or(""), n),
            #[cfg(feature = "redis")]
            Limiter::Redis(l) => l.check_n(key.unwrap_or(""), n).await,
        }
    }

    /// Takes one permit for `key` now.
    pub async fn check(&self, key: Option<&str>) -> Result<(), Error> {
        self.check_n(key, 1).await
    }

    /// Decides without awaiting when the limiter is in memory; `None` for Redis.
    #[inline]
    pub fn try_check_n_now(&self, key: Option<&str>, n: u32) -> Option<Result<(), Error>> {
        match self {
            Limiter::Local(l) => Some(l.check_n(n)),
            Limiter::Keyed(l) => Some(l.check_n(key.unwrap_or(""), n)),
            #[cfg(feature = "redis")]
            Limiter::Redis(_) => None,
        }
    }

    /// Replaces the quota, keeping state.
    pub fn set_quota(&self, quota: Quota) -> Result<(), Error> {
        match self {
            Limiter::Local(l) => l.set_quota(quota),
            Limiter::Keyed(l) => l.set_quota(quota),
            #[cfg(feature = "redis")]
            Limiter::Redis(l) => l.set_quota(quota),
        }
    }

    /// A status snapshot.
    pub fn status(&self) -> LimiterStatus {
        match self {
            Limiter::Local(l) => l.status(),
            Limiter::Keyed(l) => l.status(),
            #[cfg(feature = "redis")]
            Limiter::Redis(l) => l.status(),
        }
    }
}

impl From<RateLimiter> for Limiter {
    fn from(l: RateLimiter) -> Limiter {
        Limiter::Local(l)
    }
}

impl From<KeyedRateLimiter<String>> for Limiter {
    fn from(l: KeyedRateLimiter<String>) -> Limiter {
        Limiter::Keyed(l)
    }
}

#[cfg(feature = "redis")]
impl From<RedisRateLimiter> for Limiter {
    fn from(l: RedisRateLimiter) -> Limiter {
        Limiter::Redis(l)
    }
}
