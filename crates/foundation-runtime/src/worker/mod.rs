//! Queue workers: agents that take tasks from the durable queue in
//! [`foundation_store::TaskQueue`] and run them.
//!
//! A [`QueueWorker`] is an [`Agent`], so it runs under a supervisor like any other
//! ([`QueueWorker::child`] makes its [`ChildSpec`]). Once started it fetches up to
//! `concurrency` tasks at a time, runs each task's [`TaskHandler`] (through the worker's
//! [`Protection`] when one is set — retry, circuit breaker, rate limit — and within the task's
//! own timeout), extends each lease by heartbeat while the handler runs, and records the
//! handler's result. A success frees the task's slot at once and joins the worker's pending
//! completions, which are committed together a few milliseconds later in one transaction
//! ([`TaskQueue::complete_batch`]), so a busy worker pays one commit for many tasks; the
//! worker's [`WorkerStatus`] counts a task completed only once that commit is done. A
//! handler's error is recorded at once ([`TaskQueue::fail`]): it is retried as the error says
//! (`is_retryable`, `retry_after`), up to the task's attempts; a panic is a retryable failure.
//! If the lease is lost (the task was cancelled, or the store handed it on after the lease ran
//! out) the handler's future is dropped and nothing is recorded; a success whose lease was lost
//! before its completion was committed counts as lost too.
//!
//! Each handler runs in the `tracing` span `foundation.task.run` (fields `queue`, `task_id`,
//! `attempt`, `trace_id`, `span_id`, and `link.trace_id`/`link.span_id`: the enqueuer's
//! context) and within a child [`TraceContext`](foundation_core::trace::TraceContext) of the
//! context stored with the task at enqueue (a new root when it has none, or a malformed one),
//! so protected calls and HTTP requests the handler makes continue the enqueuer's trace.
//!
//! When idle the worker waits for a wake-up from an enqueue (in process, or from another node
//! through PostgreSQL's `LISTEN/NOTIFY`), for the next scheduled task, or for its poll interval.
//!
//! Stopping the agent gracefully stops fetching, lets running tasks finish within
//! `shutdown_grace`, commits every pending completion, then drops the rest and returns their
//! leases, so they run again at once without spending an attempt. If the worker is aborted or
//! its process dies instead, its leases simply run out and the tasks (including any whose
//! completion was not committed yet) are handed to another worker: a task runs at least once.
//!
//! ```no_run
//! # async fn demo(store: foundation_store::Store) -> foundation_core::Result<()> {
//! use foundation_runtime::agent::{AgentConfig, spawn};
//! use foundation_runtime::worker::{QueueWorker, WorkerConfig, handler_fn};
//!
//! let worker = QueueWorker::new(
//!     store.tasks(),
//!     WorkerConfig::new("mail"),
//!     handler_fn(|task| async move {
//!         println!("sending {}", task.payload);
//!         Ok(())
//!     }),
//! )?;
//! let handle = spawn(worker, AgentConfig::named("mail-worker")).await?;
//! # Ok(()) }
//! ```

mod complete;
mod config;
mod handler;
mod run;

pub use config::WorkerConfig;
pub use handler::{HandlerFn, TaskHandler, handler_fn};
pub use run::WorkerStatus;

use std::sync::Arc;

use foundation_core::error::{Error, Result};
use foundation_protect::protection::Protection;
use foundation_store::TaskQueue;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::agent::{Agent, AgentConfig, Context, Reply, StopReason};
use crate::supervisor::ChildSpec;
use run::Shared;

/// Messages a [`QueueWorker`] accepts.
#[derive(Debug)]
pub enum WorkerMsg {
    /// Answers with the worker's [`WorkerStatus`].
    Status(Reply<WorkerStatus>),
}

/// An agent that runs the tasks of one queue; see the [module docs](self).
pub struct QueueWorker<H: TaskHandler> {
    shared: Arc<Shared<H>>,
    running: Option<Running>,
}

/// The loop task and the switch that stops it. Dropping it (the agent aborted) aborts the
/// loop, which drops every running task.
struct Running {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl<H: TaskHandler> QueueWorker<H> {
    /// A worker for `config.queue` running `handler`. `INVALID_CONFIG` names a bad field.
    pub fn new(tasks: TaskQueue, config: WorkerConfig, handler: H) -> Result<QueueWorker<H>> {
        QueueWorker::with_shared_handler(tasks, config, Arc::new(handler), None)
    }

    /// Runs every task's handler through `protection` (one attempt of the task may then make
    /// several calls, as the protection's retry allows).
    pub fn protection(self, protection: Protection) -> QueueWorker<H> {
        let shared = &self.shared;
        QueueWorker {
            shared: Arc::new(Shared::new(
                shared.tasks.clone(),
                shared.config.clone(),
                shared.handler.clone(),
                Some(protection),
            )),
            running: None,
        }
    }

    fn with_shared_handler(
        tasks: TaskQueue,
        config: WorkerConfig,
        handler: Arc<H>,
        protection: Option<Protection>,
    ) -> Result<QueueWorker<H>> {
        config.validate()?;
        Ok(QueueWorker {
            shared: Arc::new(Shared::new(tasks, config, handler, protection)),
            running: None,
        })
    }

    /// A supervisor child running this worker: every (re)start makes a fresh worker with the
    /// same queue, handler and protection. The agent's stop deadline is the grace period plus
    /// five seconds to return leases.
    pub fn child(
        id: impl Into<String>,
        tasks: TaskQueue,
        config: WorkerConfig,
        handler: H,
        protection: Option<Protection>,
    ) -> Result<ChildSpec> {
        config.validate()?;
        let id = id.into();
        let mut agent_config = AgentConfig::named(id.clone());
        agent_config.stop_deadline = config.shutdown_grace + std::time::Duration::from_secs(5);
        let handler = Arc::new(handler);
        Ok(ChildSpec::agent(
            id,
            move || {
                let shared = Shared::new(
                    tasks.clone(),
                    config.clone(),
                    handler.clone(),
                    protection.clone(),
                );
                QueueWorker {
                    shared: Arc::new(shared),
                    running: None,
                }
            },
            agent_config,
        ))
    }
}

impl<H: TaskHandler> Agent for QueueWorker<H> {
    type Msg = WorkerMsg;

    async fn on_start(&mut self, _ctx: &mut Context<Self>) -> Result<(), Error> {
        // An undeclared queue fails the start with NOT_FOUND instead of a worker that idles.
        self.shared.tasks.queue(&self.shared.config.queue).await?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run::run(self.shared.clone(), stopped));
        self.running = Some(Running { stop, task });
        Ok(())
    }

    async fn handle(&mut self, msg: WorkerMsg, ctx: &mut Context<Self>) {
        match msg {
            WorkerMsg::Status(reply) => ctx.reply(reply, self.shared.status()),
        }
    }

    async fn on_stop(&mut self, _reason: &StopReason, _ctx: &mut Context<Self>) {
        if let Some(running) = self.running.as_mut() {
            let _ = running.stop.send(true);
            let _ = (&mut running.task).await;
        }
        self.running = None;
    }
}
