//! The worker's loop: fetch, run each task with a heartbeat beside it, hand a success to the
//! completer (see [`complete`](super::complete)) and record a failure; on stop, drain within
//! the grace period, commit the completions still pending, and return what is left.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use foundation_core::error::{Error, ErrorCode};
use foundation_core::trace::TraceContext;
use foundation_protect::protection::Protection;
use foundation_store::{Failure, FailureOutcome, Lease, LeasedTask, Task, TaskId, TaskQueue};
use futures::FutureExt;
use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::Instrument;
use tracing::field::{Empty, display};

use super::complete::{Completions, complete};
use super::config::WorkerConfig;
use super::handler::TaskHandler;

/// What a worker has done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WorkerStatus {
    /// Tasks it holds a lease on: running, or finished and waiting for their completion to
    /// be committed.
    pub in_flight: u64,
    /// Tasks it completed (counted once the completion is committed).
    pub completed: u64,
    /// Attempts that failed and will be retried.
    pub retried: u64,
    /// Tasks it sent to the dead-letter queue.
    pub dead: u64,
    /// Tasks whose lease it lost (cancelled, or expired and handed on): their work was dropped.
    pub lost: u64,
    /// The last error talking to the store, if any.
    pub last_error: Option<String>,
}

/// What became of a task the worker held, as its status counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Its completion was committed.
    Completed,
    /// Its failed attempt was recorded and it will run again.
    Retried,
    /// It went to the dead-letter queue.
    Dead,
    /// The worker no longer held its lease.
    Lost,
    /// Nothing could be recorded (the store refused); its lease runs out.
    Unrecorded,
}

/// The leases the worker holds and the tasks it is done with, kept together so a status never
/// shows a task both held and counted.
#[derive(Default)]
struct Book {
    /// Of tasks running, and of finished ones whose completion is not committed yet.
    leases: HashMap<TaskId, Lease>,
    completed: u64,
    retried: u64,
    dead: u64,
    lost: u64,
}

/// Everything the loop and its tasks share.
pub(super) struct Shared<H> {
    pub(super) tasks: TaskQueue,
    pub(super) config: WorkerConfig,
    pub(super) handler: Arc<H>,
    pub(super) protection: Option<Protection>,
    book: Mutex<Book>,
    last_error: Mutex<Option<String>>,
}

impl<H: TaskHandler> Shared<H> {
    pub(super) fn new(
        tasks: TaskQueue,
        config: WorkerConfig,
        handler: Arc<H>,
        protection: Option<Protection>,
    ) -> Shared<H> {
        Shared {
            tasks,
            config,
            handler,
            protection,
            book: Mutex::new(Book::default()),
            last_error: Mutex::new(None),
        }
    }

    pub(super) fn status(&self) -> WorkerStatus {
        let book = self.book.lock();
        WorkerStatus {
            in_flight: book.leases.len() as u64,
            completed: book.completed,
            retried: book.retried,
            dead: book.dead,
            lost: book.lost,
            last_error: self.last_error.lock().clone(),
        }
    }

    /// Notes a lease the worker now holds.
    fn hold(&self, lease: &Lease) {
        self.book.lock().leases.insert(lease.task_id, lease.clone());
    }

    /// Forgets the leases of `settled` tasks and counts what became of each.
    pub(super) fn settle(&self, settled: impl IntoIterator<Item = (TaskId, Outcome)>) {
        let mut book = self.book.lock();
        for (task, outcome) in settled {
            book.leases.remove(&task);
            match outcome {
                Outcome::Completed => book.completed += 1,
                Outcome::Retried => book.retried += 1,
                Outcome::Dead => book.dead += 1,
                Outcome::Lost => book.lost += 1,
                Outcome::Unrecorded => {}
            }
        }
    }

    pub(super) fn store_error(&self, what: &str, err: &Error) {
        tracing::warn!(
            target: "foundation.queue.worker_error",
            worker = %self.config.name,
            "{what}: {err}"
        );
        *self.last_error.lock() = Some(format!("{what}: {err}"));
    }
}

/// How long a worker with only a few free slots waits for more to free before it fetches.
const GATHER: Duration = Duration::from_millis(2);

/// Fetches and runs tasks until `stop` turns true, then drains (see [`drain`]); beside it the
/// completer commits successes. Leases left once both are done are returned.
pub(super) async fn run<H: TaskHandler>(shared: Arc<Shared<H>>, stop: watch::Receiver<bool>) {
    let (completions, arrivals) = mpsc::unbounded_channel();
    tokio::join!(
        fetch_and_run(&shared, stop, completions),
        complete(&shared, arrivals)
    );
    // Only leases of abandoned work (or of completions the store refused) are left.
    let left: Vec<Lease> = shared.book.lock().leases.drain().map(|(_, l)| l).collect();
    for lease in left {
        if let Err(e) = shared.tasks.release(&lease).await {
            shared.store_error("return lease on shutdown", &e);
        }
    }
}

