//! Bulkhead: at most `max_concurrent` calls in flight, and a bounded, fair waiting line.
//!
//! - A call takes a slot at once if one is free; otherwise it joins a FIFO waiting line of at
//!   most `max_waiting` calls. A call arriving when the line is full is refused at once with
//!   `BULKHEAD_FULL`; a call that waits longer than `max_wait` gets `BULKHEAD_WAIT_TIMEOUT`.
//! - Slots are handed out in arrival order: a freed slot goes to the longest waiter, never
//!   to a newcomer.
//! - Cancellation-safe: a waiter that is dropped leaves the line, and a slot handed to it in
//!   the meantime goes to the next; a [`BulkheadPermit`] frees its slot when dropped.
//! - [`set_limits`](Bulkhead::set_limits) changes the limits at run time: a smaller
//!   `max_concurrent` takes effect as calls in flight finish.
//! - Events: [`BulkheadRejected`] on every refusal, [`BulkheadLimitsChanged`].
//! - [`BulkheadLayer`] is the tower layer.
//!
//! Waits use tokio's timer, so tests run on paused time.
//!
//! ```
//! use foundation_core::{Error, ErrorCode};
//! use foundation_protect::bulkhead::{Bulkhead, BulkheadConfig};
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Error> {
//! let bulkhead = Bulkhead::new(BulkheadConfig {
//!     max_concurrent: 1,
//!     max_waiting: 0,
//!     max_wait: Duration::from_millis(100),
//! })?;
//! let permit = bulkhead.acquire().await?;
//! assert!(bulkhead.try_acquire().unwrap_err().is(ErrorCode::BULKHEAD_FULL));
//! drop(permit);
//! let answer = bulkhead.run(async { Ok::<_, Error>(42) }).await?;
//! assert_eq!(answer, 42);
//! assert_eq!(bulkhead.status().rejected, 1);
//! # Ok(()) }
//! ```

mod config;
mod events;
mod layer;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use foundation_core::{Error, ErrorCode, TelemetryBus, Validate};
use parking_lot::Mutex;
use tokio::sync::Semaphore;

pub use config::{BulkheadConfig, MAX_CONCURRENT};
pub use events::{BulkheadLimitsChanged, BulkheadRejected, RejectReason};
pub use layer::{BulkheadLayer, BulkheadService, ResponseFuture};

struct Inner {
    name: Arc<str>,
    semaphore: Semaphore,
    /// The configured `max_concurrent`.
    capacity: AtomicUsize,
    /// Permits in flight to forget on release, after `max_concurrent` was lowered.
    debt: AtomicUsize,
    max_waiting: AtomicUsize,
    max_wait_nanos: AtomicU64,
    waiting: AtomicUsize,
    rejected_full: AtomicU64,
    rejected_timeout: AtomicU64,
    limits: Mutex<()>,
    bus: TelemetryBus,
}

impl Inner {
    fn in_flight(&self) -> usize {
        (self.capacity.load(Ordering::Acquire) + self.debt.load(Ordering::Acquire))
            .saturating_sub(self.semaphore.available_permits())
    }

    #[inline]
    fn release(&self) {
        let mut debt = self.debt.load(Ordering::Acquire);
        while debt > 0 {
            match self.debt.compare_exchange_weak(
                debt,
                debt - 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(current) => debt = current,
            }
        }
        self.semaphore.add_permits(1);
    }

    fn reject(&self, reason: RejectReason) -> Error {
        let in_flight = self.in_flight();
        let waiting = self.waiting.load(Ordering::Acquire);
        let error = match reason {
            RejectReason::Full => {
                self.rejected_full.fetch_add(1, Ordering::Relaxed);
                Error::new(
                    ErrorCode::BULKHEAD_FULL,
                    format!("bulkhead is full: {in_flight} in flight, {waiting} waiting"),
                )
                .with_context("max_concurrent", self.capacity.load(Ordering::Relaxed))
                .with_context("max_waiting", self.max_waiting.load(Ordering::Relaxed))
            }
            RejectReason::WaitTimeout => {
                self.rejected_timeout.fetch_add(1, Ordering::Relaxed);
                let waited = Duration::from_nanos(self.max_wait_nanos.load(Ordering::Relaxed));
                Error::new(
                    ErrorCode::BULKHEAD_WAIT_TIMEOUT,
                    format!("no slot free after waiting {} ms", waited.as_millis()),
                )
                .with_context("max_wait_ms", waited.as_millis())
            }
        };
        tracing::debug!(
            bulkhead = &*self.name,
            reason = ?reason,
            in_flight,
            waiting,
            "foundation.bulkhead.rejected"
        );
        self.bus.emit(BulkheadRejected {
            bulkhead: self.name.clone(),
            reason,
            in_flight,
            waiting,
        });
        error.with_context("bulkhead", &self.name)
    }
}

/// A place in the waiting line; leaving it (by any path, cancellation included) frees it.
struct InLine<'a>(&'a AtomicUsize);

