//! A named lock with an acquire timeout, released when its guard (and so its holder) dies.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use foundation_core::{Error, ErrorCode};
use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{non_empty, positive};

/// A named mutual-exclusion lock, backend-neutral.
pub trait Lock {
    /// The guard that holds the lock until dropped.
    type Guard: Send;

    /// Waits up to `timeout` to hold lock `name` on behalf of `holder`. Waiters are served in
    /// arrival order.
    ///
    /// # Errors
    /// `TIMEOUT` when the lock is not obtained in time; `INVALID_INPUT` naming `name`, `holder`
    /// or `timeout` for an empty name or a zero timeout.
    fn acquire(
        &self,
        name: &str,
        holder: &str,
        timeout: Duration,
    ) -> impl Future<Output = Result<Self::Guard, Error>> + Send;
}

struct Slot {
    permit: Arc<Semaphore>,
    holder: Option<String>,
}

type Slots = Arc<Mutex<HashMap<String, Slot>>>;

/// In-process named locks: FIFO waiters, timeout, release on drop of the [`LockGuard`].
///
/// A task that panics while holding a guard drops it while unwinding, so the lock is released
/// for the next waiter. Cheap to clone; clones share the locks.
#[derive(Clone, Default)]
pub struct LocalLock {
    slots: Slots,
}

impl std::fmt::Debug for LocalLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalLock")
            .field("names", &self.slots.lock().len())
            .finish()
    }
}

/// Holds a [`LocalLock`] until dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct LockGuard {
    slots: Slots,
    name: String,
    holder: String,
    permit: Option<OwnedSemaphorePermit>,
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockGuard")
            .field("name", &self.name)
            .field("holder", &self.holder)
            .finish()
    }
}

impl LockGuard {
    /// The lock's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Who holds it.
    pub fn holder(&self) -> &str {
        &self.holder
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let mut slots = self.slots.lock();
        if let Some(slot) = slots.get_mut(&self.name) {
            slot.holder = None;
        }
        drop(self.permit.take());
        forget_if_unused(&mut slots, &self.name);
    }
}

/// Removes the entry for `name` when nobody holds or waits for it (only the map's reference).
fn forget_if_unused(slots: &mut HashMap<String, Slot>, name: &str) {
    if let Some(slot) = slots.get(name)
        && Arc::strong_count(&slot.permit) == 1
        && slot.holder.is_none()
    {
        slots.remove(name);
    }
}

impl LocalLock {
    /// An empty set of locks.
    pub fn new() -> LocalLock {
        LocalLock::default()
    }

    /// Who holds lock `name`, if anyone.
    pub fn holder(&self, name: &str) -> Option<String> {
        self.slots.lock().get(name).and_then(|s| s.holder.clone())
    }

    /// The number of lock names currently held or waited for.
    pub fn len(&self) -> usize {
        self.slots.lock().len()
    }

    /// Whether no lock is held or waited for.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// See [`Lock::acquire`].
    ///
    /// # Errors
    /// `TIMEOUT` (with the current holder in the context) when not obtained in time;
    /// `INVALID_INPUT` naming `name`, `holder` or `timeout`.
    pub async fn acquire(
        &self,
        name: &str,
        holder: &str,
        timeout: Duration,
    ) -> Result<LockGuard, Error> {
        non_empty("name", name)?;
        non_empty("holder", holder)?;
        positive("timeout", timeout)?;
        let semaphore = self
            .slots
            .lock()
            .entry(name.to_owned())
            .or_insert_with(|| Slot {
                permit: Arc::new(Semaphore::new(1)),
                holder: None,
            })
            .permit
            .clone();
        let waiter = Waiter {
            slots: &self.slots,
            name,
            semaphore: Some(semaphore.clone()),
        };
        let waited = tokio::time::timeout(timeout, semaphore.acquire_owned()).await;
        match waited {
            Ok(Ok(permit)) => {
                if let Some(slot) = self.slots.lock().get_mut(name) {
                    slot.holder = Some(holder.to_owned());
                }
                drop(waiter);
                Ok(LockGuard {
                    slots: self.slots.clone(),
                    name: name.to_owned(),
                    holder: holder.to_owned(),
                    permit: Some(permit),
                })
            }
            _ => {
                drop(waiter);
                let mut error = Error::new(
                    ErrorCode::TIMEOUT,
                    format!("lock \"{name}\" not acquired within {timeout:?}"),
                )
                .with_context("lock", name)
                .with_context("holder", holder);
                if let Some(current) = self.holder(name) {
                    error = error.with_context("held_by", current);
                }
                Err(error)
            }
        }
    }
}

/// A caller waiting for a lock; forgets the lock's entry when the wait ends (even by
/// cancellation) and nobody else holds or waits for it.
struct Waiter<'a> {
    slots: &'a Slots,
    name: &'a str,
    semaphore: Option<Arc<Semaphore>>,
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        let mut slots = self.slots.lock();
        drop(self.semaphore.take());
        forget_if_unused(&mut slots, self.name);
    }
}

impl Lock for LocalLock {
    type Guard = LockGuard;

    fn acquire(
        &self,
        name: &str,
        holder: &str,
        timeout: Duration,
    ) -> impl Future<Output = Result<LockGuard, Error>> + Send {
        LocalLock::acquire(self, name, holder, timeout)
    }
}
