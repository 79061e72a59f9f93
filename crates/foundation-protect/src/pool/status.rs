//! [`PoolStatus`]: a point-in-time snapshot of a pool.

use serde::Serialize;

/// A snapshot of a pool, from [`Pool::status`](super::Pool::status).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PoolStatus {
    /// The pool's name.
    pub name: String,
    /// Live connections: idle + in use (including ones being created or health-checked).
    pub size: usize,
    /// Idle connections ready for checkout.
    pub idle: usize,
    /// Connections checked out, being created, or being health-checked.
    pub in_use: usize,
    /// Callers waiting for a connection.
    pub waiters: usize,
    /// Live connections beyond `max_size` (closed when returned).
    pub overflow: usize,
    /// The configured `max_size`.
    pub max_size: usize,
    /// The configured `max_overflow`.
    pub max_overflow: usize,
    /// Connections created since the pool was built.
    pub created: u64,
    /// Connections the pool closed (broken, expired, idle, overflow, shutdown).
    pub closed: u64,
    /// Broken or expired connections replaced by new ones.
    pub replaced: u64,
    /// Failed attempts to create a connection.
    pub connect_failures: u64,
    /// Creates refused by the backend's breaker (checkouts failed with `POOL_BACKEND_DOWN`,
    /// plus refused background refills).
    pub backend_down: u64,
    /// Checkouts that timed out.
    pub timeouts: u64,
    /// Whether [`Pool::close`](super::Pool::close) was called (or every handle dropped).
    pub is_closed: bool,
    /// Whether the background maintenance task is running.
    pub maintenance_running: bool,
}
