//! What a worker runs for each task: a [`TaskHandler`].

use std::future::Future;
use std::sync::Arc;

use foundation_core::error::Result;
use foundation_store::Task;

/// Handles one task. `Ok` completes it; an error fails the attempt, retried as the error says
/// ([`Error::is_retryable`](foundation_core::Error::is_retryable), its `retry_after`) within the
/// task's attempts, or sent to the dead-letter queue. A panic is a retryable failure.
///
/// The same task may run more than once (after a worker died mid-task, or a lost lease), so
/// handlers should be idempotent; a task's `unique_key` and `id` help.
pub trait TaskHandler: Send + Sync + 'static {
    /// Runs the task.
    fn handle(&self, task: &Task) -> impl Future<Output = Result<()>> + Send;
}

/// A [`TaskHandler`] from an async closure taking the task by value.
pub fn handler_fn<F, Fut>(f: F) -> HandlerFn<F>
where
    F: Fn(Task) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<()>> + Send,
{
    HandlerFn(Arc::new(f))
}

/// The handler made by [`handler_fn`].
pub struct HandlerFn<F>(Arc<F>);

impl<F> Clone for HandlerFn<F> {
    fn clone(&self) -> Self {
        HandlerFn(self.0.clone())
    }
}

impl<F, Fut> TaskHandler for HandlerFn<F>
where
    F: Fn(Task) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<()>> + Send,
{
    fn handle(&self, task: &Task) -> impl Future<Output = Result<()>> + Send {
        (self.0)(task.clone())
    }
}
