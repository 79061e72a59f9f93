//! The task queue's behaviour, on SQLite and (when configured) PostgreSQL.

use std::collections::BTreeSet;
use std::time::Duration;

use foundation_core::error::ErrorCode;
use foundation_core::{ManualClock, TelemetryBus};
use foundation_store::on_each_backend;
use foundation_store::testing::Target;
use foundation_store::{
    Backoff, CronSchedule, DeadLetterFilter, Failure, FailureOutcome, LeasesExpired, NewTask,
    QueueSettings, Store, TaskDeadLettered, TaskQueue, TaskState,
};
use serde_json::json;

on_each_backend!(
    enqueue_fetch_complete_round_trip,
    fetch_orders_by_priority_then_run_at_then_enqueue_order,
    scheduled_tasks_wait_for_their_time,
    unique_key_admits_one_task_and_names_the_holder,
    concurrent_enqueues_with_one_unique_key_admit_exactly_one,
    batch_enqueue_is_all_or_nothing,
    a_long_task_is_never_handed_to_a_second_worker_while_heartbeating,
    an_expired_lease_hands_the_task_on_and_the_old_worker_loses_it,
    failures_retry_with_backoff_then_dead_letter_with_every_error,
    a_non_retryable_failure_dead_letters_at_once,
    dead_letters_list_filter_requeue_and_discard,
    cancel_stops_waiting_and_running_tasks,
    concurrency_limit_holds_across_workers,
    paused_queues_hand_out_nothing_until_resumed,
    cron_enqueues_once_per_tick_across_drivers,
    prune_removes_old_finished_tasks_only,
    stats_count_states_oldest_age_and_throughput,
    release_returns_a_task_without_spending_an_attempt,
    concurrent_fetchers_never_share_a_task,
    waiter_wakes_on_enqueue,
    tasks_survive_reopening_the_store,
    dead_letters_and_expired_leases_are_published_on_the_bus,
);

async fn open(t: &Target) -> (Store, TaskQueue, ManualClock) {
    let clock = ManualClock::new();
    let store = t.options().clock(clock.clock()).open().await.unwrap();
    let tasks = store.tasks();
    tasks.declare("q", QueueSettings::default()).await.unwrap();
    (store, tasks, clock)
}

const LEASE: Duration = Duration::from_secs(30);

fn no_jitter(initial_secs: u64) -> Backoff {
    Backoff::Exponential {
        initial: Duration::from_secs(initial_secs),
        max: Duration::from_secs(3600),
        multiplier: 2.0,
        jitter: 0.0,
    }
}

