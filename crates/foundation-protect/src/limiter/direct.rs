//! [`RateLimiter`]: one quota for every caller.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use foundation_core::{Clock, Error, TelemetryBus, Validate, Validator};

use super::algorithm::{Reservation, State};
use super::config::{Algorithm, LimiterConfig, Quota};
use super::engine::{Engine, resolve_quota};
use super::params::Params;
use super::status::LimiterStatus;

/// An in-memory rate limiter with one quota shared by every caller. Cheap to clone; clones
/// share state.
///
/// `check`/`check_n` decide at once (lock-free, no allocation when admitted). `acquire`/
/// `acquire_n` wait until admitted; waiters are served first come, first served.
#[derive(Clone)]
pub struct RateLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    state: State,
    config: LimiterConfig,
    /// The fair (FIFO) line of waiting `acquire` calls.
    line: tokio::sync::Mutex<()>,
    waiting: AtomicUsize,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("name", &self.name())
            .field("algorithm", &self.algorithm())
            .field("quota", &self.quota())
            .finish()
    }
}

/// Builds a [`RateLimiter`] (see [`RateLimiter::builder`]).
#[derive(Debug, Clone)]
pub struct RateLimiterBuilder {
    name: String,
    config: LimiterConfig,
    quota_exact: Option<Quota>,
    clock: Clock,
    bus: Option<TelemetryBus>,
}

impl RateLimiterBuilder {
    /// The limiter's name, used in errors (`limiter=<name>`), events and the registry.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The whole configuration.
    pub fn config(mut self, config: LimiterConfig) -> Self {
        self.config = config;
        self
    }

    /// The algorithm (overrides the config's).
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.config.algorithm = algorithm;
        self
    }

    /// The quota (overrides the config's rate, period and burst).
    pub fn quota(mut self, quota: Quota) -> Self {
        self.config.rate = quota.rate;
        self.config.period_ms = u64::try_from(quota.period.as_millis()).unwrap_or(u64::MAX);
        self.config.burst = quota.burst;
        self.quota_exact = Some(quota);
        self
    }

    /// The clock (default: tokio's, which follows paused test time). In production
    /// `Clock::fast()` makes `check` about 2.5× cheaper (the clock read dominates it).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The telemetry bus (default: the global bus).
    pub fn bus(mut self, bus: TelemetryBus) -> Self {
        self.bus = Some(bus);
        self
    }

    /// Validates and builds.
    pub fn build(self) -> Result<RateLimiter, Error> {
        let quota = resolve_quota(&self.name, &self.config, self.quota_exact)?;
        let engine = Engine::new(
            Arc::from(self.name.as_str()),
            self.config.algorithm,
            Params::new(quota),
            self.clock,
            self.bus.unwrap_or_else(|| TelemetryBus::global().clone()),
        );
        let state = State::new(self.config.algorithm, engine.now(), &engine.params.load());
        Ok(RateLimiter {
            inner: Arc::new(Inner {
                engine,
                state,
                config: self.config,
                line: tokio::sync::Mutex::new(()),
                waiting: AtomicUsize::new(0),
            }),
        })
    }
}

impl RateLimiter {
    /// A builder with the default config, the name `"default"`, tokio's clock and the global
    /// bus.
    pub fn builder() -> RateLimiterBuilder {
        RateLimiterBuilder {
            name: "default".into(),
            config: LimiterConfig::default(),
            quota_exact: None,
            clock: Clock::tokio(),
            bus: None,
        }
    }

    /// A limiter named `"default"` from a validated config.
    pub fn new(config: LimiterConfig) -> Result<RateLimiter, Error> {
        RateLimiter::builder().config(config).build()
    }

    /// The limiter's name.
    pub fn name(&self) -> &str {
        &self.inner.engine.name
    }

    /// The algorithm it runs.
    pub fn algorithm(&self) -> Algorithm {
        self.inner.engine.algorithm
    }

    /// The quota in force.
    pub fn quota(&self) -> Quota {
        self.inner.engine.params.quota()
    }

    /// The config it was built from (its quota as at build time).
    pub fn config(&self) -> &LimiterConfig {
        &self.inner.config
    }

    /// Takes one permit now, or refuses with `RATE_LIMITED` and a `retry_after`.
    #[inline]
    pub fn check(&self) -> Result<(), Error> {
        self.check_n(1)
    }

