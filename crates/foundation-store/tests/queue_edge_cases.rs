//! Edge cases of the task queue found in review: duplicate keys among dead letters, tag case,
//! an undecodable row in a fetched batch, lock interplay and races on PostgreSQL.

use std::time::Duration;

use foundation_core::ManualClock;
use foundation_store::on_each_backend;
use foundation_store::testing::Target;
use foundation_store::{
    DeadLetterFilter, Failure, NewTask, QueueSettings, Store, TaskQueue, TaskState,
};
use serde_json::json;

on_each_backend!(
    requeue_where_skips_a_second_dead_task_with_the_same_key,
    dead_letter_tag_filter_is_case_sensitive,
    one_undecodable_task_does_not_strand_the_rest_of_the_batch,
    a_refused_batch_names_the_duplicate_task_by_index,
);

const LEASE: Duration = Duration::from_secs(30);

async fn open(t: &Target) -> (Store, TaskQueue, ManualClock) {
    let clock = ManualClock::new();
    let store = t.options().clock(clock.clock()).open().await.unwrap();
    let tasks = store.tasks();
    tasks.declare("q", QueueSettings::default()).await.unwrap();
    (store, tasks, clock)
}

async fn kill(tasks: &TaskQueue, task: NewTask) -> i64 {
    let id = tasks.enqueue(task.max_attempts(1)).await.unwrap();
    let leased = tasks.fetch("q", "w", 1, LEASE).await.unwrap();
    assert_eq!(leased[0].task.id, id);
    tasks
        .fail(&leased[0].lease, Failure::discard("boom"))
        .await
        .unwrap();
    id
}

/// Doc of `requeue_where`: "Tasks whose unique key another task now holds stay dead."
/// Two dead tasks with one key: one should move, the other stay dead.
async fn requeue_where_skips_a_second_dead_task_with_the_same_key(t: &Target) {
    let (store, tasks, _clock) = open(t).await;
    let a = kill(&tasks, NewTask::new("q", json!({})).unique_key("k")).await;
    let b = kill(&tasks, NewTask::new("q", json!({})).unique_key("k")).await;
    let moved = tasks.requeue_where(&DeadLetterFilter::queue("q")).await;
    assert_eq!(moved.map_err(|e| e.to_string()), Ok(1));
    let states = [
        tasks.task(a).await.unwrap().state,
        tasks.task(b).await.unwrap().state,
    ];
    assert!(states.contains(&TaskState::Available) && states.contains(&TaskState::Dead));
    store.close().await;
}

/// Tags are case-sensitive names; a filter on "Red" must not discard tasks tagged "red".
async fn dead_letter_tag_filter_is_case_sensitive(t: &Target) {
    let (store, tasks, _clock) = open(t).await;
    let id = kill(&tasks, NewTask::new("q", json!({})).tag("red")).await;
    let filter = DeadLetterFilter {
        tag: Some("Red".into()),
        ..DeadLetterFilter::default()
    };
    assert_eq!(tasks.dead_letters(&filter).await.unwrap().len(), 0);
    assert_eq!(tasks.discard_where(&filter).await.unwrap(), 0);
    assert_eq!(tasks.task(id).await.unwrap().state, TaskState::Dead);
    store.close().await;
}

/// A fetch that fails to decode one row must not leave the other tasks of its batch leased to
/// nobody (they would sit "running" until the lease runs out and then lose an attempt).
async fn one_undecodable_task_does_not_strand_the_rest_of_the_batch(t: &Target) {
    let (store, tasks, _clock) = open(t).await;
    let bad = tasks.enqueue(NewTask::new("q", json!({}))).await.unwrap();
    let good = tasks.enqueue(NewTask::new("q", json!({}))).await.unwrap();
    t.raw(&format!(
        "UPDATE foundation_tasks SET backoff = 'not json' WHERE id = {bad}"
    ))
    .await;
    // Either the fetch fails and leaves the good task waiting, or it hands the good one out.
    match tasks.fetch("q", "w", 10, LEASE).await {
        Err(err) => {
            assert_eq!(err.code(), foundation_core::error::ErrorCode::STORE_CORRUPT);
            assert_eq!(tasks.task(good).await.unwrap().state, TaskState::Available);
        }
        Ok(leased) => {
            assert_eq!(leased.iter().map(|l| l.task.id).collect::<Vec<_>>(), [good]);
        }
    }
    store.close().await;
}