impl<'a> InLine<'a> {
    fn join(inner: &'a Inner) -> Option<InLine<'a>> {
        let max = inner.max_waiting.load(Ordering::Acquire);
        inner
            .waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| InLine(&inner.waiting))
    }
}

impl Drop for InLine<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A slot in a [`Bulkhead`]; dropping it frees the slot.
pub struct BulkheadPermit {
    inner: Arc<Inner>,
}

impl fmt::Debug for BulkheadPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BulkheadPermit")
            .field("bulkhead", &self.inner.name)
            .finish()
    }
}

impl Drop for BulkheadPermit {
    #[inline]
    fn drop(&mut self) {
        self.inner.release();
    }
}

/// A snapshot of a bulkhead's state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BulkheadStatus {
    /// The bulkhead's name.
    pub name: String,
    /// Calls holding a slot (may briefly exceed `max_concurrent` after it was lowered).
    pub in_flight: usize,
    /// Calls in the waiting line.
    pub waiting: usize,
    /// The configured `max_concurrent`.
    pub max_concurrent: usize,
    /// The configured `max_waiting`.
    pub max_waiting: usize,
    /// Calls refused since creation, for either reason.
    pub rejected: u64,
    /// Of which refused because they waited `max_wait`.
    pub timed_out: u64,
}

/// A bulkhead. Cheap to clone; clones share the slots.
#[derive(Clone)]
pub struct Bulkhead {
    inner: Arc<Inner>,
}

impl fmt::Debug for Bulkhead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Bulkhead").field(&self.status()).finish()
    }
}

impl Bulkhead {
    /// A bulkhead named `"bulkhead"` on the global telemetry bus. Fails if the config is
    /// invalid.
    pub fn new(config: BulkheadConfig) -> Result<Bulkhead, Error> {
        Bulkhead::builder().config(config).build()
    }

    /// A builder, starting from [`BulkheadConfig::default`].
    pub fn builder() -> BulkheadBuilder {
        BulkheadBuilder::default()
    }

    /// The bulkhead's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    #[inline]
    fn permit(&self) -> BulkheadPermit {
        BulkheadPermit {
            inner: self.inner.clone(),
        }
    }

    /// Takes a slot if one is free now, else refuses with `BULKHEAD_FULL` (never waits).
    #[inline]
    pub fn try_acquire(&self) -> Result<BulkheadPermit, Error> {
        match self.inner.semaphore.try_acquire() {
            Ok(p) => {
                p.forget();
                Ok(self.permit())
            }
            Err(_) => Err(self.inner.reject(RejectReason::Full)),
        }
    }

    /// Takes a slot, waiting in line for up to `max_wait` if none is free.
    ///
    /// Errors: `BULKHEAD_FULL` at once if the line is full, `BULKHEAD_WAIT_TIMEOUT` after
    /// `max_wait`. Cancellation-safe.
    #[inline]
    pub async fn acquire(&self) -> Result<BulkheadPermit, Error> {
        if let Ok(p) = self.inner.semaphore.try_acquire() {
            p.forget();
            return Ok(self.permit());
        }
        self.wait_in_line().await
    }

    async fn wait_in_line(&self) -> Result<BulkheadPermit, Error> {
        let inner = &*self.inner;
        let Some(_place) = InLine::join(inner) else {
            return Err(inner.reject(RejectReason::Full));
        };
        let max_wait = Duration::from_nanos(inner.max_wait_nanos.load(Ordering::Acquire));
        match tokio::time::timeout(max_wait, inner.semaphore.acquire()).await {
            Ok(Ok(p)) => {
                p.forget();
                Ok(self.permit())
            }
            // The semaphore is never closed; report it as a shutdown rather than panic.
            Ok(Err(_)) => Err(Error::new(ErrorCode::SHUTDOWN, "bulkhead closed")),
            Err(_) => Err(inner.reject(RejectReason::WaitTimeout)),
        }
    }

    /// Runs `fut` holding a slot (see [`acquire`](Bulkhead::acquire) for the errors).
    pub async fn run<T, Fut>(&self, fut: Fut) -> Result<T, Error>
    where
        Fut: Future<Output = Result<T, Error>>,
    {
        let _permit = self.acquire().await?;
        fut.await
    }