async fn enqueue_fetch_complete_round_trip(t: &Target) {
    let (store, tasks, _clock) = open(t).await;
    let id = tasks
        .enqueue(
            NewTask::new("q", json!({"to": "ada"}))
                .priority(2)
                .max_attempts(3)
                .timeout(Duration::from_secs(9))
                .tag("mail")
                .trace_context("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        )
        .await
        .unwrap();
    let task = tasks.task(id).await.unwrap();
    assert_eq!(task.state, TaskState::Available);
    assert_eq!(task.attempt, 0);

    let leased = tasks.fetch("q", "w1", 10, LEASE).await.unwrap();
    assert_eq!(leased.len(), 1);
    let got = &leased[0].task;
    assert_eq!(got.id, id);
    assert_eq!(got.payload, json!({"to": "ada"}));
    assert_eq!(got.priority, 2);
    assert_eq!(got.attempt, 1);
    assert_eq!(got.max_attempts, 3);
    assert_eq!(got.timeout, Some(Duration::from_secs(9)));
    assert_eq!(got.tags, ["mail"]);
    assert!(got.trace_context.as_deref().unwrap().starts_with("00-4bf9"));
    assert_eq!(got.state, TaskState::Running);
    assert_eq!(got.lease_owner.as_deref(), Some("w1"));
    assert_eq!(leased[0].lease.expires_at_ms, store.now_ms() + 30_000);

    assert!(tasks.fetch("q", "w2", 10, LEASE).await.unwrap().is_empty());
    tasks.complete(&leased[0].lease).await.unwrap();
    let done = tasks.task(id).await.unwrap();
    assert_eq!(done.state, TaskState::Completed);
    assert!(done.finished_at_ms.is_some());
    assert_eq!(done.lease_owner, None);
    // Completing twice is refused: the lease ended with the first completion.
    let err = tasks.complete(&leased[0].lease).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::TASK_LEASE_LOST);
    store.close().await;
}

async fn fetch_orders_by_priority_then_run_at_then_enqueue_order(t: &Target) {
    let (store, tasks, clock) = open(t).await;
    let now = store.now_ms();
    let low = tasks
        .enqueue(NewTask::new("q", json!({"n": 1})).priority(5))
        .await
        .unwrap();
    let high_late = tasks
        .enqueue(
            NewTask::new("q", json!({"n": 2}))
                .priority(1)
                .run_at_ms(now - 10),
        )
        .await
        .unwrap();
    let high_early = tasks
        .enqueue(
            NewTask::new("q", json!({"n": 3}))
                .priority(1)
                .run_at_ms(now - 20),
        )
        .await
        .unwrap();
    let low_second = tasks
        .enqueue(NewTask::new("q", json!({"n": 4})).priority(5))
        .await
        .unwrap();
    clock.advance(Duration::from_millis(1));
    let ids: Vec<_> = tasks
        .fetch("q", "w", 10, LEASE)
        .await
        .unwrap()
        .iter()
        .map(|l| l.task.id)
        .collect();
    assert_eq!(ids, [high_early, high_late, low, low_second]);

    // A fetch of one takes the first in that order.
    for n in 0..3 {
        tasks
            .enqueue(NewTask::new("q", json!({"n": n})).priority(9 - n))
            .await
            .unwrap();
    }
    let one = tasks.fetch("q", "w", 1, LEASE).await.unwrap();
    assert_eq!(one[0].task.priority, 7);
    store.close().await;
}

async fn scheduled_tasks_wait_for_their_time(t: &Target) {
    let (store, tasks, clock) = open(t).await;
    let id = tasks
        .enqueue(NewTask::new("q", json!({})).delay(Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(
        tasks.next_run_at("q").await.unwrap(),
        Some(store.now_ms() + 60_000)
    );
    assert!(tasks.fetch("q", "w", 10, LEASE).await.unwrap().is_empty());
    clock.advance(Duration::from_secs(59));
    assert!(tasks.fetch("q", "w", 10, LEASE).await.unwrap().is_empty());
    clock.advance(Duration::from_secs(1));
    let leased = tasks.fetch("q", "w", 10, LEASE).await.unwrap();
    assert_eq!(leased[0].task.id, id);
    store.close().await;
}

async fn unique_key_admits_one_task_and_names_the_holder(t: &Target) {
    let (store, tasks, clock) = open(t).await;
    let first = tasks
        .enqueue(NewTask::new("q", json!({})).unique_key("order-7"))
        .await
        .unwrap();
    let err = tasks
        .enqueue(NewTask::new("q", json!({"again": true})).unique_key("order-7"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::TASK_DUPLICATE);
    assert_eq!(
        err.context_value("existing_id"),
        Some(first.to_string().as_str())
    );
    // Another queue may use the same key.
    tasks
        .declare("other", QueueSettings::default())
        .await
        .unwrap();
    tasks
        .enqueue(NewTask::new("other", json!({})).unique_key("order-7"))
        .await
        .unwrap();

    // Running and completed tasks keep the key; pruning the completed one frees it.
    let leased = tasks.fetch("q", "w", 1, LEASE).await.unwrap();
    let dup = |tasks: TaskQueue| async move {
        tasks
            .enqueue(NewTask::new("q", json!({})).unique_key("order-7"))
            .await
    };
    assert_eq!(
        dup(tasks.clone()).await.unwrap_err().code(),
        ErrorCode::TASK_DUPLICATE
    );
    tasks.complete(&leased[0].lease).await.unwrap();
    assert_eq!(
        dup(tasks.clone()).await.unwrap_err().code(),
        ErrorCode::TASK_DUPLICATE
    );
    clock.advance(Duration::from_secs(10));
    assert_eq!(tasks.prune(Duration::from_secs(5)).await.unwrap(), 1);
    let second = dup(tasks.clone()).await.unwrap();

    // A cancelled task frees its key.
    assert_eq!(tasks.cancel(second).await.unwrap(), TaskState::Cancelled);
    dup(tasks.clone()).await.unwrap();
    store.close().await;
}

async fn concurrent_enqueues_with_one_unique_key_admit_exactly_one(t: &Target) {
    let (store, tasks, _clock) = open(t).await;
    let attempts = (0..16).map(|i| {
        let tasks = tasks.clone();
        tokio::spawn(async move {
            tasks
                .enqueue(NewTask::new("q", json!({"i": i})).unique_key("once"))
                .await
        })
    });
    let results = futures::future::join_all(attempts).await;
    let mut won = 0;
    for result in results {
        match result.unwrap() {
            Ok(_) => won += 1,
            Err(e) => assert_eq!(e.code(), ErrorCode::TASK_DUPLICATE, "{e}"),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(tasks.stats("q").await.unwrap().available, 1);
    store.close().await;
}

async fn batch_enqueue_is_all_or_nothing(t: &Target) {
    let (store, tasks, _clock) = open(t).await;
    let ids = tasks
        .enqueue_batch(
            (0..1_200)
                .map(|i| NewTask::new("q", json!({"i": i})))
                .collect(),
        )
        .await
        .unwrap();
    assert_eq!(ids.len(), 1_200);
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids in the order given"
    );
    assert_eq!(tasks.task(ids[7]).await.unwrap().payload, json!({"i": 7}));

    // A duplicate key inside the batch refuses all of it.
    let err = tasks
        .enqueue_batch(vec![
            NewTask::new("q", json!({})).unique_key("a"),
            NewTask::new("q", json!({})),
            NewTask::new("q", json!({})).unique_key("a"),
        ])
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::TASK_DUPLICATE);
    // An undeclared queue or a bad task refuses all of it, naming the task.
    let err = tasks
        .enqueue_batch(vec![
            NewTask::new("q", json!({})),
            NewTask::new("nowhere", json!({})),
        ])
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NOT_FOUND);
    let err = tasks
        .enqueue_batch(vec![
            NewTask::new("q", json!({})),
            NewTask::new("q", json!(1)),
        ])
        .await
        .unwrap_err();
    assert_eq!(err.context_value("index"), Some("1"));
    assert_eq!(tasks.stats("q").await.unwrap().available, 1_200);
    store.close().await;
}

async fn a_long_task_is_never_handed_to_a_second_worker_while_heartbeating(t: &Target) {
    let (store, tasks, clock) = open(t).await;
    let id = tasks.enqueue(NewTask::new("q", json!({}))).await.unwrap();
    let lease_time = Duration::from_secs(10);
    let mut lease = tasks.fetch("q", "slow", 1, lease_time).await.unwrap()[0]
        .lease
        .clone();
    // The task runs for ten lease periods; the worker heartbeats every half period.
    for _ in 0..20 {
        clock.advance(Duration::from_secs(5));
        lease = tasks.heartbeat(&lease, lease_time).await.unwrap();
        assert!(
            tasks
                .fetch("q", "other", 10, lease_time)
                .await
                .unwrap()
                .is_empty()
        );
    }
    tasks.complete(&lease).await.unwrap();
    let task = tasks.task(id).await.unwrap();
    assert_eq!((task.state, task.attempt), (TaskState::Completed, 1));
    store.close().await;
}

async fn an_expired_lease_hands_the_task_on_and_the_old_worker_loses_it(t: &Target) {
    let (store, tasks, clock) = open(t).await;
    let id = tasks.enqueue(NewTask::new("q", json!({}))).await.unwrap();
    let old = tasks.fetch("q", "gone", 1, LEASE).await.unwrap()[0]
        .lease
        .clone();
    clock.advance(LEASE + Duration::from_millis(1));
    let new = tasks.fetch("q", "fresh", 1, LEASE).await.unwrap();
    assert_eq!(new[0].task.id, id);
    assert_eq!(new[0].task.attempt, 2, "the lost attempt counts");

    for err in [
        tasks.heartbeat(&old, LEASE).await.unwrap_err(),
        tasks.complete(&old).await.unwrap_err(),
        tasks.fail(&old, Failure::retry("late")).await.unwrap_err(),
        tasks.release(&old).await.unwrap_err(),
    ] {
        assert_eq!(err.code(), ErrorCode::TASK_LEASE_LOST, "{err}");
        assert_eq!(err.context_value("worker"), Some("gone"));
    }
    tasks.complete(&new[0].lease).await.unwrap();
    let details = tasks.details(id).await.unwrap();
    assert_eq!(details.task.state, TaskState::Completed);
    assert_eq!(details.errors.len(), 1);
    assert!(details.errors[0].error.contains("lease expired"));
    assert_eq!(details.errors[0].worker.as_deref(), Some("gone"));
    store.close().await;
}

async fn failures_retry_with_backoff_then_dead_letter_with_every_error(t: &Target) {
    let (store, tasks, clock) = open(t).await;
    let id = tasks
        .enqueue(
            NewTask::new("q", json!({}))
                .max_attempts(3)
                .backoff(no_jitter(10)),
        )
        .await
        .unwrap();
    let mut expected_delays = vec![10_000, 20_000].into_iter();
    for attempt in 1..=3u32 {
        let leased = tasks.fetch("q", "w", 1, LEASE).await.unwrap();
        assert_eq!(leased[0].task.attempt, attempt);
        let outcome = tasks
            .fail(&leased[0].lease, Failure::retry(format!("boom {attempt}")))
            .await
            .unwrap();
        match expected_delays.next() {
            Some(delay) => {
                assert_eq!(
                    outcome,
                    FailureOutcome::Retrying {
                        run_at_ms: store.now_ms() + delay
                    }
                );
                assert!(tasks.fetch("q", "w", 1, LEASE).await.unwrap().is_empty());
                clock.advance(Duration::from_millis(u64::try_from(delay).unwrap()));
            }
            None => assert_eq!(outcome, FailureOutcome::Dead),
        }
    }
    let details = tasks.details(id).await.unwrap();
    assert_eq!(details.task.state, TaskState::Dead);
    let errors: Vec<_> = details
        .errors
        .iter()
        .map(|e| (e.attempt, e.error.as_str()))
        .collect();
    assert_eq!(errors, [(1, "boom 1"), (2, "boom 2"), (3, "boom 3")]);

    // A failure's retry_after overrides the backoff.
    let id = tasks
        .enqueue(NewTask::new("q", json!({})).backoff(no_jitter(10)))
        .await
        .unwrap();
    let leased = tasks.fetch("q", "w", 1, LEASE).await.unwrap();
    assert_eq!(leased[0].task.id, id);
    let outcome = tasks
        .fail(
            &leased[0].lease,
            Failure {
                retry_after: Some(Duration::from_secs(2)),
                ..Failure::retry("rate limited")
            },
        )
        .await
        .unwrap();
    assert_eq!(
        outcome,
        FailureOutcome::Retrying {
            run_at_ms: store.now_ms() + 2_000
        }
    );
    store.close().await;
}

async fn a_non_retryable_failure_dead_letters_at_once(t: &Target) {
    let (store, tasks, _clock) = open(t).await;
    let id = tasks
        .enqueue(NewTask::new("q", json!({})).max_attempts(10))
        .await
        .unwrap();
    let leased = tasks.fetch("q", "w", 1, LEASE).await.unwrap();
    let outcome = tasks
        .fail(&leased[0].lease, Failure::discard("invalid address"))
        .await
        .unwrap();
    assert_eq!(outcome, FailureOutcome::Dead);
    assert_eq!(tasks.task(id).await.unwrap().state, TaskState::Dead);
    store.close().await;
}

/// Enqueues a task with `tags` and fails it straight into the dead-letter queue. It is due a
/// day ago, so it is fetched before anything else waiting in the queue.
async fn kill(tasks: &TaskQueue, queue: &str, tags: &[&str]) -> i64 {
    let day_ago = tasks.store().now_ms() - 86_400_000;
    let mut task = NewTask::new(queue, json!({"tags": tags}))
        .max_attempts(1)
        .run_at_ms(day_ago);
    for tag in tags {
        task = task.tag(*tag);
    }
    let id = tasks.enqueue(task).await.unwrap();
    let leased = tasks.fetch(queue, "w", 1, LEASE).await.unwrap();
    assert_eq!(leased[0].task.id, id);
    tasks
        .fail(&leased[0].lease, Failure::retry(format!("error of {id}")))
        .await
        .unwrap();
    id
}

async fn dead_letters_list_filter_requeue_and_discard(t: &Target) {
    let (store, tasks, _clock) = open(t).await;
    tasks.declare("b", QueueSettings::default()).await.unwrap();
    let a1 = kill(&tasks, "q", &["red"]).await;
    let a2 = kill(&tasks, "q", &["blue", "red_x"]).await;
    let b1 = kill(&tasks, "b", &["red"]).await;

    let all = tasks
        .dead_letters(&DeadLetterFilter::default())
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|d| d.task.id).collect::<Vec<_>>(),
        [a1, a2, b1]
    );
    assert_eq!(all[0].errors[0].error, format!("error of {a1}"));
    let q_only = tasks
        .dead_letters(&DeadLetterFilter::queue("q"))
        .await
        .unwrap();
    assert_eq!(q_only.len(), 2);
    // Tag filters match whole tags: "red" does not match "red_x".
    let red = DeadLetterFilter {
        tag: Some("red".into()),
        ..DeadLetterFilter::default()
    };
    let ids: Vec<_> = tasks
        .dead_letters(&red)
        .await
        .unwrap()
        .iter()
        .map(|d| d.task.id)
        .collect();
    assert_eq!(ids, [a1, b1]);
    let page = DeadLetterFilter {
        after_id: Some(a1),
        limit: Some(1),
        ..DeadLetterFilter::default()
    };
    assert_eq!(tasks.dead_letters(&page).await.unwrap()[0].task.id, a2);

    // Requeue one: it runs again with fresh attempts; its history stays.
    tasks.requeue(a1).await.unwrap();
    let again = tasks.fetch("q", "w", 10, LEASE).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].task.id, again[0].task.attempt), (a1, 1));
    assert_eq!(tasks.details(a1).await.unwrap().errors.len(), 1);
    tasks.complete(&again[0].lease).await.unwrap();
    let err = tasks.requeue(a1).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::NOT_FOUND, "only dead tasks requeue");

    // Requeue by filter, discard one and by filter.
    assert_eq!(tasks.requeue_where(&red).await.unwrap(), 1);
    assert_eq!(tasks.task(b1).await.unwrap().state, TaskState::Available);
    tasks.discard(a2).await.unwrap();
    assert_eq!(
        tasks.task(a2).await.unwrap_err().code(),
        ErrorCode::NOT_FOUND
    );
    assert_eq!(
        tasks.discard(a2).await.unwrap_err().code(),
        ErrorCode::NOT_FOUND
    );
    let b2 = kill(&tasks, "b", &[]).await;
    assert_eq!(
        tasks
            .discard_where(&DeadLetterFilter::queue("b"))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        tasks.task(b2).await.unwrap_err().code(),
        ErrorCode::NOT_FOUND
    );
    store.close().await;
}

