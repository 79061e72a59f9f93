//! What direct and keyed limiters share: name, algorithm, quota, clock, telemetry, and the
//! translation of a decision into a result.

use std::sync::Arc;
use std::time::Duration;

use foundation_core::{Clock, Error, ErrorCode, Stopwatch, TelemetryBus, Validate, Validator};

use super::algorithm::{Decision, State};
use super::config::{Algorithm, LimiterConfig, Quota};
use super::events::{Counters, emit_rejected};
use super::params::{Params, Snapshot};

pub(crate) struct Engine {
    pub name: Arc<str>,
    pub algorithm: Algorithm,
    pub params: Params,
    pub counters: Counters,
    pub bus: TelemetryBus,
    /// The limiter's time line: nanoseconds since it was built.
    elapsed: Stopwatch,
}

impl Engine {
    pub(crate) fn new(
        name: Arc<str>,
        algorithm: Algorithm,
        params: Params,
        clock: Clock,
        bus: TelemetryBus,
    ) -> Engine {
        Engine {
            name,
            algorithm,
            params,
            counters: Counters::default(),
            bus,
            elapsed: clock.stopwatch(),
        }
    }

    /// Nanoseconds since the limiter was built.
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        self.elapsed.elapsed_nanos()
    }

    /// Decides `n` permits against `state`. `key` is only called on a reported denial.
    #[inline]
    pub(crate) fn check(
        &self,
        state: &State,
        n: u32,
        key: impl FnOnce() -> Option<String>,
    ) -> Result<(), Error> {
        let p = self.params.load();
        let n = u64::from(n);
        if n > p.capacity(self.algorithm) {
            return Err(self.exceeds(n, &p));
        }
        let now = self.now();
        match state.decide(now, n, &p) {
            Decision::Admit => {
                self.counters.admitted(n);
                Ok(())
            }
            Decision::Deny(wait) => Err(self.denied(now, n, wait, &p, key)),
        }
    }

    pub(crate) fn exceeds(&self, n: u64, p: &Snapshot) -> Error {
        Error::new(
            ErrorCode::RATE_LIMIT_EXCEEDS_CAPACITY,
            "more permits asked for than the limiter can ever admit at once",
        )
        .with_context("limiter", &*self.name)
        .with_context("permits", n)
        .with_context("capacity", p.capacity(self.algorithm))
    }

    #[cold]
    pub(crate) fn denied(
        &self,
        now: u64,
        n: u64,
        wait_ns: u64,
        p: &Snapshot,
        key: impl FnOnce() -> Option<String>,
    ) -> Error {
        let retry_after = Duration::from_nanos(wait_ns);
        let key = key();
        if let Some(suppressed) = self.counters.denied(now, p.period_ns) {
            emit_rejected(
                &self.bus,
                &self.name,
                key.clone(),
                u32::try_from(n).unwrap_or(u32::MAX),
                retry_after,
                suppressed,
            );
        }
        let err = Error::new(ErrorCode::RATE_LIMITED, "rate limit exceeded")
            .with_context("limiter", &*self.name)
            .with_retry_after(retry_after);
        match key {
            Some(k) => err.with_context("key", k),
            None => err,
        }
    }
}

/// Validates a builder's parts and returns the quota to run: the exact one given to the
/// builder, or the config's.
pub(crate) fn resolve_quota(
    name: &str,
    config: &LimiterConfig,
    exact: Option<Quota>,
) -> Result<Quota, Error> {
    let mut v = Validator::new("");
    v.non_empty("name", name);
    match exact {
        Some(q) => {
            // The exact quota replaces the config's rate, period and burst.
            let rest = LimiterConfig {
                rate: 1,
                period_ms: 1,
                burst: 1,
                ..config.clone()
            };
            rest.validate_into(&mut v);
            q.validate_into(&mut v);
        }
        None => config.validate_into(&mut v),
    }
    v.finish()?;
    Ok(exact.unwrap_or_else(|| config.quota()))
}
