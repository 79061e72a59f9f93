//! Bad input to the task queue: each gets a clear error naming the problem, the store keeps
//! serving, and nothing stored changes.

use std::time::Duration;

use foundation_core::error::ErrorCode;
use foundation_store::on_each_backend;
use foundation_store::testing::Target;
use foundation_store::{
    Backoff, CronSchedule, DeadLetterFilter, NewTask, QueueSettings, Store, TaskQueue, TaskState,
};
use serde_json::json;

on_each_backend!(
    payloads_that_are_not_objects_are_refused,
    oversize_payloads_are_refused,
    unknown_queues_are_not_found_everywhere,
    absurd_numbers_and_names_are_refused_naming_the_field,
    a_corrupt_row_is_reported_and_the_rest_still_served,
);

async fn open(t: &Target) -> (Store, TaskQueue) {
    let store = t.options().max_payload_bytes(1_000).open().await.unwrap();
    let tasks = store.tasks();
    tasks.declare("q", QueueSettings::default()).await.unwrap();
    (store, tasks)
}

async fn nothing_stored(tasks: &TaskQueue) {
    let stats = tasks.stats("q").await.unwrap();
    assert_eq!(stats.available + stats.scheduled, 0, "{stats:?}");
}

async fn payloads_that_are_not_objects_are_refused(t: &Target) {
    let (store, tasks) = open(t).await;
    for (payload, kind) in [
        (json!([1, 2]), "an array"),
        (json!("text"), "a string"),
        (json!(null), "null"),
        (json!(42), "a number"),
    ] {
        let err = tasks.enqueue(NewTask::new("q", payload)).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::INVALID_INPUT);
        assert_eq!(err.context_value("field"), Some("payload"));
        assert!(err.message().contains(kind), "{err}");
    }
    nothing_stored(&tasks).await;
    tasks.enqueue(NewTask::new("q", json!({}))).await.unwrap();
    store.close().await;
}

async fn oversize_payloads_are_refused(t: &Target) {
    let (store, tasks) = open(t).await;
    let big = json!({"blob": "x".repeat(2_000)});
    let err = tasks
        .enqueue(NewTask::new("q", big.clone()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::STORE_PAYLOAD_TOO_LARGE);
    assert_eq!(err.context_value("limit"), Some("1000"));
    let err = tasks
        .enqueue_batch(vec![NewTask::new("q", json!({})), NewTask::new("q", big)])
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::STORE_PAYLOAD_TOO_LARGE);
    assert_eq!(err.context_value("index"), Some("1"));
    nothing_stored(&tasks).await;
    store.close().await;
}

async fn unknown_queues_are_not_found_everywhere(t: &Target) {
    let (store, tasks) = open(t).await;
    let lease = Duration::from_secs(30);
    let errors = [
        tasks
            .enqueue(NewTask::new("ghost", json!({})))
            .await
            .unwrap_err(),
        tasks.fetch("ghost", "w", 1, lease).await.unwrap_err(),
        tasks.stats("ghost").await.unwrap_err(),
        tasks.pause("ghost").await.unwrap_err(),
        tasks.resume("ghost").await.unwrap_err(),
        tasks.queue("ghost").await.unwrap_err(),
        tasks
            .schedule(CronSchedule::new(
                "c",
                "* * * * *",
                NewTask::new("ghost", json!({})),
            ))
            .await
            .unwrap_err(),
    ];
    for err in errors {
        assert_eq!(err.code(), ErrorCode::NOT_FOUND, "{err}");
        assert_eq!(err.context_value("queue"), Some("ghost"), "{err}");
    }
    assert_eq!(
        tasks.task(424_242).await.unwrap_err().code(),
        ErrorCode::NOT_FOUND
    );
    assert_eq!(
        tasks.details(424_242).await.unwrap_err().code(),
        ErrorCode::NOT_FOUND
    );
    assert_eq!(
        tasks.requeue(424_242).await.unwrap_err().code(),
        ErrorCode::NOT_FOUND
    );
    assert_eq!(
        tasks.discard(424_242).await.unwrap_err().code(),
        ErrorCode::NOT_FOUND
    );
    store.close().await;
}