async fn cancel_stops_waiting_and_running_tasks(t: &Target) {
    let (store, tasks, _clock) = open(t).await;
    let waiting = tasks.enqueue(NewTask::new("q", json!({}))).await.unwrap();
    assert_eq!(tasks.cancel(waiting).await.unwrap(), TaskState::Cancelled);
    assert!(tasks.fetch("q", "w", 10, LEASE).await.unwrap().is_empty());

    let running = tasks.enqueue(NewTask::new("q", json!({}))).await.unwrap();
    let leased = tasks.fetch("q", "w", 1, LEASE).await.unwrap();
    assert_eq!(tasks.cancel(running).await.unwrap(), TaskState::Cancelled);
    let err = tasks.heartbeat(&leased[0].lease, LEASE).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::TASK_LEASE_LOST);

    let done = tasks.enqueue(NewTask::new("q", json!({}))).await.unwrap();
    let leased = tasks.fetch("q", "w", 1, LEASE).await.unwrap();
    tasks.complete(&leased[0].lease).await.unwrap();
    assert_eq!(tasks.cancel(done).await.unwrap(), TaskState::Completed);
    assert_eq!(
        tasks.cancel(9_999_999).await.unwrap_err().code(),
        ErrorCode::NOT_FOUND
    );
    store.close().await;
}

