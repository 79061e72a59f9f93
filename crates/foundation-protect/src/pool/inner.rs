//! The pool's shared state and the checkout / return algorithm.
//!
//! One short `parking_lot` lock guards the idle queue, the live count and the waiting line;
//! it is never held across an `.await` or while running manager code or dropping a
//! connection. A returned connection goes straight to the longest waiter (first come, first
//! served), else back to the idle queue, else (overflow) it is closed.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use foundation_core::{Clock, Error, ErrorCode, TelemetryBus};
use parking_lot::Mutex;
use tokio::sync::{Notify, oneshot};

use super::config::{PoolConfig, QueueOrder, RecyclePolicy};
use super::events::{ConnectionFailed, ConnectionReplaced, PoolExhausted, ReplaceReason};
use super::manager::Manager;
use super::pooled::Pooled;
use crate::breaker::{CircuitBreaker, Permit};
use crate::outcome::Outcome;

/// A connection and its bookkeeping.
pub(crate) struct Conn<C> {
    pub(crate) raw: C,
    pub(crate) created: Instant,
    pub(crate) idle_since: Instant,
    pub(crate) checked: Instant,
    /// Must be recycled before its next use.
    pub(crate) dirty: bool,
}

impl<C> Conn<C> {
    pub(crate) fn new(raw: C, now: Instant) -> Conn<C> {
        Conn {
            raw,
            created: now,
            idle_since: now,
            checked: now,
            dirty: false,
        }
    }
}

/// What a waiter is handed: a connection, or the right to create one (a reserved slot).
pub(crate) enum Grant<C> {
    Conn(Conn<C>),
    Create,
}

impl<C> Grant<C> {
    fn into_conn(self) -> Option<Conn<C>> {
        match self {
            Grant::Conn(c) => Some(c),
            Grant::Create => None,
        }
    }
}

pub(crate) struct State<C> {
    pub(crate) idle: VecDeque<Conn<C>>,
    /// Live connections: idle, checked out, being created or being checked.
    pub(crate) live: usize,
    pub(crate) waiters: VecDeque<oneshot::Sender<Grant<C>>>,
    pub(crate) config: PoolConfig,
    pub(crate) closed: bool,
    /// Discarded connections the maintenance task should replace.
    pub(crate) to_replace: Vec<ReplaceReason>,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) created: AtomicU64,
    pub(crate) closed: AtomicU64,
    pub(crate) replaced: AtomicU64,
    pub(crate) connect_failures: AtomicU64,
    pub(crate) timeouts: AtomicU64,
    pub(crate) backend_down: AtomicU64,
}

pub(crate) struct Inner<M: Manager> {
    pub(crate) manager: M,
    pub(crate) name: String,
    pub(crate) clock: Clock,
    pub(crate) bus: TelemetryBus,
    pub(crate) state: Mutex<State<M::Connection>>,
    pub(crate) counters: Counters,
    /// Wakes the maintenance task early (a connection was discarded, the config changed).
    pub(crate) wake: Notify,
    /// The last real connection error, rendered (for `POOL_BACKEND_DOWN`).
    pub(crate) last_error: Mutex<Option<String>>,
    /// Asked before every create; told every create's outcome.
    pub(crate) breaker: Option<CircuitBreaker>,
}

/// The next thing a checkout does.
pub(crate) enum Step<'a, M: Manager> {
    /// Use (after checking) this connection.
    Ready(Pooled<M>),
    /// Create a connection in this reserved slot, replacing one discarded for `reason`.
    Create(Slot<'a, M>, Option<ReplaceReason>),
    /// Wait in line.
    Wait(Waiting<'a, M>),
}

/// One reserved unit of `live`. Dropped unfilled (error, cancellation), it frees the slot.
pub(crate) struct Slot<'a, M: Manager> {
    inner: &'a Arc<Inner<M>>,
    armed: bool,
}

impl<'a, M: Manager> Slot<'a, M> {
    pub(crate) fn new(inner: &'a Arc<Inner<M>>) -> Self {
        Slot { inner, armed: true }
    }

    /// Puts a new connection in the slot.
    pub(crate) fn fill(mut self, raw: M::Connection) -> Conn<M::Connection> {
        self.armed = false;
        Conn::new(raw, self.inner.clock.now())
    }
}

impl<M: Manager> Drop for Slot<'_, M> {
    fn drop(&mut self) {
        if self.armed {
            self.inner.release_slot(None);
        }
    }
}

/// A place in the waiting line. Dropped before being served (timeout, cancellation), it
/// hands back anything granted meanwhile and leaves the line.
pub(crate) struct Waiting<'a, M: Manager> {
    inner: &'a Arc<Inner<M>>,
    rx: oneshot::Receiver<Grant<M::Connection>>,
    done: bool,
}

