//! A generic, fair, breaker-aware connection pool.
//!
//! A [`Pool`] keeps connections made by a [`Manager`] (create, recycle, a quick
//! `is_broken` check) and hands them out as [`Pooled`] guards that return the connection
//! when dropped:
//!
//! - **Sizes**: `max_size` connections kept, up to `max_overflow` more under load (closed
//!   when returned), `min_idle` kept ready; live connections never exceed
//!   `max_size + max_overflow`.
//! - **Fair**: callers that must wait are served first come, first served; a returned
//!   connection goes straight to the longest waiter. A checkout gives up after
//!   `checkout_timeout` with `POOL_TIMEOUT` (context: pool name, waiters, size).
//! - **Order**: LIFO (default, keeps few connections warm) or FIFO.
//! - **Health**: broken connections (on checkout, on return, or found by the background
//!   health check) are closed and replaced by the pool's maintenance task, which also
//!   enforces `idle_timeout`, `max_lifetime` and `min_idle`. The task is owned by the pool
//!   and stops on [`Pool::close`] or when the last handle drops.
//! - **Breaker-aware**: with [`PoolBuilder::breaker`], every create asks the backend's
//!   circuit breaker first and records its outcome; while the breaker refuses, a checkout
//!   that needs a new connection fails at once with `POOL_BACKEND_DOWN` carrying the last
//!   real connection error and the breaker's `retry_after`, instead of timing out.
//! - **Status and events**: [`Pool::status`]; `foundation.pool.exhausted`,
//!   `foundation.pool.connection_failed`, `foundation.pool.connection_replaced` on the bus.
//!
//! # Why not deadpool or bb8
//!
//! This pool is our own, not a wrapper. deadpool 0.13 (managed) has no overflow
//! connections, no `min_idle`, and no background reaping or replacement (idle and lifetime
//! limits are left to the user's `retain` calls); a breaker could sit in a wrapped manager's
//! `create`, but overflow and background replacement could not be added without rebuilding
//! the pool around it. bb8 0.9 has `min_idle` and a reaper but no overflow, and replenishes
//! with detached spawned tasks, which Foundation does not allow. The pool also needs
//! Foundation's clock, telemetry bus and error codes throughout. Its return
//! path is synchronous (no task per return), and its hot path is one uncontended lock
//! around a queue pop/push with no allocation. `benches/pool.rs` measures it against both.
//!
//! ```
//! use foundation_core::Error;
//! use foundation_protect::pool::{Manager, Pool, PoolConfig};
//!
//! struct Numbers;
//! impl Manager for Numbers {
//!     type Connection = u64;
//!     async fn create(&self) -> Result<u64, Error> {
//!         Ok(42)
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Error> {
//! let pool = Pool::builder(Numbers)
//!     .name("numbers")
//!     .config(PoolConfig { max_size: 4, ..PoolConfig::default() })
//!     .build()?;
//! {
//!     let conn = pool.get().await?;
//!     assert_eq!(*conn, 42);
//!     assert_eq!(pool.status().in_use, 1);
//! } // returned here
//! assert_eq!(pool.status().idle, 1);
//! pool.close().await;
//! # Ok(())
//! # }
//! ```

mod builder;
mod config;
mod events;
#[cfg(feature = "http")]
pub mod http;
mod inner;
mod maintenance;
mod manager;
mod pooled;
mod status;

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use foundation_core::{Error, ErrorCode};
use parking_lot::Mutex;
use tokio::task::JoinHandle;

pub use builder::PoolBuilder;
pub use config::{MAX_CONNECTIONS, PoolConfig, QueueOrder, RecyclePolicy};
pub use events::{ConnectionFailed, ConnectionReplaced, PoolExhausted, ReplaceReason};
pub use manager::Manager;
pub use pooled::Pooled;
pub use status::PoolStatus;

use inner::{Grant, Inner, Step};

/// A connection pool. Cheap to clone; clones share the connections.
///
/// Dropping the last handle closes the pool and stops its maintenance task.
pub struct Pool<M: Manager> {
    shared: Arc<Shared<M>>,
}

struct Shared<M: Manager> {
    inner: Arc<Inner<M>>,
    maintenance: Mutex<Option<JoinHandle<()>>>,
}

impl<M: Manager> Drop for Shared<M> {
    fn drop(&mut self) {
        if let Some(task) = self.maintenance.get_mut().take() {
            task.abort();
        }
        self.inner.shutdown();
    }
}

impl<M: Manager> Clone for Pool<M> {
    fn clone(&self) -> Self {
        Pool {
            shared: self.shared.clone(),
        }
    }
}

impl<M: Manager> std::fmt::Debug for Pool<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("name", &self.shared.inner.name)
            .finish_non_exhaustive()
    }
}

impl<M: Manager> Pool<M> {
    /// Starts building a pool of connections made by `manager`.
    pub fn builder(manager: M) -> PoolBuilder<M> {
        PoolBuilder::new(manager)
    }

    fn from_parts(inner: Arc<Inner<M>>, maintenance: Mutex<Option<JoinHandle<()>>>) -> Self {
        Pool {
            shared: Arc::new(Shared { inner, maintenance }),
        }
    }

