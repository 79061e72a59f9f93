//! Completing many leased tasks at once (`TaskQueue::complete_batch`), on SQLite and (when
//! configured) PostgreSQL.

use std::time::Duration;

use foundation_core::ManualClock;
use foundation_core::error::ErrorCode;
use foundation_store::on_each_backend;
use foundation_store::testing::Target;
use foundation_store::{Lease, NewTask, QueueSettings, Store, TaskId, TaskQueue, TaskState};
use serde_json::json;

on_each_backend!(
    completes_every_held_lease_across_fetches,
    reports_lost_leases_and_completes_the_rest,
    an_empty_batch_changes_nothing,
    a_lease_given_twice_completes_once,
    batches_over_the_statement_size_complete_in_full,
);

async fn open(t: &Target) -> (Store, TaskQueue, ManualClock) {
    let clock = ManualClock::new();
    let store = t.options().clock(clock.clock()).open().await.unwrap();
    let tasks = store.tasks();
    tasks.declare("q", QueueSettings::default()).await.unwrap();
    (store, tasks, clock)
}

const LEASE: Duration = Duration::from_secs(30);

async fn enqueue(tasks: &TaskQueue, n: usize) -> Vec<TaskId> {
    let batch = (0..n)
        .map(|i| NewTask::new("q", json!({ "n": i })))
        .collect();
    tasks.enqueue_batch(batch).await.unwrap()
}

async fn lease(tasks: &TaskQueue, worker: &str, n: usize) -> Vec<Lease> {
    tasks
        .fetch("q", worker, n, LEASE)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.lease)
        .collect()
}

async fn count(t: &Target, state: &str) -> usize {
    t.raw(&format!(
        "SELECT CAST(COUNT(*) AS TEXT) FROM foundation_tasks WHERE state = '{state}'"
    ))
    .await
    .unwrap()
    .parse()
    .unwrap()
}

async fn completes_every_held_lease_across_fetches(t: &Target) {
    let (store, tasks, _clock) = open(t).await;
    let ids = enqueue(&tasks, 10).await;
    // Two fetches by two workers: leases with different tokens and owners in one batch.
    let mut leases = lease(&tasks, "w1", 4).await;
    leases.extend(lease(&tasks, "w2", 6).await);
    assert_eq!(leases.len(), 10);

    let lost = tasks.complete_batch(&leases).await.unwrap();
    assert!(lost.is_empty(), "{lost:?}");
    for id in &ids {
        let task = tasks.task(*id).await.unwrap();
        assert_eq!(task.state, TaskState::Completed);
        assert_eq!(task.finished_at_ms, Some(store.now_ms()));
        assert_eq!(task.lease_owner, None);
    }
    // The leases ended with the completion: completing again, one way or the other, is refused.
    let again = tasks.complete_batch(&leases).await.unwrap();
    assert_eq!(again, ids);
    let err = tasks.complete(&leases[0]).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::TASK_LEASE_LOST);
    assert_eq!(tasks.stats("q").await.unwrap().completed, 10);
    store.close().await;
}

async fn reports_lost_leases_and_completes_the_rest(t: &Target) {
    let (store, tasks, clock) = open(t).await;
    let [expired, held] = enqueue(&tasks, 2).await[..] else {
        unreachable!()
    };
    let old = lease(&tasks, "gone", 2).await;
    // The first lease runs out; the task is handed to a fresh worker with a new lease.
    clock.advance(LEASE + Duration::from_millis(1));
    let [cancelled, done] = enqueue(&tasks, 2).await[..] else {
        unreachable!()
    };
    let fresh = lease(&tasks, "fresh", 10).await;
    let fresh_lease = |id| fresh.iter().find(|l| l.task_id == id).unwrap().clone();
    assert_eq!(fresh.len(), 4, "both expired leases were handed on");
    assert_eq!(tasks.cancel(cancelled).await.unwrap(), TaskState::Cancelled);
    tasks.complete(&fresh_lease(done)).await.unwrap();

    // The stale lease on `expired` comes before the live one on the same task.
    let batch = vec![
        old[0].clone(),
        fresh_lease(cancelled),
        fresh_lease(done),
        fresh_lease(held),
        fresh_lease(expired),
    ];
    assert_eq!(old[0].task_id, expired);
    let lost = tasks.complete_batch(&batch).await.unwrap();
    assert_eq!(lost, vec![expired, cancelled, done]);

    assert_eq!(tasks.task(held).await.unwrap().state, TaskState::Completed);
    let details = tasks.details(expired).await.unwrap();
    assert_eq!(
        details.task.state,
        TaskState::Completed,
        "the live lease won"
    );
    assert_eq!(details.task.attempt, 2);
    assert!(details.errors[0].error.contains("lease expired"));
    assert_eq!(
        tasks.task(cancelled).await.unwrap().state,
        TaskState::Cancelled,
        "a cancelled task stays cancelled"
    );
    store.close().await;
}

async fn an_empty_batch_changes_nothing(t: &Target) {
    let (store, tasks, _clock) = open(t).await;
    let [id] = enqueue(&tasks, 1).await[..] else {
        unreachable!()
    };
    let leases = lease(&tasks, "w", 1).await;
    assert!(tasks.complete_batch(&[]).await.unwrap().is_empty());
    assert_eq!(tasks.task(id).await.unwrap().state, TaskState::Running);
    tasks.complete(&leases[0]).await.unwrap();
    store.close().await;
}

async fn a_lease_given_twice_completes_once(t: &Target) {
    let (store, tasks, _clock) = open(t).await;
    let ids = enqueue(&tasks, 2).await;
    let leases = lease(&tasks, "w", 2).await;
    let twice = vec![
        leases[0].clone(),
        leases[1].clone(),
        leases[0].clone(),
        leases[1].clone(),
    ];
    assert!(tasks.complete_batch(&twice).await.unwrap().is_empty());
    for id in ids {
        assert_eq!(tasks.task(id).await.unwrap().state, TaskState::Completed);
    }
    store.close().await;
}

async fn batches_over_the_statement_size_complete_in_full(t: &Target) {
    let (store, tasks, _clock) = open(t).await;
    let ids = enqueue(&tasks, 2_000).await;
    let mut leases = lease(&tasks, "w1", 1_000).await;
    leases.extend(lease(&tasks, "w2", 1_000).await);
    assert_eq!(leases.len(), 2_000);
    // Lost leases spread over several statements are each reported, in the order given.
    let gone = [ids[0], ids[777], ids[1_999]];
    for id in gone {
        tasks.cancel(id).await.unwrap();
    }
    let lost = tasks.complete_batch(&leases).await.unwrap();
    assert_eq!(lost, gone);
    assert_eq!(count(t, "completed").await, 1_997);
    assert_eq!(count(t, "running").await, 0);
    assert_eq!(count(t, "cancelled").await, 3);
    store.close().await;
}