impl<'a, M: Manager> Waiting<'a, M> {
    pub(crate) async fn recv(mut self) -> Result<Step<'a, M>, Error> {
        let got = (&mut self.rx).await;
        self.done = true;
        let inner = self.inner;
        match got {
            Ok(Grant::Conn(c)) => Ok(Step::Ready(Pooled::new(inner.clone(), c))),
            Ok(Grant::Create) => Ok(Step::Create(Slot::new(inner), None)),
            Err(_) => Err(inner.closed_error()),
        }
    }
}

impl<M: Manager> Drop for Waiting<'_, M> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        self.rx.close();
        match self.rx.try_recv() {
            Ok(Grant::Conn(c)) => self.inner.settle(c, self.inner.clock.now(), false),
            Ok(Grant::Create) => self.inner.release_slot(None),
            Err(_) => {}
        }
        self.inner.state.lock().waiters.retain(|tx| !tx.is_closed());
    }
}

/// A create's breaker permit while the create is under way; see [`Inner::abandoned`].
struct Unanswered<'a, M: Manager> {
    inner: &'a Inner<M>,
    permit: Option<Permit>,
}

impl<M: Manager> Drop for Unanswered<'_, M> {
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            self.inner.abandoned(permit);
        }
    }
}

fn expired<C>(conn: &Conn<C>, now: Instant, config: &PoolConfig) -> bool {
    config
        .max_lifetime
        .is_some_and(|max| now.saturating_duration_since(conn.created) >= max)
}

enum Settle<C> {
    Close,
    Expire,
    Hand(oneshot::Sender<Grant<C>>),
}

impl<M: Manager> Inner<M> {
    pub(crate) fn new(
        manager: M,
        name: String,
        config: PoolConfig,
        clock: Clock,
        bus: TelemetryBus,
        breaker: Option<CircuitBreaker>,
    ) -> Self {
        let idle = VecDeque::with_capacity(config.max_size.min(1024));
        Inner {
            manager,
            name,
            clock,
            bus,
            state: Mutex::new(State {
                idle,
                live: 0,
                waiters: VecDeque::new(),
                config,
                closed: false,
                to_replace: Vec::new(),
            }),
            counters: Counters::default(),
            wake: Notify::new(),
            last_error: Mutex::new(None),
            breaker,
        }
    }