async fn absurd_numbers_and_names_are_refused_naming_the_field(t: &Target) {
    let (store, tasks) = open(t).await;
    let task = || NewTask::new("q", json!({}));
    let cases = [
        (task().priority(200), "priority"),
        (task().max_attempts(0), "max_attempts"),
        (task().max_attempts(u32::MAX), "max_attempts"),
        (task().timeout(Duration::ZERO), "timeout"),
        (task().timeout(Duration::from_secs(365 * 86_400)), "timeout"),
        (task().unique_key("x".repeat(300)), "unique_key"),
        (task().unique_key(""), "unique_key"),
        (task().tag("a b"), "tags"),
        (
            NewTask::new("q; DROP TABLE foundation_tasks", json!({})),
            "queue",
        ),
        (
            task().backoff(Backoff::Exponential {
                initial: Duration::from_secs(2),
                max: Duration::from_secs(1),
                multiplier: 2.0,
                jitter: 0.0,
            }),
            "backoff.max",
        ),
        (
            task().backoff(Backoff::Exponential {
                initial: Duration::from_secs(1),
                max: Duration::from_secs(2),
                multiplier: 2.0,
                jitter: -1.0,
            }),
            "backoff.jitter",
        ),
    ];
    for (task, field) in cases {
        let err = tasks.enqueue(task).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::INVALID_INPUT, "{err}");
        assert_eq!(err.context_value("field"), Some(field), "{err}");
    }
    let mut many_tags = task();
    for i in 0..40 {
        many_tags = many_tags.tag(format!("t{i}"));
    }
    assert_eq!(
        tasks
            .enqueue(many_tags)
            .await
            .unwrap_err()
            .context_value("field"),
        Some("tags")
    );
    let lease = Duration::from_secs(30);
    let field = |e: foundation_core::Error| e.context_value("field").map(str::to_owned);
    assert_eq!(
        field(tasks.fetch("q", "w", 0, lease).await.unwrap_err()).as_deref(),
        Some("max")
    );
    assert_eq!(
        field(tasks.fetch("q", "w", 1_000_000, lease).await.unwrap_err()).as_deref(),
        Some("max")
    );
    assert_eq!(
        field(tasks.fetch("q", "w", 1, Duration::ZERO).await.unwrap_err()).as_deref(),
        Some("lease")
    );
    assert_eq!(
        field(tasks.fetch("q", "", 1, lease).await.unwrap_err()).as_deref(),
        Some("worker")
    );
    assert_eq!(
        field(
            tasks
                .declare("q", QueueSettings::concurrency(0))
                .await
                .unwrap_err()
        )
        .as_deref(),
        Some("concurrency")
    );
    let filter = DeadLetterFilter {
        limit: Some(0),
        ..DeadLetterFilter::default()
    };
    assert_eq!(
        field(tasks.dead_letters(&filter).await.unwrap_err()).as_deref(),
        Some("limit")
    );
    // The refused declare left the queue as it was.
    assert_eq!(tasks.queue("q").await.unwrap().settings.concurrency, None);
    nothing_stored(&tasks).await;
    store.close().await;
}

async fn a_corrupt_row_is_reported_and_the_rest_still_served(t: &Target) {
    let (store, tasks) = open(t).await;
    let bad = tasks
        .enqueue(NewTask::new("q", json!({"n": 1})))
        .await
        .unwrap();
    let good = tasks
        .enqueue(NewTask::new("q", json!({"n": 2})))
        .await
        .unwrap();
    // Another program damages one row behind the store's back.
    t.raw(&format!(
        "UPDATE foundation_tasks SET payload = '{{not json' WHERE id = {bad}"
    ))
    .await;
    let err = tasks.task(bad).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::STORE_CORRUPT);
    assert_eq!(err.context_value("field"), Some("payload"));
    assert_eq!(tasks.task(good).await.unwrap().payload, json!({"n": 2}));
    assert_eq!(tasks.cancel(bad).await.unwrap(), TaskState::Cancelled);
    store.close().await;
}

// SQLite's `mode=ro` refuses writes for every user (chmod does not stop root).
#[tokio::test]
async fn a_read_only_database_serves_reads_and_refuses_queue_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ro.db");
    let url = format!("sqlite://{}", path.display());
    let store = Store::open(&url).await.unwrap();
    let tasks = store.tasks();
    tasks.declare("q", QueueSettings::default()).await.unwrap();
    let id = tasks
        .enqueue(NewTask::new("q", json!({"keep": 1})))
        .await
        .unwrap();
    store.close().await;

    let store = Store::open(&format!("{url}?mode=ro")).await.unwrap();
    let tasks = store.tasks();
    let lease = Duration::from_secs(30);
    for err in [
        tasks
            .enqueue(NewTask::new("q", json!({})))
            .await
            .unwrap_err(),
        tasks.fetch("q", "w", 1, lease).await.unwrap_err(),
        tasks.cancel(id).await.unwrap_err(),
        tasks.pause("q").await.unwrap_err(),
    ] {
        assert_eq!(err.code(), ErrorCode::STORE_READ_ONLY, "{err}");
    }
    let task = tasks.task(id).await.unwrap();
    assert_eq!(
        (task.state, task.payload),
        (TaskState::Available, json!({"keep": 1}))
    );
    assert_eq!(tasks.stats("q").await.unwrap().available, 1);
    store.close().await;
}