async fn concurrency_limit_holds_across_workers(t: &Target) {
    let (store, tasks, _clock) = open(t).await;
    tasks
        .declare("limited", QueueSettings::concurrency(3))
        .await
        .unwrap();
    for _ in 0..10 {
        tasks
            .enqueue(NewTask::new("limited", json!({})))
            .await
            .unwrap();
    }
    let a = tasks.fetch("limited", "a", 2, LEASE).await.unwrap();
    let b = tasks.fetch("limited", "b", 5, LEASE).await.unwrap();
    assert_eq!((a.len(), b.len()), (2, 1));
    assert!(
        tasks
            .fetch("limited", "c", 5, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    tasks.complete(&a[0].lease).await.unwrap();
    assert_eq!(
        tasks.fetch("limited", "c", 5, LEASE).await.unwrap().len(),
        1
    );
    assert_eq!(
        tasks.queue("limited").await.unwrap().settings.concurrency,
        Some(3)
    );
    store.close().await;
}

async fn paused_queues_hand_out_nothing_until_resumed(t: &Target) {
    let (store, tasks, _clock) = open(t).await;
    tasks.pause("q").await.unwrap();
    tasks.enqueue(NewTask::new("q", json!({}))).await.unwrap();
    assert!(tasks.fetch("q", "w", 10, LEASE).await.unwrap().is_empty());
    assert!(tasks.stats("q").await.unwrap().paused);
    tasks.resume("q").await.unwrap();
    assert_eq!(tasks.fetch("q", "w", 10, LEASE).await.unwrap().len(), 1);
    assert_eq!(
        tasks.pause("nope").await.unwrap_err().code(),
        ErrorCode::NOT_FOUND
    );
    store.close().await;
}

async fn cron_enqueues_once_per_tick_across_drivers(t: &Target) {
    let (store, tasks, clock) = open(t).await;
    tasks
        .schedule(CronSchedule::new(
            "report",
            "*/10 * * * * *",
            NewTask::new("q", json!({"kind": "report"})),
        ))
        .await
        .unwrap();
    let (schedule, next) = tasks.schedules().await.unwrap().remove(0);
    assert_eq!(schedule.name, "report");
    assert!(tasks.enqueue_due().await.unwrap().is_empty(), "no tick yet");

    clock.advance(Duration::from_millis(
        u64::try_from(next - store.now_ms()).unwrap(),
    ));
    // A second driver on its own handle (another node) races the first for the same tick.
    let other = t.options().clock(clock.clock()).open().await.unwrap();
    let other_tasks = other.tasks();
    let (mine, theirs) = tokio::join!(tasks.enqueue_due(), other_tasks.enqueue_due());
    assert_eq!(mine.unwrap().len() + theirs.unwrap().len(), 1);
    assert!(tasks.enqueue_due().await.unwrap().is_empty());
    assert_eq!(tasks.stats("q").await.unwrap().available, 1);

    // Several ticks missed: only the latest is enqueued.
    clock.advance(Duration::from_secs(35));
    assert_eq!(tasks.enqueue_due().await.unwrap().len(), 1);
    assert_eq!(tasks.stats("q").await.unwrap().available, 2);

    let err = tasks
        .schedule(CronSchedule::new(
            "bad",
            "every day",
            NewTask::new("q", json!({})),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.context_value("field"), Some("expression"));
    tasks.unschedule("report").await.unwrap();
    assert_eq!(
        tasks.unschedule("report").await.unwrap_err().code(),
        ErrorCode::NOT_FOUND
    );
    other.close().await;
    store.close().await;
}

async fn prune_removes_old_finished_tasks_only(t: &Target) {
    let (store, tasks, clock) = open(t).await;
    let done = tasks.enqueue(NewTask::new("q", json!({}))).await.unwrap();
    let leased = tasks.fetch("q", "w", 1, LEASE).await.unwrap();
    tasks.complete(&leased[0].lease).await.unwrap();
    let cancelled = tasks.enqueue(NewTask::new("q", json!({}))).await.unwrap();
    tasks.cancel(cancelled).await.unwrap();
    let dead = kill(&tasks, "q", &[]).await;
    let waiting = tasks.enqueue(NewTask::new("q", json!({}))).await.unwrap();

    assert_eq!(
        tasks.prune(Duration::from_secs(60)).await.unwrap(),
        0,
        "too recent"
    );
    clock.advance(Duration::from_secs(61));
    assert_eq!(tasks.prune(Duration::from_secs(60)).await.unwrap(), 2);
    for gone in [done, cancelled] {
        assert_eq!(
            tasks.task(gone).await.unwrap_err().code(),
            ErrorCode::NOT_FOUND
        );
    }
    assert_eq!(tasks.task(dead).await.unwrap().state, TaskState::Dead);
    assert_eq!(
        tasks.task(waiting).await.unwrap().state,
        TaskState::Available
    );
    store.close().await;
}

async fn stats_count_states_oldest_age_and_throughput(t: &Target) {
    let (store, tasks, clock) = open(t).await;
    for _ in 0..2 {
        tasks.enqueue(NewTask::new("q", json!({}))).await.unwrap();
    }
    tasks
        .enqueue(NewTask::new("q", json!({})).delay(Duration::from_secs(600)))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(7));
    let leased = tasks.fetch("q", "w", 2, LEASE).await.unwrap();
    tasks.complete(&leased[0].lease).await.unwrap();
    kill(&tasks, "q", &[]).await;
    let stats = tasks.stats("q").await.unwrap();
    assert_eq!(stats.available, 0, "{stats:?}");
    assert_eq!(stats.scheduled, 1);
    assert_eq!(stats.running, 1);
    assert_eq!(stats.completed, 1);
    assert_eq!(stats.dead, 1);
    assert_eq!(stats.completed_last_minute, 1);

    tasks.enqueue(NewTask::new("q", json!({}))).await.unwrap();
    clock.advance(Duration::from_secs(4));
    let stats = tasks.stats("q").await.unwrap();
    assert_eq!(stats.available, 1);
    assert_eq!(stats.oldest_available_age_ms, 4_000);
    clock.advance(Duration::from_secs(60));
    assert_eq!(tasks.stats("q").await.unwrap().completed_last_minute, 0);
    assert_eq!(
        tasks.stats("nope").await.unwrap_err().code(),
        ErrorCode::NOT_FOUND
    );
    store.close().await;
}

async fn release_returns_a_task_without_spending_an_attempt(t: &Target) {
    let (store, tasks, _clock) = open(t).await;
    let id = tasks
        .enqueue(NewTask::new("q", json!({})).max_attempts(1))
        .await
        .unwrap();
    let leased = tasks.fetch("q", "w", 1, LEASE).await.unwrap();
    tasks.release(&leased[0].lease).await.unwrap();
    let task = tasks.task(id).await.unwrap();
    assert_eq!((task.state, task.attempt), (TaskState::Available, 0));
    let again = tasks.fetch("q", "w2", 1, LEASE).await.unwrap();
    assert_eq!(again[0].task.attempt, 1);
    store.close().await;
}

async fn concurrent_fetchers_never_share_a_task(t: &Target) {
    let (store, tasks, _clock) = open(t).await;
    let ids = tasks
        .enqueue_batch(
            (0..200)
                .map(|i| NewTask::new("q", json!({"i": i})))
                .collect(),
        )
        .await
        .unwrap();
    let workers = (0..4).map(|w| {
        let tasks = tasks.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = tasks.fetch("q", &format!("w{w}"), 7, LEASE).await.unwrap();
                if batch.is_empty() {
                    return mine;
                }
                for leased in batch {
                    tasks.complete(&leased.lease).await.unwrap();
                    mine.push(leased.task.id);
                }
            }
        })
    });
    let mut seen = Vec::new();
    for worker in futures::future::join_all(workers).await {
        seen.extend(worker.unwrap());
    }
    let unique: BTreeSet<_> = seen.iter().copied().collect();
    assert_eq!(seen.len(), unique.len(), "a task was handed out twice");
    assert_eq!(unique, ids.into_iter().collect());
    store.close().await;
}