/// The fetch loop: leases tasks as slots free up and runs each in `running`, until `stop`;
/// then drains. Dropping `completions` on return (with every task's clone) ends the completer.
async fn fetch_and_run<H: TaskHandler>(
    shared: &Arc<Shared<H>>,
    mut stop: watch::Receiver<bool>,
    completions: Completions,
) {
    let config = &shared.config;
    let mut running = JoinSet::new();
    let mut next_cron = Instant::now();
    let mut gather_until = None;
    while !*stop.borrow() {
        while running.try_join_next().is_some() {}
        if config.drive_cron && Instant::now() >= next_cron {
            next_cron = Instant::now() + config.poll_interval;
            if let Err(e) = shared.tasks.enqueue_due().await {
                shared.store_error("enqueue due cron tasks", &e);
            }
        }
        let free = config.concurrency.saturating_sub(running.len());
        if free == 0 {
            tokio::select! {
                _ = running.join_next() => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        // Only a few slots free while others run: wait a moment for more to free, so one fetch
        // leases several tasks instead of one transaction per freed slot. An idle worker (or
        // one at least half free) fetches at once.
        if free < config.concurrency.div_ceil(2) && !running.is_empty() {
            let until = *gather_until.get_or_insert_with(|| Instant::now() + GATHER);
            if Instant::now() < until {
                tokio::select! {
                    _ = running.join_next() => {}
                    _ = tokio::time::sleep_until(until) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
        }
        gather_until = None;
        // Made before the fetch, so an enqueue right after an empty fetch still wakes us.
        let mut waiter = shared.tasks.waiter(&config.queue);
        match shared
            .tasks
            .fetch(&config.queue, &config.name, free, config.lease)
            .await
        {
            Ok(batch) if !batch.is_empty() => {
                for leased in batch {
                    shared.hold(&leased.lease);
                    running.spawn(run_one(shared.clone(), leased, completions.clone()));
                }
            }
            Ok(_) => {
                let wait = idle_wait(shared).await;
                tokio::select! {
                    _ = waiter.wait(wait) => {}
                    Some(_) = running.join_next(), if !running.is_empty() => {}
                    _ = stop.changed() => {}
                }
            }
            Err(e) => {
                shared.store_error("fetch", &e);
                tokio::select! {
                    _ = tokio::time::sleep(config.poll_interval) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }
    drain(shared, running).await;
}

/// How long to wait for work after an empty fetch: until the next scheduled task is due, at
/// most the poll interval.
async fn idle_wait<H: TaskHandler>(shared: &Shared<H>) -> Duration {
    let poll = shared.config.poll_interval;
    match shared.tasks.next_run_at(&shared.config.queue).await {
        Ok(Some(at)) => {
            let until = at - shared.tasks.store().now_ms();
            if until > 0 {
                poll.min(Duration::from_millis(
                    u64::try_from(until).unwrap_or(u64::MAX),
                ))
            } else {
                // Due but not handed out: paused or at its limit; look again after a poll.
                poll
            }
        }
        _ => poll,
    }
}

/// Lets running tasks finish within the grace period, then abandons the rest (their leases
/// stay in the lease map, to be returned so they run again at once without counting the
/// attempt).
async fn drain<H: TaskHandler>(shared: &Shared<H>, mut running: JoinSet<()>) {
    let grace = tokio::time::sleep(shared.config.shutdown_grace);
    tokio::pin!(grace);
    loop {
        tokio::select! {
            next = running.join_next() => if next.is_none() { break },
            _ = &mut grace => {
                running.abort_all();
                while running.join_next().await.is_some() {}
                break;
            }
        }
    }
}

/// Runs one task: the handler (through the protection, within the task's timeout, panics
/// caught, in the span `foundation.task.run` and the task's trace context) raced against the
/// heartbeat, which ends the work if the lease is lost.
/// A success goes to the completer (the lease stays held until it is committed); a failure is
/// recorded here.
async fn run_one<H: TaskHandler>(
    shared: Arc<Shared<H>>,
    leased: LeasedTask,
    completions: Completions,
) {
    let LeasedTask { task, lease } = leased;
    let link = enqueuer_trace(&task);
    let span = tracing::info_span!(
        "foundation.task.run",
        queue = %task.queue,
        task_id = task.id,
        attempt = task.attempt,
        trace_id = Empty,
        span_id = Empty,
        link.trace_id = Empty,
        link.span_id = Empty,
    );
    let trace = TraceContext::for_span(&span, link.as_ref()).unwrap_or_else(TraceContext::new_root);
    span.record("trace_id", display(trace.trace_id()));
    span.record("span_id", display(trace.span_id()));
    if let Some(link) = &link {
        span.record("link.trace_id", display(link.trace_id()));
        span.record("link.span_id", display(link.span_id()));
    }
    let work = async {
        let handler = &*shared.handler;
        let task = &task;
        let call = async {
            match &shared.protection {
                Some(protection) => protection.run(move |_| handler.handle(task)).await,
                None => handler.handle(task).await,
            }
        };
        let guarded = AssertUnwindSafe(call).catch_unwind();
        let outcome = match task.timeout {
            Some(limit) => match tokio::time::timeout(limit, guarded).await {
                Ok(outcome) => outcome,
                Err(_) => Ok(Err(Error::new(
                    ErrorCode::TIMEOUT,
                    format!("task ran over its timeout of {limit:?}"),
                ))),
            },
            None => guarded.await,
        };
        outcome.unwrap_or_else(|panic| {
            Err(Error::new(
                ErrorCode::INTERNAL,
                format!("task handler panicked: {}", crate::panic::message(&*panic)),
            )
            .with_retryable(true))
        })
    }
    .instrument(span);
    let work = trace.scope(work);
    let heartbeat = async {
        let mut current = lease.clone();
        loop {
            tokio::time::sleep(shared.config.heartbeat).await;
            match shared.tasks.heartbeat(&current, shared.config.lease).await {
                Ok(extended) => current = extended,
                Err(e) if e.code() == ErrorCode::TASK_LEASE_LOST => return e,
                // The store is unreachable: keep trying; if the lease runs out meanwhile the
                // task is handed on and the next heartbeat says so.
                Err(e) => shared.store_error("heartbeat", &e),
            }
        }
    };
    let result = tokio::select! {
        result = work => Some(result),
        lost = heartbeat => {
            tracing::warn!(target: "foundation.queue.lease_lost", task_id = task.id, "{lost}");
            None
        }
    };
    let outcome = match result {
        // The completer outlives every task, so the send only fails if the worker is being
        // torn down; then the lease is returned or runs out.
        Some(Ok(())) => {
            let _ = completions.send(lease);
            return;
        }
        Some(Err(err)) => record_failure(&shared, &lease, &err).await,
        None => Outcome::Lost,
    };
    shared.settle([(task.id, outcome)]);
}

/// The enqueuer's trace context stored with the task, which its handler continues (in a child
/// context: same trace, new span). A malformed one is noted and ignored (the handler then
/// starts a new trace), not a failure.
fn enqueuer_trace(task: &Task) -> Option<TraceContext> {
    let traceparent = task.trace_context.as_deref()?;
    TraceContext::parse_traceparent(traceparent)
        .inspect_err(|e| {
            tracing::debug!(
                target: "foundation.task.bad_trace_context",
                task_id = task.id,
                "stored trace context ignored: {e}"
            );
        })
        .ok()
}

/// How a handler's error fails its task: as retryable as the error says, except that the
/// protection's own retries giving up (`RETRY_EXHAUSTED`, `RETRY_BUDGET_EXHAUSTED`: transient
/// errors that outlasted a few quick retries) leave the task retryable — its backoff is the
/// slower, outer loop that such errors are for.
fn task_failure(err: &Error) -> Failure {
    let mut failure = Failure::from_error(err);
    if err.is(ErrorCode::RETRY_EXHAUSTED) || err.is(ErrorCode::RETRY_BUDGET_EXHAUSTED) {
        failure.retryable = true;
    }
    failure
}

/// Records the handler's error against the lease: a retry or a dead letter.
async fn record_failure<H: TaskHandler>(shared: &Shared<H>, lease: &Lease, err: &Error) -> Outcome {
    match shared.tasks.fail(lease, task_failure(err)).await {
        Ok(FailureOutcome::Dead) => Outcome::Dead,
        Ok(FailureOutcome::Retrying { .. }) => Outcome::Retried,
        Err(e) if e.code() == ErrorCode::TASK_LEASE_LOST => Outcome::Lost,
        // Not recorded: the lease runs out and the task runs again (at least once).
        Err(e) => {
            shared.store_error("record task failure", &e);
            Outcome::Unrecorded
        }
    }
}
