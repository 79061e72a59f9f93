//! A task's handler continues the trace of whoever enqueued it: it runs in a child of the
//! stored trace context (its span is checked in `queue_worker_span.rs`). On SQLite; time is
//! real (the store does real I/O), every wait bounded by a hang guard.

use foundation_core::trace::TraceContext;
use foundation_store::testing::Target;
use foundation_store::{NewTask, TaskState};
use serde_json::json;

mod worker_trace_support;
use worker_trace_support::{open, run_tasks};

#[tokio::test]
async fn the_handler_continues_the_enqueuers_trace() {
    let target = Target::sqlite();
    let store = open(&target).await;
    let enqueuer = TraceContext::new_root();
    let id = enqueuer
        .clone()
        .scope(store.tasks().enqueue(NewTask::new("jobs", json!({}))))
        .await
        .unwrap();

    let seen = run_tasks(&store, 1).await;
    let (ran, current, call) = &seen[0];
    assert_eq!(*ran, id);
    let current = current
        .as_ref()
        .expect("the handler runs in a trace context");
    assert_eq!(current.trace_id(), enqueuer.trace_id());
    assert_ne!(current.span_id(), enqueuer.span_id());
    // A protected call in the handler is a child of the handler's context, in the same trace.
    let call = call.as_ref().expect("the protected call is traced");
    assert_eq!(call.trace_id(), enqueuer.trace_id());
    assert_ne!(call.span_id(), current.span_id());
    assert_eq!(
        store.tasks().task(id).await.unwrap().state,
        TaskState::Completed
    );
}

#[tokio::test]
async fn a_malformed_stored_context_is_ignored_and_the_handler_gets_a_fresh_root() {
    let target = Target::sqlite();
    let store = open(&target).await;
    let bad = store
        .tasks()
        .enqueue(NewTask::new("jobs", json!({})).trace_context("00-not-a-traceparent"))
        .await
        .unwrap();
    let none = store
        .tasks()
        .enqueue(NewTask::new("jobs", json!({})))
        .await
        .unwrap();

    let mut seen = run_tasks(&store, 2).await;
    seen.sort_by_key(|(id, _, _)| *id);
    assert_eq!(seen[0].0, bad);
    assert_eq!(seen[1].0, none);
    let bad_trace = seen[0].1.as_ref().expect("a fresh root");
    let none_trace = seen[1].1.as_ref().expect("a fresh root");
    assert_ne!(bad_trace.trace_id(), none_trace.trace_id());
    for id in [bad, none] {
        assert_eq!(
            store.tasks().task(id).await.unwrap().state,
            TaskState::Completed
        );
    }
}
