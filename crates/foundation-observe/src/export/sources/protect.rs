//! Breakers, limiters, bulkheads, pools and the memory-pressure gate.

use std::sync::Arc;

use foundation_protect::breaker::{BreakerRegistry, BreakerState, BreakerStatus, CircuitBreaker};
use foundation_protect::bulkhead::Bulkhead;
use foundation_protect::limiter::Limiter;
use foundation_protect::pool::{Manager, Pool};
use foundation_protect::protection::{MemoryGate, PressureLevel};

use crate::export::{MetricSource, TextEncoder};

const STATES: [BreakerState; 6] = [
    BreakerState::Closed,
    BreakerState::Open,
    BreakerState::HalfOpen,
    BreakerState::Disabled,
    BreakerState::ForcedOpen,
    BreakerState::MetricsOnly,
];

fn breaker(out: &mut TextEncoder, status: &BreakerStatus) {
    let name = status.name.as_str();
    for state in STATES {
        out.gauge(
            "foundation_breaker_state",
            "1 for the state each circuit breaker is in, 0 for the others.",
            &[("breaker", name), ("state", state.as_str())],
            f64::from(u8::from(status.state == state)),
        );
    }
    let labels = [("breaker", name)];
    out.gauge(
        "foundation_breaker_failure_rate",
        "Failure rate (percent) in each breaker's current window.",
        &labels,
        status.failure_rate,
    );
    out.gauge(
        "foundation_breaker_slow_rate",
        "Slow-call rate (percent) in each breaker's current window.",
        &labels,
        status.slow_rate,
    );
    out.gauge(
        "foundation_breaker_window_calls",
        "Calls in each breaker's current window.",
        &labels,
        f64::from(status.window.calls()),
    );
    out.gauge(
        "foundation_breaker_consecutive_trips",
        "Times each breaker opened again without closing in between.",
        &labels,
        f64::from(status.consecutive_trips),
    );
}

impl MetricSource for CircuitBreaker {
    fn collect(&self, out: &mut TextEncoder) {
        breaker(out, &self.status());
    }
}

impl MetricSource for BreakerRegistry {
    fn collect(&self, out: &mut TextEncoder) {
        for status in self.statuses() {
            breaker(out, &status);
        }
    }
}

impl MetricSource for Limiter {
    fn collect(&self, out: &mut TextEncoder) {
        let s = self.status();
        let labels = [("limiter", s.name.as_str())];
        out.counter(
            "foundation_limiter_admitted_total",
            "Requests each rate limiter admitted.",
            &labels,
            s.admitted as f64,
        );
        out.counter(
            "foundation_limiter_denied_total",
            "Requests each rate limiter denied.",
            &labels,
            s.denied as f64,
        );
        out.gauge(
            "foundation_limiter_available",
            "Permits each rate limiter could admit now.",
            &labels,
            s.available as f64,
        );
    }
}

impl MetricSource for Bulkhead {
    fn collect(&self, out: &mut TextEncoder) {
        let s = self.status();
        let labels = [("bulkhead", s.name.as_str())];
        out.gauge(
            "foundation_bulkhead_in_flight",
            "Calls holding a bulkhead slot.",
            &labels,
            s.in_flight as f64,
        );
        out.gauge(
            "foundation_bulkhead_waiting",
            "Calls waiting for a bulkhead slot.",
            &labels,
            s.waiting as f64,
        );
        out.gauge(
            "foundation_bulkhead_max_concurrent",
            "Each bulkhead's configured concurrency.",
            &labels,
            s.max_concurrent as f64,
        );
        out.counter(
            "foundation_bulkhead_rejected_total",
            "Calls each bulkhead refused (full, or waited too long).",
            &labels,
            s.rejected as f64,
        );
    }
}

impl<M: Manager> MetricSource for Pool<M> {
    fn collect(&self, out: &mut TextEncoder) {
        let s = self.status();
        let name = s.name.as_str();
        for (state, n) in [("idle", s.idle), ("in_use", s.in_use)] {
            out.gauge(
                "foundation_pool_connections",
                "Connections in each pool, by state.",
                &[("pool", name), ("state", state)],
                n as f64,
            );
        }
        let labels = [("pool", name)];
        out.gauge(
            "foundation_pool_max_size",
            "Each pool's configured size.",
            &labels,
            s.max_size as f64,
        );
        out.gauge(
            "foundation_pool_waiters",
            "Callers waiting for a connection.",
            &labels,
            s.waiters as f64,
        );
        out.gauge(
            "foundation_pool_utilization",
            "Connections in use over the pool's size (0–1; above 1 with overflow).",
            &labels,
            if s.max_size == 0 {
                0.0
            } else {
                s.in_use as f64 / s.max_size as f64
            },
        );
        out.counter(
            "foundation_pool_timeouts_total",
            "Checkouts that timed out waiting for a connection.",
            &labels,
            s.timeouts as f64,
        );
        out.counter(
            "foundation_pool_connect_failures_total",
            "Connections each pool failed to open.",
            &labels,
            s.connect_failures as f64,
        );
    }
}

/// Writes `foundation_memory_pressure_level`.
pub(crate) fn pressure_level(out: &mut TextEncoder, level: PressureLevel) {
    out.gauge(
        "foundation_memory_pressure_level",
        "Memory pressure: 0 low, 1 medium, 2 high, 3 critical.",
        &[("level", level.as_str())],
        f64::from(level as u8),
    );
}

/// Exports the memory-pressure level of a [`MemoryGate`] as
/// `foundation_memory_pressure_level` (0 low, 1 medium, 2 high, 3 critical).
pub struct PressureMetrics(pub Arc<dyn MemoryGate>);

impl std::fmt::Debug for PressureMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PressureMetrics")
            .field(&self.0.level())
            .finish()
    }
}

impl MetricSource for PressureMetrics {
    fn collect(&self, out: &mut TextEncoder) {
        let level = self.0.level();
        pressure_level(out, level);
        out.gauge(
            "foundation_memory_refusing",
            "1 while memory pressure is critical and protected calls are refused.",
            &[],
            f64::from(u8::from(level == PressureLevel::Critical)),
        );
    }
}
