//! The `foundation.task.run` span names the task and links the enqueuer's span. Alone in its
//! test binary: tracing caches each callsite's interest process-wide, so a test on another
//! thread reaching the same callsite without a subscriber could race with the scoped
//! subscriber this one sets.

use foundation_core::testing::SpanFields;
use foundation_core::trace::TraceContext;
use foundation_store::NewTask;
use foundation_store::testing::Target;
use serde_json::json;
use tracing_subscriber::layer::SubscriberExt;

mod worker_trace_support;
use worker_trace_support::{open, run_tasks};

#[tokio::test]
async fn the_task_span_is_linked_to_the_enqueuers_span() {
    let spans = SpanFields::named("foundation.task.run");
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(spans.clone()));
    let target = Target::sqlite();
    let store = open(&target).await;
    let enqueuer = TraceContext::new_root();
    let id = enqueuer
        .clone()
        .scope(store.tasks().enqueue(NewTask::new("jobs", json!({}))))
        .await
        .unwrap();

    let seen = run_tasks(&store, 1).await;
    let handler = seen[0].1.clone().unwrap();
    let recorded = spans.recorded();
    assert_eq!(recorded.len(), 1);
    let fields = &recorded[0];
    assert_eq!(fields["queue"], "jobs");
    assert_eq!(fields["task_id"], id.to_string());
    assert_eq!(fields["attempt"], "1");
    assert_eq!(fields["trace_id"], handler.trace_id().to_string());
    assert_eq!(fields["span_id"], handler.span_id().to_string());
    assert_eq!(fields["link.trace_id"], enqueuer.trace_id().to_string());
    assert_eq!(fields["link.span_id"], enqueuer.span_id().to_string());
}
