//! The worker's loop: fetch, run each task with a heartbeat beside it, report the outcome; on
//! stop, drain within the grace period and return what is left.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use foundation_core::error::{Error, ErrorCode, Result};
use foundation_protect::protection::Protection;
use foundation_store::{Failure, FailureOutcome, Lease, LeasedTask, TaskId, TaskQueue};
use futures::FutureExt;
use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument;

use super::config::WorkerConfig;
use super::handler::TaskHandler;

/// What a worker has done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WorkerStatus {
    /// Tasks running now.
    pub in_flight: u64,
    /// Tasks it completed.
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

#[derive(Default)]
struct Counters {
    completed: AtomicU64,
    retried: AtomicU64,
    dead: AtomicU64,
    lost: AtomicU64,
}

/// Everything the loop and its tasks share.
pub(super) struct Shared<H> {
    pub(super) tasks: TaskQueue,
    pub(super) config: WorkerConfig,
    pub(super) handler: Arc<H>,
    pub(super) protection: Option<Protection>,
    counters: Counters,
    last_error: Mutex<Option<String>>,
    /// The leases of the tasks running now, returned on shutdown if their work is abandoned.
    leases: Mutex<HashMap<TaskId, Lease>>,
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
            counters: Counters::default(),
            last_error: Mutex::new(None),
            leases: Mutex::new(HashMap::new()),
        }
    }

    pub(super) fn status(&self) -> WorkerStatus {
        let c = &self.counters;
        WorkerStatus {
            in_flight: self.leases.lock().len() as u64,
            completed: c.completed.load(Ordering::Relaxed),
            retried: c.retried.load(Ordering::Relaxed),
            dead: c.dead.load(Ordering::Relaxed),
            lost: c.lost.load(Ordering::Relaxed),
            last_error: self.last_error.lock().clone(),
        }
    }

    fn store_error(&self, what: &str, err: &Error) {
        tracing::warn!(
            target: "foundation.queue.worker_error",
            worker = %self.config.name,
            "{what}: {err}"
        );
        *self.last_error.lock() = Some(format!("{what}: {err}"));
    }
}

/// Fetches and runs tasks until `stop` turns true, then drains (see [`drain`]).
pub(super) async fn run<H: TaskHandler>(shared: Arc<Shared<H>>, mut stop: watch::Receiver<bool>) {
    let config = &shared.config;
    let mut running = JoinSet::new();
    let mut next_cron = tokio::time::Instant::now();
    while !*stop.borrow() {
        while running.try_join_next().is_some() {}
        if config.drive_cron && tokio::time::Instant::now() >= next_cron {
            next_cron = tokio::time::Instant::now() + config.poll_interval;
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
        // Made before the fetch, so an enqueue right after an empty fetch still wakes us.
        let mut waiter = shared.tasks.waiter(&config.queue);
        match shared
            .tasks
            .fetch(&config.queue, &config.name, free, config.lease)
            .await
        {
            Ok(batch) if !batch.is_empty() => {
                for leased in batch {
                    shared
                        .leases
                        .lock()
                        .insert(leased.lease.task_id, leased.lease.clone());
                    running.spawn(run_one(shared.clone(), leased));
                }
            }
            Ok(_) => {
                let wait = idle_wait(&shared).await;
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
    drain(&shared, running).await;
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

/// Lets running tasks finish within the grace period, then abandons the rest and returns their
/// leases so they run again at once, without counting the attempt.
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
    let left: Vec<Lease> = shared.leases.lock().drain().map(|(_, l)| l).collect();
    for lease in left {
        if let Err(e) = shared.tasks.release(&lease).await {
            shared.store_error("return lease on shutdown", &e);
        }
    }
}

/// Runs one task: the handler (through the protection, within the task's timeout, panics
/// caught) raced against the heartbeat, which ends the work if the lease is lost.
async fn run_one<H: TaskHandler>(shared: Arc<Shared<H>>, leased: LeasedTask) {
    let LeasedTask { task, lease } = leased;
    let span = tracing::info_span!(
        "foundation.queue.task",
        task_id = task.id,
        queue = %task.queue,
        attempt = task.attempt,
        traceparent = task.trace_context.as_deref().unwrap_or(""),
    );
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
    if let Some(result) = result {
        report(&shared, &lease, result).await;
    } else {
        shared.counters.lost.fetch_add(1, Ordering::Relaxed);
    }
    shared.leases.lock().remove(&task.id);
}

/// Records the handler's result against the lease.
async fn report<H: TaskHandler>(shared: &Shared<H>, lease: &Lease, result: Result<()>) {
    let recorded = match &result {
        Ok(()) => shared.tasks.complete(lease).await.map(|()| {
            shared.counters.completed.fetch_add(1, Ordering::Relaxed);
        }),
        Err(err) => shared
            .tasks
            .fail(lease, Failure::from_error(err))
            .await
            .map(|outcome| {
                let counter = match outcome {
                    FailureOutcome::Dead => &shared.counters.dead,
                    FailureOutcome::Retrying { .. } => &shared.counters.retried,
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }),
    };
    match recorded {
        Ok(()) => {}
        Err(e) if e.code() == ErrorCode::TASK_LEASE_LOST => {
            shared.counters.lost.fetch_add(1, Ordering::Relaxed);
        }
        // Not recorded: the lease runs out and the task runs again (at least once).
        Err(e) => shared.store_error("record task outcome", &e),
    }
}
