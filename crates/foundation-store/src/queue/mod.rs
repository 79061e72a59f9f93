//! The durable task queue.
//!
//! A [`TaskQueue`] (from [`Store::tasks`]) is a handle on the queue tables; clones are cheap.
//! Tasks are rows: enqueueing commits the row before it returns (on SQLite with
//! `synchronous=FULL`, so an acknowledged enqueue survives `kill -9` and power loss).
//!
//! A task's life:
//!
//! ```text
//! enqueue ──► available ──fetch──► running ──complete──► completed ──prune──► (gone)
//!                 ▲                  │  │
//!                 │   fail, attempts │  └─fail, last attempt / discard──► dead ──requeue──┐
//!                 └──── left ◄───────┘  lease expired: counts as a failed attempt         │
//!                 ▲                                                                       │
//!                 └───────────────────────────────────────────────────────────────────────┘
//! cancel: available or running ──► cancelled
//! ```
//!
//! - **Leases.** [`TaskQueue::fetch`] hands a worker up to `n` runnable tasks (highest priority,
//!   then earliest `run_at`, then enqueue order), each with a [`Lease`] that expires unless
//!   [`heartbeat`](TaskQueue::heartbeat) extends it. A task whose lease expired is handed on by
//!   a later fetch of its queue (each store handle looks at most once a second; the attempt
//!   counts as failed, with the error "lease expired").
//!   Heartbeat, complete, fail and release check the lease's token, so a worker that lost its
//!   lease can never complete a task another worker now holds: it gets `TASK_LEASE_LOST`.
//!   PostgreSQL picks rows with `FOR UPDATE SKIP LOCKED`, so concurrent workers never wait on
//!   each other's rows (only a queue with a concurrency limit makes its fetchers take turns on
//!   the queue's row, to count running tasks exactly); SQLite serialises writers on its one
//!   write lock.
//! - **Wake-ups.** Enqueues signal the queue's waiters ([`TaskQueue::waiter`]) after commit, in
//!   process and, on PostgreSQL, on every node through `LISTEN/NOTIFY`.
//! - **Queues** are declared before use ([`TaskQueue::declare`]) with an optional concurrency
//!   limit across all workers; they can be paused and resumed.
//! - **Unique keys.** At most one task per queue and key is waiting, running or completed; a
//!   second enqueue gets `TASK_DUPLICATE` naming the first. The database's unique index decides,
//!   so concurrent enqueues from many nodes cannot both win. Completed tasks hold their key until
//!   pruned; cancelled and dead ones free it.
//! - **Dead letters.** A task that fails its last attempt keeps every attempt's error; list,
//!   inspect, requeue or discard it ([`dead_letter`](TaskQueue::dead_letters)).
//! - **Recurring tasks** ([`TaskQueue::schedule`]) are enqueued once per cron tick however many
//!   nodes drive them ([`TaskQueue::enqueue_due`]).
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use std::time::Duration;
//! use foundation_store::{NewTask, QueueSettings, Store};
//! use serde_json::json;
//!
//! let store = Store::open("sqlite::memory:").await.unwrap();
//! let tasks = store.tasks();
//! tasks.declare("mail", QueueSettings::default()).await.unwrap();
//! let id = tasks.enqueue(NewTask::new("mail", json!({"to": "ada@example.com"}))).await.unwrap();
//!
//! let leased = tasks.fetch("mail", "worker-1", 10, Duration::from_secs(30)).await.unwrap();
//! assert_eq!(leased[0].task.id, id);
//! tasks.complete(&leased[0].lease).await.unwrap();
//! # });
//! ```

mod complete_batch;
mod cron;
mod dead_letter;
mod enqueue;
mod inspect;
mod lease;
mod queues;
mod stats;
mod task;
mod telemetry;

pub use cron::CronSchedule;
pub use dead_letter::{DeadLetterFilter, MAX_LIST};
pub use lease::{Failure, FailureOutcome, MAX_ERROR_LEN, MAX_FETCH};
pub use queues::{MAX_CONCURRENCY, QueueInfo, QueueSettings};
pub use stats::QueueStats;
pub use task::{
    AttemptError, Backoff, Lease, LeasedTask, MAX_ATTEMPTS, MAX_PRIORITY, MAX_TAGS, MAX_TIMEOUT,
    NewTask, Task, TaskDetails, TaskId, TaskState,
};
pub use telemetry::{LeasesExpired, TaskDeadLettered};

use std::time::Duration;

use tokio::sync::watch;

use crate::Store;

/// A handle on the task queue of one store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TaskQueue {
    store: Store,
}

impl Store {
    /// The task queue kept in this store.
    pub fn tasks(&self) -> TaskQueue {
        TaskQueue {
            store: self.clone(),
        }
    }
}

/// The wake-up topic of a queue.
fn topic(queue: &str) -> String {
    format!("queue:{queue}")
}

/// Waits for work on one queue: woken by enqueues, requeues and resumes (in this process, and
/// on PostgreSQL from any node), or when a timeout passes.
#[derive(Debug)]
pub struct Waiter {
    rx: watch::Receiver<u64>,
}

impl Waiter {
    /// Returns when something was signalled since the last call (or since the waiter was made),
    /// or after `timeout`, whichever is first. A signal that arrived before this call is not
    /// lost: the call returns at once.
    pub async fn wait(&mut self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.rx.changed()).await;
        self.rx.mark_unchanged();
    }
}

impl TaskQueue {
    /// A waiter for new work on `queue`. Make it before the fetch that may come back empty, so
    /// an enqueue between that fetch and the wait still wakes it.
    pub fn waiter(&self, queue: &str) -> Waiter {
        Waiter {
            rx: self.store.wake_on(&topic(queue)),
        }
    }

    /// The store this queue lives in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn duration_ms(duration: Duration) -> i64 {
        i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
    }
}
