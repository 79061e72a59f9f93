//! Telemetry events a pool publishes on its [`TelemetryBus`](foundation_core::TelemetryBus).

use std::time::Duration;

use foundation_core::Event;

/// `foundation.pool.exhausted`: a checkout timed out waiting for a connection.
#[derive(Debug, Clone)]
pub struct PoolExhausted {
    /// The pool's name.
    pub pool: String,
    /// How long the checkout waited.
    pub waited: Duration,
    /// Callers still waiting after this one gave up.
    pub waiters: usize,
    /// Live connections when it gave up.
    pub size: usize,
    /// The pool's `max_size + max_overflow`.
    pub max_connections: usize,
}

impl Event for PoolExhausted {
    fn name(&self) -> &'static str {
        "foundation.pool.exhausted"
    }
    fn source(&self) -> &str {
        &self.pool
    }
}

/// `foundation.pool.connection_failed`: the manager failed to create a connection.
#[derive(Debug, Clone)]
pub struct ConnectionFailed {
    /// The pool's name.
    pub pool: String,
    /// The manager's error, rendered.
    pub error: String,
}

impl Event for ConnectionFailed {
    fn name(&self) -> &'static str {
        "foundation.pool.connection_failed"
    }
    fn source(&self) -> &str {
        &self.pool
    }
}

/// Why a connection was replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplaceReason {
    /// The manager's `is_broken` said so, or the user discarded it.
    Broken,
    /// The manager's `recycle` failed.
    RecycleFailed,
    /// It outlived `max_lifetime`.
    Expired,
}

/// `foundation.pool.connection_replaced`: a discarded connection was replaced by a new one.
#[derive(Debug, Clone)]
pub struct ConnectionReplaced {
    /// The pool's name.
    pub pool: String,
    /// Why the old connection went.
    pub reason: ReplaceReason,
}

impl Event for ConnectionReplaced {
    fn name(&self) -> &'static str {
        "foundation.pool.connection_replaced"
    }
    fn source(&self) -> &str {
        &self.pool
    }
}
