//! The `foundation.task.run` span names the task and links the enqueuer's span. Alone in its
//! test binary: tracing caches each callsite's interest process-wide, so a test on another
//! thread reaching the same callsite without a subscriber could race with the scoped
//! subscriber this one sets.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use foundation_core::trace::TraceContext;
use foundation_store::NewTask;
use foundation_store::testing::Target;
use parking_lot::Mutex;
use serde_json::json;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

mod worker_trace_support;
use worker_trace_support::{open, run_tasks};

/// Fields of every `foundation.task.run` span.
#[derive(Clone, Default)]
struct TaskSpans {
    spans: Arc<Mutex<HashMap<u64, BTreeMap<String, String>>>>,
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber> Layer<S> for TaskSpans {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _ctx: Context<'_, S>) {
        if attrs.metadata().name() == "foundation.task.run" {
            let mut fields = BTreeMap::new();
            attrs.record(&mut Fields(&mut fields));
            self.spans.lock().insert(id.into_u64(), fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        if let Some(fields) = self.spans.lock().get_mut(&id.into_u64()) {
            values.record(&mut Fields(fields));
        }
    }
}

#[tokio::test]
async fn the_task_span_is_linked_to_the_enqueuers_span() {
    let spans = TaskSpans::default();
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
    let recorded: Vec<_> = spans.spans.lock().values().cloned().collect();
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
