//! Enqueueing captures the current W3C trace context into tasks that carry none, on SQLite
//! and (when configured) PostgreSQL.

use std::time::Duration;

use foundation_core::trace::TraceContext;
use foundation_store::on_each_backend;
use foundation_store::testing::Target;
use foundation_store::{NewTask, QueueSettings, TaskId, TaskQueue};
use serde_json::json;

on_each_backend!(
    a_task_enqueued_in_a_context_carries_its_traceparent,
    an_explicit_trace_context_wins,
    a_task_enqueued_outside_any_context_has_none,
);

async fn open(t: &Target) -> TaskQueue {
    let store = t.options().open().await.unwrap();
    let tasks = store.tasks();
    tasks.declare("q", QueueSettings::default()).await.unwrap();
    tasks
}

/// The stored trace context of every available task, by id.
async fn stored(tasks: &TaskQueue) -> Vec<(TaskId, Option<String>)> {
    let mut leased: Vec<_> = tasks
        .fetch("q", "w", 100, Duration::from_secs(30))
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.task.id, l.task.trace_context))
        .collect();
    leased.sort();
    leased
}

async fn a_task_enqueued_in_a_context_carries_its_traceparent(t: &Target) {
    let tasks = open(t).await;
    let ctx = TraceContext::new_root();
    let (one, batch) = ctx
        .clone()
        .scope(async {
            let one = tasks.enqueue(NewTask::new("q", json!({}))).await.unwrap();
            let batch = tasks
                .enqueue_batch(vec![
                    NewTask::new("q", json!({ "n": 1 })),
                    NewTask::new("q", json!({ "n": 2 })),
                ])
                .await
                .unwrap();
            (one, batch)
        })
        .await;
    let expected = Some(ctx.traceparent());
    assert_eq!(
        stored(&tasks).await,
        vec![
            (one, expected.clone()),
            (batch[0], expected.clone()),
            (batch[1], expected)
        ]
    );
}

async fn an_explicit_trace_context_wins(t: &Target) {
    let tasks = open(t).await;
    let theirs = TraceContext::new_root().traceparent();
    let id = TraceContext::new_root()
        .scope(tasks.enqueue(NewTask::new("q", json!({})).trace_context(theirs.clone())))
        .await
        .unwrap();
    assert_eq!(stored(&tasks).await, vec![(id, Some(theirs))]);
}

async fn a_task_enqueued_outside_any_context_has_none(t: &Target) {
    let tasks = open(t).await;
    let id = tasks.enqueue(NewTask::new("q", json!({}))).await.unwrap();
    assert_eq!(stored(&tasks).await, vec![(id, None)]);
}
