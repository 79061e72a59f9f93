//! Queue workers against a real store: SQLite always, PostgreSQL when
//! `FOUNDATION_TEST_POSTGRES_URL` is set (see `foundation_store::testing`). Time is real here (the store does real I/O), so every
//! wait is for an event the worker causes, bounded by a generous hang guard.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use foundation_core::error::{Error, ErrorCode};
use foundation_protect::protection::Protection;
use foundation_protect::retry::{Backoff as RetryBackoff, RetryConfig};
use foundation_runtime::agent::StopReason;
use foundation_runtime::agent::{AgentConfig, spawn};
use foundation_runtime::supervisor::{SupervisorSpec, start as start_supervisor};
use foundation_runtime::worker::{QueueWorker, TaskHandler, WorkerConfig, WorkerMsg, handler_fn};
use foundation_store::on_each_backend;
use foundation_store::testing::Target;
use foundation_store::{
    Backoff, NewTask, QueueSettings, Store, TaskDetails, TaskId, TaskQueue, TaskState,
};
use serde_json::json;
use tokio::sync::mpsc;

const GUARD: Duration = Duration::from_secs(20);

on_each_backend!(
    runs_every_task_once_and_completes_it,
    errors_retry_then_dead_letter_with_each_attempts_error,
    non_retryable_errors_panics_and_timeouts_are_failures,
    the_protection_retries_within_one_attempt,
    a_protection_giving_up_leaves_the_task_to_its_own_retries,
    a_wake_up_starts_work_without_waiting_for_the_poll,
    stopping_returns_leases_of_unfinished_tasks,
    a_lost_lease_drops_the_work,
    a_supervised_worker_runs_and_an_unknown_queue_fails_its_start,
    completions_are_counted_only_once_committed,
    a_completion_whose_lease_was_lost_counts_as_lost,
    a_busy_worker_still_fills_its_last_free_slot,
);

/// Opens the target's store with the queue `jobs` declared.
async fn open(target: &Target) -> Store {
    let store = target.options().open().await.unwrap();
    store
        .tasks()
        .declare("jobs", QueueSettings::default())
        .await
        .unwrap();
    store
}

fn config() -> WorkerConfig {
    WorkerConfig {
        concurrency: 4,
        poll_interval: Duration::from_millis(20),
        shutdown_grace: Duration::from_secs(5),
        ..WorkerConfig::new("jobs")
    }
}

fn quick_retry() -> Backoff {
    Backoff::Fixed {
        delay: Duration::ZERO,
    }
}

/// A handler that reports each task's id on `tx` and succeeds.
fn reporting_ids(tx: mpsc::UnboundedSender<TaskId>) -> impl TaskHandler + Clone {
    handler_fn(move |task| {
        let tx = tx.clone();
        async move {
            tx.send(task.id).unwrap();
            Ok(())
        }
    })
}