/// On PostgreSQL a fetch of a queue with a concurrency limit locks the queue's row; every
/// enqueue's foreign key takes `FOR KEY SHARE` on that row, so the lock must not conflict with
/// it: enqueues never wait for fetches.
#[tokio::test]
async fn postgres_enqueue_does_not_wait_for_an_open_fetch() {
    use sqlx::Connection;
    let Some(t) = Target::postgres() else { return };
    let (store, tasks, _clock) = open(&t).await;
    tasks
        .declare("q", QueueSettings::concurrency(2))
        .await
        .unwrap();
    let Target::Postgres { url, schema } = &t else {
        unreachable!()
    };
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::raw_sql(&format!("SET search_path TO {schema}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let mut tx = conn.begin().await.unwrap();
    // Exactly the lock a fetch of queue "q" holds until it commits.
    sqlx::query("SELECT paused FROM foundation_queues WHERE name = 'q' FOR NO KEY UPDATE")
        .execute(&mut *tx)
        .await
        .unwrap();
    // A hang guard: a blocked enqueue would wait until the transaction below ends.
    let enqueue = tokio::time::timeout(
        Duration::from_secs(30),
        tasks.enqueue(NewTask::new("q", json!({}))),
    )
    .await;
    tx.rollback().await.unwrap();
    assert!(
        enqueue.is_ok(),
        "enqueue blocked behind the fetch's queue-row lock"
    );
    store.close().await;
    t.cleanup().await;
}

/// `requeue` says `TASK_DUPLICATE` when another task took its unique key meanwhile, even when
/// that task's enqueue commits while the requeue waits on the unique index (PostgreSQL).
#[tokio::test]
async fn postgres_requeue_racing_an_enqueue_of_its_key_says_duplicate() {
    use sqlx::Connection;
    let Some(t) = Target::postgres() else { return };
    let (store, tasks, _clock) = open(&t).await;
    let dead = kill(&tasks, NewTask::new("q", json!({})).unique_key("k")).await;
    let Target::Postgres { url, schema } = &t else {
        unreachable!()
    };
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::raw_sql(&format!("SET search_path TO {schema}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let mut tx = conn.begin().await.unwrap();
    // Another node's enqueue of key "k", not yet committed.
    sqlx::query(
        "INSERT INTO foundation_tasks (queue, state, priority, payload, run_at, max_attempts, \
         backoff, unique_key, tags, enqueued_at) \
         VALUES ('q', 'available', 0, '{}', 0, 1, '\"none\"', 'k', '[]', 0)",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    let requeue = tokio::spawn({
        let tasks = tasks.clone();
        async move { tasks.requeue(dead).await }
    });
    // Commit once the requeue is waiting on the unique index for this transaction.
    let mut watcher = sqlx::PgConnection::connect(url).await.unwrap();
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
             AND query LIKE 'UPDATE foundation_tasks SET state = ''available''%'",
        )
        .fetch_one(&mut watcher)
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        assert!(
            !requeue.is_finished(),
            "the requeue did not wait on the unique index"
        );
    }
    tx.commit().await.unwrap();
    let err = requeue.await.unwrap().unwrap_err();
    assert_eq!(
        err.code(),
        foundation_core::error::ErrorCode::TASK_DUPLICATE,
        "{err}"
    );
    store.close().await;
    t.cleanup().await;
}

/// `enqueue_batch` doc: "any bad task, undeclared queue or taken unique key refuses the whole
/// batch (the error's `index` context names the task)".
async fn a_refused_batch_names_the_duplicate_task_by_index(t: &Target) {
    let (store, tasks, _clock) = open(t).await;
    tasks
        .enqueue(NewTask::new("q", json!({})).unique_key("k"))
        .await
        .unwrap();
    let err = tasks
        .enqueue_batch(vec![
            NewTask::new("q", json!({})),
            NewTask::new("q", json!({})).unique_key("k"),
        ])
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        foundation_core::error::ErrorCode::TASK_DUPLICATE
    );
    assert_eq!(err.context_value("index"), Some("1"), "{err}");
    store.close().await;
}