    /// Checks a connection out, waiting up to `checkout_timeout`.
    ///
    /// Takes an idle connection (checked with `is_broken`, and recycled first if the policy
    /// says so), else creates one if below `max_size + max_overflow`, else waits in line.
    ///
    /// Errors: `POOL_TIMEOUT` (nothing within the timeout, or the waiting line is full),
    /// `POOL_CONNECT_FAILED` (the manager's error is the source), `POOL_BACKEND_DOWN` (the
    /// pool's breaker refused to let it create a connection; at once), `POOL_CLOSED`.
    pub async fn get(&self) -> Result<Pooled<M>, Error> {
        let inner = &self.shared.inner;
        let step = match inner.next_step()? {
            Step::Ready(mut pooled) => {
                if !pooled.conn().dirty && !inner.manager.is_broken(&mut pooled) {
                    return Ok(pooled);
                }
                Step::Ready(pooled)
            }
            step => step,
        };
        let timeout = inner.checkout_timeout();
        // Boxed so the fast path's future stays small; the slow path allocates once.
        match tokio::time::timeout(timeout, Box::pin(inner.drive(step))).await {
            Ok(result) => result,
            Err(_) => Err(inner.timed_out(timeout)),
        }
    }

    /// Checks out an idle connection now, without waiting or creating one.
    ///
    /// It never runs the asynchronous recycle: connections due for one are skipped (with
    /// [`RecyclePolicy::OnCheckout`] this always refuses). Refuses with `POOL_TIMEOUT` when no
    /// idle connection is ready, `POOL_CLOSED` after close.
    pub fn try_get(&self) -> Result<Pooled<M>, Error> {
        let inner = &self.shared.inner;
        inner.take_ready()?.ok_or_else(|| {
            Error::new(
                ErrorCode::POOL_TIMEOUT,
                format!("no idle connection ready in pool \"{}\"", inner.name),
            )
            .with_context("pool", &inner.name)
            .with_context("waited_ms", 0)
        })
    }

    /// A snapshot of sizes and counters.
    pub fn status(&self) -> PoolStatus {
        let inner = &self.shared.inner;
        let (size, idle, waiters, max_size, max_overflow, is_closed) = {
            let s = inner.state.lock();
            (
                s.live,
                s.idle.len(),
                s.waiters.len(),
                s.config.max_size,
                s.config.max_overflow,
                s.closed,
            )
        };
        let c = &inner.counters;
        PoolStatus {
            name: inner.name.clone(),
            size,
            idle,
            in_use: size - idle,
            waiters,
            overflow: size.saturating_sub(max_size),
            max_size,
            max_overflow,
            created: c.created.load(Relaxed),
            closed: c.closed.load(Relaxed),
            replaced: c.replaced.load(Relaxed),
            connect_failures: c.connect_failures.load(Relaxed),
            timeouts: c.timeouts.load(Relaxed),
            backend_down: c.backend_down.load(Relaxed),
            is_closed,
            maintenance_running: self
                .shared
                .maintenance
                .lock()
                .as_ref()
                .is_some_and(|task| !task.is_finished()),
        }
    }

    /// Creates connections until `min_idle` are idle (or `max_size` are live), returning the
    /// first creation error. The maintenance task does the same in the background.
    pub async fn fill(&self) -> Result<(), Error> {
        self.shared.inner.refill().await
    }

    /// Closes the pool: stops the maintenance task (and waits for it), closes idle
    /// connections, refuses waiters and later checkouts with `POOL_CLOSED`. Connections in
    /// use are closed when they are returned.
    pub async fn close(&self) {
        self.shared.inner.shutdown();
        let task = self.shared.maintenance.lock().take();
        if let Some(task) = task {
            task.abort();
            // The task was aborted; its (cancelled) result says nothing more.
            let _ = task.await;
        }
    }

    /// Applies a new configuration at run time, keeping the connections.
    ///
    /// More room is given at once to waiting callers; with less, surplus idle connections
    /// are closed now and surplus ones in use when they are returned.
    pub fn reconfigure(&self, config: PoolConfig) -> Result<(), Error> {
        config.validate()?;
        let inner = &self.shared.inner;
        let (grants, surplus) = {
            let mut s = inner.state.lock();
            s.config = config;
            let mut grants = Vec::new();
            while s.live < s.config.max_connections() {
                match s.waiters.pop_front() {
                    Some(tx) => {
                        s.live += 1;
                        grants.push(tx);
                    }
                    None => break,
                }
            }
            let mut surplus = Vec::new();
            while s.live > s.config.max_size {
                match s.idle.pop_front() {
                    Some(conn) => {
                        s.live -= 1;
                        surplus.push(conn);
                    }
                    None => break,
                }
            }
            (grants, surplus)
        };
        for tx in grants {
            if tx.send(Grant::Create).is_err() {
                inner.release_slot(None);
            }
        }
        for conn in surplus {
            inner.close_conn(conn);
        }
        inner.wake.notify_one();
        Ok(())
    }

    /// Changes `max_size` (see [`reconfigure`](Pool::reconfigure)).
    pub fn resize(&self, max_size: usize) -> Result<(), Error> {
        self.reconfigure(PoolConfig {
            max_size,
            ..self.config()
        })
    }

    /// The current configuration.
    pub fn config(&self) -> PoolConfig {
        self.shared.inner.state.lock().config.clone()
    }

    /// The circuit breaker guarding the pool's creates, if any.
    pub fn breaker(&self) -> Option<&crate::breaker::CircuitBreaker> {
        self.shared.inner.breaker.as_ref()
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.shared.inner.name
    }

    /// The manager.
    pub fn manager(&self) -> &M {
        &self.shared.inner.manager
    }
}
