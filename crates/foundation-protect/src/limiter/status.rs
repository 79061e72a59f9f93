//! [`LimiterStatus`]: what an operator sees of a limiter.

use std::sync::atomic::Ordering;

use serde::Serialize;

use super::config::{Algorithm, Quota};
use super::engine::Engine;

/// A point-in-time snapshot of a limiter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LimiterStatus {
    /// The limiter's name.
    pub name: String,
    /// The algorithm it runs.
    pub algorithm: Algorithm,
    /// Permits per period.
    pub rate: u32,
    /// The period in nanoseconds.
    pub period_ns: u64,
    /// Permits at once.
    pub burst: u32,
    /// Permits a `check_n` could take now (for keyed limiters: a key never seen).
    pub available: u64,
    /// Permits admitted since the limiter was built.
    pub admitted: u64,
    /// Requests denied since the limiter was built.
    pub denied: u64,
    /// Keys holding state (keyed limiters only).
    pub keys: Option<usize>,
}

impl LimiterStatus {
    pub(crate) fn new(engine: &Engine, available: u64, keys: Option<usize>) -> LimiterStatus {
        let q: Quota = engine.params.quota();
        LimiterStatus {
            name: engine.name.to_string(),
            algorithm: engine.algorithm,
            rate: q.rate,
            period_ns: u64::try_from(q.period.as_nanos()).unwrap_or(u64::MAX),
            burst: q.burst,
            available,
            admitted: engine.counters.admitted.load(),
            denied: engine.counters.denied.load(Ordering::Relaxed),
            keys,
        }
    }
}