/// Waits (on the queue's wake-ups, polling every 20 ms) until task `id` is dead; its details.
async fn dead_letter(tasks: &TaskQueue, id: TaskId) -> TaskDetails {
    let mut waiter = tasks.waiter("jobs");
    let wait = async {
        loop {
            let details = tasks.details(id).await.unwrap();
            if details.task.state == TaskState::Dead {
                return details;
            }
            waiter.wait(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(GUARD, wait)
        .await
        .expect("the task did not reach the dead-letter queue in time")
}

async fn recv<T>(rx: &mut mpsc::UnboundedReceiver<T>) -> T {
    tokio::time::timeout(GUARD, rx.recv())
        .await
        .expect("the worker did not get there in time")
        .expect("channel open")
}

async fn runs_every_task_once_and_completes_it(target: &Target) {
    let store = &open(target).await;
    let tasks = store.tasks();
    let ids = tasks
        .enqueue_batch(
            (0..20)
                .map(|i| NewTask::new("jobs", json!({"i": i})))
                .collect(),
        )
        .await
        .unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let worker = QueueWorker::new(tasks.clone(), config(), reporting_ids(tx)).unwrap();
    let handle = spawn(worker, AgentConfig::named("w")).await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..20 {
        seen.push(recv(&mut rx).await);
    }
    handle.stop(StopReason::Normal).await;
    seen.sort_unstable();
    assert_eq!(seen, ids);
    for id in ids {
        assert_eq!(tasks.task(id).await.unwrap().state, TaskState::Completed);
    }
    assert!(rx.try_recv().is_err(), "no task ran twice");
}

async fn errors_retry_then_dead_letter_with_each_attempts_error(target: &Target) {
    let store = &open(target).await;
    let tasks = store.tasks();
    let id = tasks
        .enqueue(
            NewTask::new("jobs", json!({}))
                .max_attempts(3)
                .backoff(quick_retry()),
        )
        .await
        .unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let worker = QueueWorker::new(
        tasks.clone(),
        config(),
        handler_fn(move |task| {
            let tx = tx.clone();
            async move {
                tx.send(task.attempt).unwrap();
                Err(Error::new(
                    ErrorCode::UNAVAILABLE,
                    format!("down on attempt {}", task.attempt),
                ))
            }
        }),
    )
    .unwrap();
    let handle = spawn(worker, AgentConfig::named("w")).await.unwrap();
    for attempt in 1..=3 {
        assert_eq!(recv(&mut rx).await, attempt);
    }
    let status = handle
        .call(WorkerMsg::Status, Duration::from_secs(5))
        .await
        .unwrap();
    handle.stop(StopReason::Normal).await;
    let details = tasks.details(id).await.unwrap();
    assert_eq!(details.task.state, TaskState::Dead);
    assert_eq!(details.errors.len(), 3);
    assert!(details.errors[2].error.contains("down on attempt 3"));
    assert_eq!(details.errors[0].worker.as_deref(), Some("jobs-worker"));
    // The status may be read before the last failure was recorded.
    assert!(status.retried <= 2 && status.dead <= 1, "{status:?}");
}

async fn non_retryable_errors_panics_and_timeouts_are_failures(target: &Target) {
    let store = &open(target).await;
    let tasks = store.tasks();
    let fatal = tasks
        .enqueue(NewTask::new("jobs", json!({"kind": "fatal"})).max_attempts(5))
        .await
        .unwrap();
    let panics = tasks
        .enqueue(NewTask::new("jobs", json!({"kind": "panic"})).max_attempts(1))
        .await
        .unwrap();
    let slow = tasks
        .enqueue(
            NewTask::new("jobs", json!({"kind": "slow"}))
                .max_attempts(1)
                .timeout(Duration::from_millis(50)),
        )
        .await
        .unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let worker = QueueWorker::new(
        tasks.clone(),
        config(),
        handler_fn(move |task| {
            let tx = tx.clone();
            async move {
                tx.send(()).unwrap();
                match task.payload["kind"].as_str() {
                    Some("fatal") => Err(Error::invalid_input("to", "no such address")),
                    Some("panic") => panic!("boom in the handler"),
                    _ => std::future::pending().await,
                }
            }
        }),
    )
    .unwrap();
    let handle = spawn(worker, AgentConfig::named("w")).await.unwrap();
    for _ in 0..3 {
        recv(&mut rx).await;
    }
    // Each reaches the dead-letter queue after exactly one attempt.
    for (id, words) in [
        (fatal, "no such address"),
        (panics, "panicked: boom in the handler"),
        (slow, "timeout"),
    ] {
        let details = dead_letter(&tasks, id).await;
        assert_eq!(details.errors.len(), 1, "{id}");
        assert!(details.errors[0].error.contains(words), "{details:?}");
    }
    handle.stop(StopReason::Normal).await;
    assert!(rx.try_recv().is_err(), "none was retried");
}

async fn the_protection_retries_within_one_attempt(target: &Target) {
    let store = &open(target).await;
    let tasks = store.tasks();
    let id = tasks
        .enqueue(NewTask::new("jobs", json!({})).max_attempts(1))
        .await
        .unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let counter = calls.clone();
    let protection = Protection::builder("jobs")
        .retry(RetryConfig {
            max_attempts: 3,
            backoff: RetryBackoff::Constant {
                delay: Duration::from_millis(1),
            },
            ..RetryConfig::default()
        })
        .build()
        .unwrap();
    let worker = QueueWorker::new(
        tasks.clone(),
        config(),
        handler_fn(move |_task| {
            let counter = counter.clone();
            let tx = tx.clone();
            async move {
                if counter.fetch_add(1, Ordering::SeqCst) < 2 {
                    return Err(Error::new(ErrorCode::NETWORK, "connection reset"));
                }
                tx.send(()).unwrap();
                Ok(())
            }
        }),
    )
    .unwrap()
    .protection(protection);
    let handle = spawn(worker, AgentConfig::named("w")).await.unwrap();
    recv(&mut rx).await;
    handle.stop(StopReason::Normal).await;
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let task = tasks.task(id).await.unwrap();
    assert_eq!((task.state, task.attempt), (TaskState::Completed, 1));
}

async fn a_wake_up_starts_work_without_waiting_for_the_poll(target: &Target) {
    let store = &open(target).await;
    let tasks = store.tasks();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let worker = QueueWorker::new(
        tasks.clone(),
        WorkerConfig {
            // Polling alone would take an hour: only the wake-up can start the task in time.
            poll_interval: Duration::from_secs(3_600),
            drive_cron: false,
            ..config()
        },
        reporting_ids(tx),
    )
    .unwrap();
    let handle = spawn(worker, AgentConfig::named("w")).await.unwrap();
    // Let the worker find the queue empty and go to sleep first.
    handle
        .call(WorkerMsg::Status, Duration::from_secs(5))
        .await
        .unwrap();
    let id = tasks
        .enqueue(NewTask::new("jobs", json!({})))
        .await
        .unwrap();
    assert_eq!(recv(&mut rx).await, id);
    handle.stop(StopReason::Normal).await;
}

async fn stopping_returns_leases_of_unfinished_tasks(target: &Target) {
    let store = &open(target).await;
    let tasks = store.tasks();
    let id = tasks
        .enqueue(NewTask::new("jobs", json!({})).max_attempts(1))
        .await
        .unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let worker = QueueWorker::new(
        tasks.clone(),
        WorkerConfig {
            shutdown_grace: Duration::from_millis(50),
            ..config()
        },
        handler_fn(move |_task| {
            let tx = tx.clone();
            async move {
                tx.send(()).unwrap();
                std::future::pending().await
            }
        }),
    )
    .unwrap();
    let handle = spawn(worker, AgentConfig::named("w")).await.unwrap();
    recv(&mut rx).await;
    handle.stop(StopReason::Normal).await;
    let task = tasks.task(id).await.unwrap();
    assert_eq!((task.state, task.attempt), (TaskState::Available, 0));
    assert_eq!(task.lease_owner, None);
}

/// Sends on drop: proves the handler's future was dropped.
struct Dropped(mpsc::UnboundedSender<&'static str>);

impl Drop for Dropped {
    fn drop(&mut self) {
        let _ = self.0.send("dropped");
    }
}

async fn a_lost_lease_drops_the_work(target: &Target) {
    let store = &open(target).await;
    let tasks = store.tasks();
    let id = tasks
        .enqueue(NewTask::new("jobs", json!({})))
        .await
        .unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let worker = QueueWorker::new(
        tasks.clone(),
        WorkerConfig {
            lease: Duration::from_secs(10),
            heartbeat: Duration::from_millis(20),
            ..config()
        },
        handler_fn(move |_task| {
            let tx = tx.clone();
            async move {
                let _guard = Dropped(tx.clone());
                tx.send("started").unwrap();
                std::future::pending().await
            }
        }),
    )
    .unwrap();
    let handle = spawn(worker, AgentConfig::named("w")).await.unwrap();
    assert_eq!(recv(&mut rx).await, "started");
    assert_eq!(tasks.cancel(id).await.unwrap(), TaskState::Cancelled);
    assert_eq!(recv(&mut rx).await, "dropped");
    let status = handle
        .call(WorkerMsg::Status, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(status.lost, 1);
    handle.stop(StopReason::Normal).await;
    assert_eq!(tasks.task(id).await.unwrap().state, TaskState::Cancelled);
}

async fn a_supervised_worker_runs_and_an_unknown_queue_fails_its_start(target: &Target) {
    let store = &open(target).await;
    let tasks = store.tasks();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let handler = reporting_ids(tx);
    let spec = SupervisorSpec::new("workers").child(
        QueueWorker::child(
            "jobs-worker",
            tasks.clone(),
            config(),
            handler.clone(),
            None,
        )
        .unwrap(),
    );
    let supervisor = start_supervisor(spec).await.unwrap();
    let id = tasks
        .enqueue(NewTask::new("jobs", json!({})))
        .await
        .unwrap();
    assert_eq!(recv(&mut rx).await, id);
    supervisor.shutdown().await;

    let err = spawn(
        QueueWorker::new(tasks.clone(), WorkerConfig::new("nowhere"), handler).unwrap(),
        AgentConfig::named("w"),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("nowhere"), "{err}");
}

/// Asks the worker for its status until `done` holds, checking `each` on every answer.
async fn watch_status(
    handle: &foundation_runtime::agent::AgentHandle<
        QueueWorker<impl foundation_runtime::worker::TaskHandler>,
    >,
    mut each: impl AsyncFnMut(&foundation_runtime::worker::WorkerStatus),
    done: impl Fn(&foundation_runtime::worker::WorkerStatus) -> bool,
) -> foundation_runtime::worker::WorkerStatus {
    let watch = async {
        loop {
            let status = handle
                .call(WorkerMsg::Status, Duration::from_secs(5))
                .await
                .unwrap();
            each(&status).await;
            if done(&status) {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    tokio::time::timeout(GUARD, watch)
        .await
        .expect("the worker did not get there in time")
}

async fn completions_are_counted_only_once_committed(target: &Target) {
    let store = &open(target).await;
    let tasks = store.tasks();
    let ids = tasks
        .enqueue_batch(
            (0..60)
                .map(|i| NewTask::new("jobs", json!({"i": i})).max_attempts(1))
                .collect(),
        )
        .await
        .unwrap();
    let worker = QueueWorker::new(
        tasks.clone(),
        WorkerConfig {
            concurrency: 8,
            ..config()
        },
        handler_fn(|task| async move {
            match task.payload["i"].as_u64() {
                Some(i) if i % 3 == 0 => Err(Error::new(ErrorCode::INTERNAL, "every third")),
                _ => Ok(()),
            }
        }),
    )
    .unwrap();
    let handle = spawn(worker, AgentConfig::named("w")).await.unwrap();
    // Whenever the worker says a task completed, the store already says so too.
    let status = watch_status(
        &handle,
        async |status| {
            let committed = tasks.stats("jobs").await.unwrap().completed;
            assert!(
                committed >= status.completed,
                "counted {} completions, {committed} committed",
                status.completed
            );
        },
        |status| status.completed + status.dead == 60,
    )
    .await;
    assert_eq!((status.completed, status.dead, status.lost), (40, 20, 0));
    assert_eq!(status.in_flight, 0);
    handle.stop(StopReason::Normal).await;
    for id in ids {
        let state = tasks.task(id).await.unwrap().state;
        assert!(matches!(state, TaskState::Completed | TaskState::Dead));
    }
    assert_eq!(tasks.stats("jobs").await.unwrap().completed, 40);
}

async fn a_completion_whose_lease_was_lost_counts_as_lost(target: &Target) {
    let store = &open(target).await;
    let tasks = store.tasks();
    let id = tasks
        .enqueue(NewTask::new("jobs", json!({})))
        .await
        .unwrap();
    let cancel = tasks.clone();
    // The handler succeeds, but its task is cancelled before the completion is committed.
    let worker = QueueWorker::new(
        tasks.clone(),
        config(),
        handler_fn(move |task| {
            let cancel = cancel.clone();
            async move {
                cancel.cancel(task.id).await?;
                Ok(())
            }
        }),
    )
    .unwrap();
    let handle = spawn(worker, AgentConfig::named("w")).await.unwrap();
    let status = watch_status(&handle, async |_| {}, |status| status.lost == 1).await;
    assert_eq!(status.completed, 0);
    assert_eq!(status.in_flight, 0);
    handle.stop(StopReason::Normal).await;
    assert_eq!(tasks.task(id).await.unwrap().state, TaskState::Cancelled);
}

async fn a_busy_worker_still_fills_its_last_free_slot(target: &Target) {
    let store = &open(target).await;
    let tasks = store.tasks();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let worker = QueueWorker::new(
        tasks.clone(),
        WorkerConfig {
            concurrency: 4,
            shutdown_grace: Duration::from_millis(50),
            ..config()
        },
        handler_fn(move |task| {
            let tx = tx.clone();
            async move {
                tx.send(task.id).unwrap();
                if task.payload["block"] == json!(true) {
                    std::future::pending::<()>().await;
                }
                Ok(())
            }
        }),
    )
    .unwrap();
    let handle = spawn(worker, AgentConfig::named("w")).await.unwrap();
    let blocking = tasks
        .enqueue_batch(
            (0..3)
                .map(|_| NewTask::new("jobs", json!({"block": true})))
                .collect(),
        )
        .await
        .unwrap();
    let mut started = Vec::new();
    for _ in 0..3 {
        started.push(recv(&mut rx).await);
    }
    started.sort_unstable();
    assert_eq!(started, blocking);
    // Three of four slots are busy for good: the one free slot still takes new work.
    let quick = tasks
        .enqueue(NewTask::new("jobs", json!({})))
        .await
        .unwrap();
    assert_eq!(recv(&mut rx).await, quick);
    handle.stop(StopReason::Normal).await;
    assert_eq!(tasks.task(quick).await.unwrap().state, TaskState::Completed);
    for id in blocking {
        assert_eq!(tasks.task(id).await.unwrap().state, TaskState::Available);
    }
}

async fn a_protection_giving_up_leaves_the_task_to_its_own_retries(target: &Target) {
    let store = &open(target).await;
    let tasks = store.tasks();
    let id = tasks
        .enqueue(
            NewTask::new("jobs", json!({}))
                .max_attempts(2)
                .backoff(quick_retry()),
        )
        .await
        .unwrap();
    let protection = Protection::builder("jobs")
        .retry(RetryConfig {
            max_attempts: 2,
            backoff: RetryBackoff::Constant {
                delay: Duration::from_millis(1),
            },
            ..RetryConfig::default()
        })
        .build()
        .unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let worker = QueueWorker::new(
        tasks.clone(),
        config(),
        handler_fn(move |task| {
            let tx = tx.clone();
            async move {
                tx.send(task.attempt).unwrap();
                Err(Error::new(ErrorCode::NETWORK, "connection reset"))
            }
        }),
    )
    .unwrap()
    .protection(protection);
    let handle = spawn(worker, AgentConfig::named("w")).await.unwrap();
    // Two calls per task attempt (the protection's retry), two task attempts.
    let mut calls = Vec::new();
    for _ in 0..4 {
        calls.push(recv(&mut rx).await);
    }
    assert_eq!(calls, [1, 1, 2, 2]);
    let details = dead_letter(&tasks, id).await;
    handle.stop(StopReason::Normal).await;
    assert_eq!(details.errors.len(), 2);
    assert!(
        details.errors[1].error.contains("retry_exhausted"),
        "{details:?}"
    );
}