    /// Changes the limits at run time.
    ///
    /// A larger `max_concurrent` frees slots at once (to the waiters first); a smaller one
    /// takes effect as calls in flight finish. `max_waiting` applies to calls joining the
    /// line from now on, `max_wait` to calls starting to wait from now on.
    pub fn set_limits(&self, config: BulkheadConfig) -> Result<(), Error> {
        config.validate_at("bulkhead")?;
        let inner = &*self.inner;
        let _guard = inner.limits.lock();
        let old = inner.capacity.load(Ordering::Acquire);
        let new = config.max_concurrent;
        if new > old {
            let mut add = new - old;
            let _ = inner
                .debt
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |debt| {
                    let pay = debt.min(new - old);
                    add = new - old - pay;
                    Some(debt - pay)
                });
            if add > 0 {
                inner.semaphore.add_permits(add);
            }
        } else if new < old {
            let remove = old - new;
            let forgotten = inner.semaphore.forget_permits(remove);
            inner.debt.fetch_add(remove - forgotten, Ordering::AcqRel);
            // A slot freed while the debt was being recorded went back to the semaphore:
            // take it back now rather than when the next call finishes.
            while inner.debt.load(Ordering::Acquire) > 0 && inner.semaphore.forget_permits(1) == 1 {
                let paid = inner
                    .debt
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| d.checked_sub(1));
                if paid.is_err() {
                    inner.semaphore.add_permits(1);
                    break;
                }
            }
        }
        inner.capacity.store(new, Ordering::Release);
        inner
            .max_waiting
            .store(config.max_waiting, Ordering::Release);
        inner
            .max_wait_nanos
            .store(duration_nanos(config.max_wait), Ordering::Release);
        tracing::info!(
            bulkhead = &*inner.name,
            max_concurrent = new,
            max_waiting = config.max_waiting,
            "foundation.bulkhead.limits_changed"
        );
        inner.bus.emit(BulkheadLimitsChanged {
            bulkhead: inner.name.clone(),
            max_concurrent: new,
            max_waiting: config.max_waiting,
            max_wait: config.max_wait,
        });
        Ok(())
    }

    /// A snapshot of the current state.
    pub fn status(&self) -> BulkheadStatus {
        let inner = &*self.inner;
        let timed_out = inner.rejected_timeout.load(Ordering::Relaxed);
        BulkheadStatus {
            name: inner.name.to_string(),
            in_flight: inner.in_flight(),
            waiting: inner.waiting.load(Ordering::Acquire),
            max_concurrent: inner.capacity.load(Ordering::Acquire),
            max_waiting: inner.max_waiting.load(Ordering::Acquire),
            rejected: inner.rejected_full.load(Ordering::Relaxed) + timed_out,
            timed_out,
        }
    }
}

fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Builds a [`Bulkhead`].
#[must_use]
#[derive(Debug)]
pub struct BulkheadBuilder {
    name: String,
    config: BulkheadConfig,
    bus: Option<TelemetryBus>,
}

impl Default for BulkheadBuilder {
    fn default() -> Self {
        BulkheadBuilder {
            name: "bulkhead".into(),
            config: BulkheadConfig::default(),
            bus: None,
        }
    }
}

impl BulkheadBuilder {
    /// The name used in errors and events (must not be empty).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The configuration.
    pub fn config(mut self, config: BulkheadConfig) -> Self {
        self.config = config;
        self
    }

    /// The telemetry bus (default [`TelemetryBus::global`]).
    pub fn bus(mut self, bus: TelemetryBus) -> Self {
        self.bus = Some(bus);
        self
    }

    /// Validates and builds.
    pub fn build(self) -> Result<Bulkhead, Error> {
        let mut v = foundation_core::Validator::new("bulkhead");
        v.non_empty("name", &self.name);
        self.config.validate_into(&mut v);
        v.finish()?;
        let c = self.config;
        Ok(Bulkhead {
            inner: Arc::new(Inner {
                name: Arc::from(self.name),
                semaphore: Semaphore::new(c.max_concurrent),
                capacity: AtomicUsize::new(c.max_concurrent),
                debt: AtomicUsize::new(0),
                max_waiting: AtomicUsize::new(c.max_waiting),
                max_wait_nanos: AtomicU64::new(duration_nanos(c.max_wait)),
                waiting: AtomicUsize::new(0),
                rejected_full: AtomicU64::new(0),
                rejected_timeout: AtomicU64::new(0),
                limits: Mutex::new(()),
                bus: self.bus.unwrap_or_else(|| TelemetryBus::global().clone()),
            }),
        })
    }
}