    /// Decides the first step of a checkout: an idle connection, a slot to create one in,
    /// or a place in line.
    pub(crate) fn next_step(self: &Arc<Self>) -> Result<Step<'_, M>, Error> {
        let mut s = self.state.lock();
        if s.closed {
            drop(s);
            return Err(self.closed_error());
        }
        let popped = match s.config.order {
            QueueOrder::Lifo => s.idle.pop_back(),
            QueueOrder::Fifo => s.idle.pop_front(),
        };
        if let Some(mut conn) = popped {
            // No clock read here: `max_lifetime` is enforced on return and by maintenance.
            if s.config.recycle == RecyclePolicy::OnCheckout {
                conn.dirty = true;
            }
            drop(s);
            return Ok(Step::Ready(Pooled::new(self.clone(), conn)));
        }
        if s.waiters.is_empty() && s.live < s.config.max_connections() {
            s.live += 1;
            drop(s);
            return Ok(Step::Create(Slot::new(self), None));
        }
        if s.waiters.len() >= s.config.max_waiters {
            let waiters = s.waiters.len();
            drop(s);
            return Err(Error::new(
                ErrorCode::POOL_TIMEOUT,
                format!(
                    "pool \"{}\" is exhausted and its waiting line is full",
                    self.name
                ),
            )
            .with_context("pool", &self.name)
            .with_context("waiters", waiters));
        }
        let (tx, rx) = oneshot::channel();
        s.waiters.push_back(tx);
        drop(s);
        Ok(Step::Wait(Waiting {
            inner: self,
            rx,
            done: false,
        }))
    }

    /// Takes an idle connection that needs no asynchronous work, without waiting.
    pub(crate) fn take_ready(self: &Arc<Self>) -> Result<Option<Pooled<M>>, Error> {
        loop {
            let conn = {
                let mut s = self.state.lock();
                if s.closed {
                    drop(s);
                    return Err(self.closed_error());
                }
                if s.config.recycle == RecyclePolicy::OnCheckout {
                    return Ok(None);
                }
                let now = self.clock.now();
                let usable = |c: &Conn<M::Connection>| !c.dirty && !expired(c, now, &s.config);
                let at = match s.config.order {
                    QueueOrder::Lifo => s.idle.iter().rposition(usable),
                    QueueOrder::Fifo => s.idle.iter().position(usable),
                };
                match at.and_then(|i| s.idle.remove(i)) {
                    Some(c) => c,
                    None => return Ok(None),
                }
            };
            let mut pooled = Pooled::new(self.clone(), conn);
            if !self.manager.is_broken(&mut pooled.conn_mut().raw) {
                return Ok(Some(pooled));
            }
            pooled.discard_for(ReplaceReason::Broken);
        }
    }

    /// Runs a checkout from `step` to a ready connection (bounded by the caller's timeout).
    pub(crate) async fn drive(self: &Arc<Self>, mut step: Step<'_, M>) -> Result<Pooled<M>, Error> {
        loop {
            step = match step {
                Step::Ready(mut pooled) => match self.prepare(&mut pooled).await {
                    None => return Ok(pooled),
                    Some(reason) => Step::Create(pooled.into_slot(self), Some(reason)),
                },
                Step::Create(slot, reason) => {
                    let raw = self.connect().await?;
                    let conn = slot.fill(raw);
                    if let Some(reason) = reason {
                        self.note_replaced(reason);
                    }
                    return Ok(Pooled::new(self.clone(), conn));
                }
                Step::Wait(waiting) => waiting.recv().await?,
            }
        }
    }

    /// Checks a connection about to be handed out; `Some` says why it must be replaced.
    pub(crate) async fn prepare(&self, pooled: &mut Pooled<M>) -> Option<ReplaceReason> {
        if self.manager.is_broken(&mut pooled.conn_mut().raw) {
            return Some(ReplaceReason::Broken);
        }
        if pooled.conn().dirty {
            if let Err(e) = self.manager.recycle(&mut pooled.conn_mut().raw).await {
                tracing::debug!(pool = %self.name, error = %e, "foundation.pool.recycle_failed");
                return Some(ReplaceReason::RecycleFailed);
            }
            let conn = pooled.conn_mut();
            conn.dirty = false;
            conn.checked = self.clock.now();
        }
        None
    }

    /// Creates a connection through the manager, counting and reporting failures. With a
    /// breaker, asks it first (a refusal is `POOL_BACKEND_DOWN`, at once) and records the
    /// outcome of the create.
    pub(crate) async fn connect(&self) -> Result<M::Connection, Error> {
        let mut permit = Unanswered {
            inner: self,
            permit: match &self.breaker {
                Some(breaker) => Some(breaker.try_acquire().map_err(|r| self.backend_down(r))?),
                None => None,
            },
        };
        let created = self.manager.create().await;
        let permit = permit.permit.take();
        match created {
            Ok(conn) => {
                if let Some(permit) = permit {
                    permit.record(Outcome::Success);
                }
                self.counters.created.fetch_add(1, Relaxed);
                Ok(conn)
            }
            Err(e) => {
                if let Some(permit) = permit {
                    permit.record_error(&e);
                }
                self.counters.connect_failures.fetch_add(1, Relaxed);
                let rendered = e.to_string();
                tracing::warn!(pool = %self.name, error = %rendered, "foundation.pool.connection_failed");
                *self.last_error.lock() = Some(rendered.clone());
                self.bus.emit(ConnectionFailed {
                    pool: self.name.clone(),
                    error: rendered,
                });
                Err(Error::new(
                    ErrorCode::POOL_CONNECT_FAILED,
                    format!("pool \"{}\" could not connect: {}", self.name, e.message()),
                )
                .with_context("pool", &self.name)
                .with_source(e))
            }
        }
    }

    /// A create abandoned before it answered (checkout timeout, cancelled caller): a
    /// backend that hangs is failing too, so the breaker counts it as a timeout.
    fn abandoned(&self, permit: Permit) {
        permit.record(Outcome::Timeout);
        self.counters.connect_failures.fetch_add(1, Relaxed);
        *self.last_error.lock() = Some("a connection attempt did not answer in time".into());
    }

    /// The fail-fast error when the backend's breaker refuses a create: the last real
    /// connection error in the message and context, the breaker's `retry_after`, the
    /// breaker's refusal as the source.
    fn backend_down(&self, refusal: Error) -> Error {
        self.counters.backend_down.fetch_add(1, Relaxed);
        let last = self.last_error.lock().clone();
        let last = last.as_deref().unwrap_or("none recorded by this pool");
        let mut err = Error::new(
            ErrorCode::POOL_BACKEND_DOWN,
            format!(
                "pool \"{}\" backend is down (breaker refused: {}); last connection error: {last}",
                self.name,
                refusal.code().name()
            ),
        )
        .with_context("pool", &self.name)
        .with_context("last_error", last);
        if let Some(breaker) = refusal.context_value("breaker") {
            err = err.with_context("breaker", breaker);
        }
        if let Some(after) = refusal.retry_after() {
            err = err.with_retry_after(after);
        }
        err.with_source(refusal)
    }

    /// A connection comes back from use.
    pub(crate) fn put_back(&self, mut conn: Conn<M::Connection>) {
        if self.manager.is_broken(&mut conn.raw) {
            self.close_conn(conn);
            self.release_slot(Some(ReplaceReason::Broken));
            return;
        }
        let now = self.clock.now();
        conn.idle_since = now;
        self.settle(conn, now, true);
    }

    /// Finds a home for a live connection: the first waiter, the idle queue, or (closed,
    /// expired, overflow) nowhere.
    pub(crate) fn settle(&self, mut conn: Conn<M::Connection>, now: Instant, used: bool) {
        loop {
            let action = {
                let mut s = self.state.lock();
                if s.closed {
                    s.live -= 1;
                    Settle::Close
                } else if expired(&conn, now, &s.config) {
                    Settle::Expire
                } else {
                    if used && s.config.recycle == RecyclePolicy::OnReturn {
                        conn.dirty = true;
                    }
                    if let Some(tx) = s.waiters.pop_front() {
                        Settle::Hand(tx)
                    } else if s.live > s.config.max_size {
                        s.live -= 1;
                        Settle::Close
                    } else {
                        s.idle.push_back(conn);
                        return;
                    }
                }
            };
            match action {
                Settle::Close => return self.close_conn(conn),
                Settle::Expire => {
                    self.close_conn(conn);
                    return self.release_slot(Some(ReplaceReason::Expired));
                }
                Settle::Hand(tx) => {
                    match tx.send(Grant::Conn(conn)).err().and_then(Grant::into_conn) {
                        Some(back) => conn = back,
                        None => return,
                    }
                }
            }
        }
    }

    /// A live connection is gone: give its slot to the first waiter, or shrink (and, for a
    /// discarded connection, ask the maintenance task for a replacement).
    pub(crate) fn release_slot(&self, replace: Option<ReplaceReason>) {
        loop {
            let tx = {
                let mut s = self.state.lock();
                let waiter = if !s.closed && s.live <= s.config.max_connections() {
                    s.waiters.pop_front()
                } else {
                    None
                };
                match waiter {
                    Some(tx) => tx,
                    None => {
                        s.live -= 1;
                        let wake = match replace {
                            Some(reason) if !s.closed && s.to_replace.len() < s.config.max_size => {
                                s.to_replace.push(reason);
                                true
                            }
                            _ => false,
                        };
                        drop(s);
                        if wake {
                            self.wake.notify_one();
                        }
                        return;
                    }
                }
            };
            if tx.send(Grant::Create).is_ok() {
                return;
            }
        }
    }

    /// Drops a connection the pool no longer keeps (its slot is handled by the caller).
    pub(crate) fn close_conn(&self, conn: Conn<M::Connection>) {
        drop(conn);
        self.counters.closed.fetch_add(1, Relaxed);
    }

    pub(crate) fn note_replaced(&self, reason: ReplaceReason) {
        self.counters.replaced.fetch_add(1, Relaxed);
        tracing::info!(pool = %self.name, ?reason, "foundation.pool.connection_replaced");
        self.bus.emit(ConnectionReplaced {
            pool: self.name.clone(),
            reason,
        });
    }

    pub(crate) fn checkout_timeout(&self) -> Duration {
        self.state.lock().config.checkout_timeout
    }

    /// The error (and event) for a checkout that waited `waited` in vain.
    pub(crate) fn timed_out(&self, waited: Duration) -> Error {
        let (waiters, size, max_connections) = {
            let s = self.state.lock();
            (s.waiters.len(), s.live, s.config.max_connections())
        };
        self.counters.timeouts.fetch_add(1, Relaxed);
        tracing::warn!(pool = %self.name, ?waited, waiters, size, "foundation.pool.exhausted");
        self.bus.emit(PoolExhausted {
            pool: self.name.clone(),
            waited,
            waiters,
            size,
            max_connections,
        });
        Error::new(
            ErrorCode::POOL_TIMEOUT,
            format!(
                "no connection from pool \"{}\" within {waited:?}",
                self.name
            ),
        )
        .with_context("pool", &self.name)
        .with_context("waiters", waiters)
        .with_context("size", size)
        .with_context("max_connections", max_connections)
    }

    pub(crate) fn closed_error(&self) -> Error {
        Error::new(
            ErrorCode::POOL_CLOSED,
            format!("pool \"{}\" is closed", self.name),
        )
        .with_context("pool", &self.name)
    }

    /// Closes the pool: idle connections are closed now, waiters are refused, connections
    /// in use are closed when returned.
    pub(crate) fn shutdown(&self) {
        let (idle, waiters) = {
            let mut s = self.state.lock();
            s.closed = true;
            let idle = std::mem::take(&mut s.idle);
            s.live -= idle.len();
            s.to_replace.clear();
            (idle, std::mem::take(&mut s.waiters))
        };
        drop(waiters);
        for conn in idle {
            self.close_conn(conn);
        }
    }
}