async fn waiter_wakes_on_enqueue(t: &Target) {
    let (store, tasks, _clock) = open(t).await;
    let mut waiter = tasks.waiter("q");
    let enqueuer = tasks.clone();
    let wait = tokio::spawn(async move {
        // Ten minutes: the test would hang visibly if the wake-up were lost.
        waiter.wait(Duration::from_secs(600)).await;
    });
    enqueuer
        .enqueue(NewTask::new("q", json!({})))
        .await
        .unwrap();
    wait.await.unwrap();
    store.close().await;
}

async fn tasks_survive_reopening_the_store(t: &Target) {
    let (store, tasks, _clock) = open(t).await;
    let id = tasks
        .enqueue(NewTask::new("q", json!({"keep": true})).unique_key("k"))
        .await
        .unwrap();
    store.close().await;
    let store = t.options().open().await.unwrap();
    let task = store.tasks().task(id).await.unwrap();
    assert_eq!(task.payload, json!({"keep": true}));
    assert_eq!(task.unique_key.as_deref(), Some("k"));
    store.close().await;
}

async fn dead_letters_and_expired_leases_are_published_on_the_bus(t: &Target) {
    let bus = TelemetryBus::new();
    let mut events = bus.subscribe_prefix("foundation.queue.", 16);
    let clock = ManualClock::new();
    let store = t
        .options()
        .clock(clock.clock())
        .bus(bus)
        .open()
        .await
        .unwrap();
    let tasks = store.tasks();
    tasks.declare("q", QueueSettings::default()).await.unwrap();
    let id = tasks
        .enqueue(NewTask::new("q", json!({})).max_attempts(2))
        .await
        .unwrap();
    tasks.fetch("q", "gone", 1, LEASE).await.unwrap();
    clock.advance(LEASE + Duration::from_secs(1));
    let leased = tasks.fetch("q", "w", 1, LEASE).await.unwrap();
    let expired = events.try_recv().expect("a lease-expired event");
    let expired = expired.downcast_ref::<LeasesExpired>().unwrap();
    assert_eq!((expired.queue.as_str(), expired.count), ("q", 1));

    tasks
        .fail(&leased[0].lease, Failure::retry("still broken"))
        .await
        .unwrap();
    let dead = events.try_recv().expect("a dead-letter event");
    let dead = dead.downcast_ref::<TaskDeadLettered>().unwrap();
    assert_eq!((dead.task_id, dead.attempts), (id, 2));
    assert_eq!(dead.error, "still broken");
    assert!(events.try_recv().is_none());
    store.close().await;
}

/// PostgreSQL only: a worker on one node is woken by an enqueue on another (two stores, two
/// pools: the only path between them is `LISTEN/NOTIFY`).
#[tokio::test]
async fn postgres_waiter_wakes_on_another_nodes_enqueue() {
    let Some(t) = Target::postgres() else { return };
    let node_a = t.options().open().await.unwrap();
    let node_b = t.options().open().await.unwrap();
    node_a
        .tasks()
        .declare("q", QueueSettings::default())
        .await
        .unwrap();
    let mut waiter = node_a.tasks().waiter("q");
    node_b
        .tasks()
        .enqueue(NewTask::new("q", json!({})))
        .await
        .unwrap();
    // A generous hang guard, not a timing assertion: without the notification the wait would
    // run out, and that fails the test.
    let started = std::time::Instant::now();
    waiter.wait(Duration::from_secs(60)).await;
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "no wake-up crossed from node b to node a"
    );
    node_a.close().await;
    node_b.close().await;
    t.cleanup().await;
}
