//! Re-configuring a component live whenever its section changes.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use foundation_core::{Error, ErrorCode, Result, TelemetryBus};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::events::ReconfigureFailed;
use crate::live::Live;

/// What a [`Binding`] has done so far.
#[derive(Clone, Debug, Default)]
pub struct BindingStatus {
    /// How many values were handed to the component (the first is the value at bind time).
    pub applied: u64,
    /// The [`Live::changes`] count of the last value handed over.
    pub seen: u64,
    /// The error (or panic) of the last hand-over, `None` when it succeeded.
    pub last_error: Option<Arc<Error>>,
}

/// A task that hands each new value of a [`Live`] to a component (for example
/// `CircuitBreaker::reconfigure`). Dropping it stops the task.
#[derive(Debug)]
pub struct Binding {
    task: JoinHandle<()>,
    status: watch::Receiver<BindingStatus>,
}

impl<T: Send + Sync + 'static> Live<T> {
    /// Calls `apply` with the current value now and with every later one, on a task owned by
    /// the returned [`Binding`]. A failed or panicking `apply` is reported in the status and
    /// as a `foundation.config.reconfigure_failed` event on `bus`; the next value is still
    /// handed over. Must be called within a Tokio runtime.
    pub fn bind<F>(&self, bus: &TelemetryBus, mut apply: F) -> Binding
    where
        F: FnMut(&T) -> Result<()> + Send + 'static,
    {
        let mut rx = self.subscribe();
        let live = self.clone();
        let bus = bus.clone();
        let (status_tx, status) = watch::channel(BindingStatus::default());
        let task = tokio::spawn(async move {
            loop {
                let seen = live.changes();
                let value = Arc::clone(&rx.borrow_and_update());
                let outcome = catch_unwind(AssertUnwindSafe(|| apply(&value)))
                    .unwrap_or_else(|_| {
                        Err(Error::new(ErrorCode::INTERNAL, "reconfigure panicked"))
                    })
                    .map_err(|e| Arc::new(e.with_context("path", live.path())));
                if let Err(e) = &outcome {
                    bus.emit(ReconfigureFailed {
                        path: live.path().to_string(),
                        error: e.to_string(),
                    });
                }
                status_tx.send_modify(|s| {
                    s.applied += 1;
                    s.seen = seen;
                    s.last_error = outcome.err();
                });
                if rx.changed().await.is_err() {
                    break;
                }
            }
        });
        Binding { task, status }
    }
}

impl Binding {
    /// The status now.
    pub fn status(&self) -> BindingStatus {
        self.status.borrow().clone()
    }

    /// Waits until the component has been handed a value at least as new as the one counted
    /// `changes` ([`Live::changes`]), and returns the status then.
    pub async fn caught_up(&mut self, changes: u64) -> BindingStatus {
        status_when(&mut self.status, |s| s.applied > 0 && s.seen >= changes).await
    }
}

/// The first status `rx` holds that satisfies `done` (the last one, if its task ended first).
pub(crate) async fn status_when<T: Clone>(
    rx: &mut watch::Receiver<T>,
    done: impl FnMut(&T) -> bool,
) -> T {
    let found = rx.wait_for(done).await.map(|s| s.clone());
    found.unwrap_or_else(|_| rx.borrow().clone())
}

impl Drop for Binding {
    fn drop(&mut self) {
        self.task.abort();
    }
}