    /// Takes `n` permits now (all or none), or refuses with `RATE_LIMITED` and a
    /// `retry_after`; `n` above the capacity is `RATE_LIMIT_EXCEEDS_CAPACITY`. `n = 0` is
    /// always admitted.
    #[inline]
    pub fn check_n(&self, n: u32) -> Result<(), Error> {
        if n == 0 {
            return Ok(());
        }
        self.inner.engine.check(&self.inner.state, n, || None)
    }

    /// Waits until one permit is admitted.
    pub async fn acquire(&self) -> Result<(), Error> {
        self.acquire_n(1).await
    }

    /// Waits until `n` permits are admitted. Waiters are served in arrival order (a fair
    /// line); only `n` above the capacity fails (`RATE_LIMIT_EXCEEDS_CAPACITY`). Dropping the
    /// future leaves the line. With the leaky bucket, the call takes its slot in the queue
    /// and then sleeps until the slot comes, so admitted work leaves at the steady rate;
    /// dropped during that sleep, it hands the slot back if nobody queued after it.
    pub async fn acquire_n(&self, n: u32) -> Result<(), Error> {
        if n == 0 {
            return Ok(());
        }
        let inner = &*self.inner;
        if inner.waiting.load(Ordering::Acquire) == 0 {
            match self.reserve(n)? {
                (Reservation::At(_), place) => return self.admitted_after(place).await,
                (Reservation::Full(_), _) => {}
            }
        }
        let _waiting = Waiting::enter(&inner.waiting);
        let line = inner.line.lock().await;
        loop {
            match self.reserve(n)? {
                (Reservation::At(_), place) => {
                    drop(line);
                    return self.admitted_after(place).await;
                }
                (Reservation::Full(retry), _) => {
                    tokio::time::sleep(Duration::from_nanos(retry)).await
                }
            }
        }
    }

    fn reserve(&self, n: u32) -> Result<(Reservation, Place<'_>), Error> {
        let engine = &self.inner.engine;
        let p = engine.params.load();
        let n = u64::from(n);
        if n > p.capacity(engine.algorithm) {
            return Err(engine.exceeds(n, &p));
        }
        let now = engine.now();
        let r = self.inner.state.reserve(now, n, &p);
        let work = n.saturating_mul(p.emission_ns);
        let place = match r {
            Reservation::At(wait) => {
                engine.counters.admitted(n);
                Place {
                    state: &self.inner.state,
                    wait,
                    end: now.saturating_add(wait).saturating_add(work),
                    work,
                }
            }
            Reservation::Full(_) => Place {
                state: &self.inner.state,
                wait: 0,
                end: 0,
                work: 0,
            },
        };
        Ok((r, place))
    }

    async fn admitted_after(&self, mut place: Place<'_>) -> Result<(), Error> {
        if place.wait > 0 {
            tokio::time::sleep(Duration::from_nanos(place.wait)).await;
            place.wait = 0;
        }
        Ok(())
    }

    /// Replaces the quota without losing state: permits already taken stay taken (GCRA and
    /// leaky bucket keep their schedule, the token bucket its tokens capped at the new burst,
    /// windows their counts).
    pub fn set_quota(&self, quota: Quota) -> Result<(), Error> {
        let mut v = Validator::new("quota");
        quota.validate_into(&mut v);
        v.finish()?;
        self.inner.engine.params.set(quota);
        Ok(())
    }

    /// A snapshot: quota, permits available now, counters.
    pub fn status(&self) -> LimiterStatus {
        let engine = &self.inner.engine;
        let p = engine.params.load();
        LimiterStatus::new(engine, self.inner.state.available(engine.now(), &p), None)
    }
}

/// A reserved place in the leaky bucket's queue, `wait` ns away. Dropped while still waiting
/// (the caller gave up), it is handed back if nobody queued after it.
struct Place<'a> {
    state: &'a State,
    wait: u64,
    end: u64,
    work: u64,
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        if self.wait > 0 {
            self.state.cancel(self.end, self.work);
        }
    }
}

/// Counts a waiting `acquire` for as long as it waits.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn enter(count: &'a AtomicUsize) -> Waiting<'a> {
        count.fetch_add(1, Ordering::AcqRel);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
