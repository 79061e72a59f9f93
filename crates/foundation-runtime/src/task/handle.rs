//! The joinable, abortable handle to one supervised task.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use foundation_core::{Error, ErrorCode};
use tokio::sync::oneshot;
use tokio::task::AbortHandle;

/// A handle to a task spawned on a [`TaskSupervisor`](super::TaskSupervisor).
///
/// Awaiting it yields the task's output, or an error when the task panicked
/// (`ErrorCode::APPLICATION`) or was aborted (`ErrorCode::SHUTDOWN`). Dropping the handle does
/// not stop the task: the supervisor owns it.
#[must_use = "a TaskHandle does nothing unless awaited; drop it to let the supervisor own the task"]
pub struct TaskHandle<T> {
    name: String,
    result: oneshot::Receiver<Result<T, Error>>,
    abort: Option<AbortHandle>,
}

impl<T> TaskHandle<T> {
    pub(super) fn new(
        name: String,
        result: oneshot::Receiver<Result<T, Error>>,
        abort: Option<AbortHandle>,
    ) -> TaskHandle<T> {
        TaskHandle {
            name,
            result,
            abort,
        }
    }

    /// The name the task was spawned with.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Asks the task to stop; awaiting the handle then yields a `SHUTDOWN` error unless the
    /// task had already finished.
    pub fn abort(&self) {
        if let Some(abort) = &self.abort {
            abort.abort();
        }
    }

    /// Whether the task has finished (completed, panicked or been aborted).
    pub fn is_finished(&self) -> bool {
        self.abort.as_ref().is_none_or(AbortHandle::is_finished)
    }
}

impl<T> Future for TaskHandle<T> {
    type Output = Result<T, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.result).poll(cx).map(|received| {
            received.unwrap_or_else(|_| {
                Err(
                    Error::new(ErrorCode::SHUTDOWN, "task was aborted before it finished")
                        .with_context("task", &self.name),
                )
            })
        })
    }
}

impl<T> std::fmt::Debug for TaskHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskHandle")
            .field("name", &self.name)
            .field("finished", &self.is_finished())
            .finish()
    }
}
