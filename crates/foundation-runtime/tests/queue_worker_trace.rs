//! A task's handler continues the trace of whoever enqueued it: it runs in a child of the
//! stored trace context, in the span `foundation.task.run` linked to the enqueuer's span. On
//! SQLite; time is real (the store does real I/O), every wait bounded by a hang guard.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use foundation_core::TelemetryBus;
use foundation_core::error::Error;
use foundation_core::trace::TraceContext;
use foundation_protect::protection::Protection;
use foundation_runtime::agent::{AgentConfig, StopReason, spawn};
use foundation_runtime::worker::{QueueWorker, WorkerConfig, handler_fn};
use foundation_store::testing::Target;
use foundation_store::{NewTask, QueueSettings, Store, TaskId, TaskState};
use parking_lot::Mutex;
use serde_json::json;
use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

const GUARD: Duration = Duration::from_secs(20);

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
        poll_interval: Duration::from_millis(20),
        ..WorkerConfig::new("jobs")
    }
}

/// What a handler saw: the task, the current context, and the context its protected call got.
type Seen = (TaskId, Option<TraceContext>, Option<TraceContext>);

/// Runs a worker whose handler reports what it sees until `n` tasks have run.
async fn run_tasks(store: &Store, n: usize) -> Vec<Seen> {
    let (tx, mut rx) = mpsc::channel(16);
    let protection = Protection::builder("downstream")
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    let handler = handler_fn(move |task| {
        let (tx, protection) = (tx.clone(), protection.clone());
        async move {
            let current = TraceContext::current();
            let call = protection
                .run(|ctx| async move { Ok::<_, Error>(ctx.trace().cloned()) })
                .await?;
            tx.send((task.id, current, call)).await.unwrap();
            Ok(())
        }
    });
    let worker = QueueWorker::new(store.tasks(), config(), handler).unwrap();
    let handle = spawn(worker, AgentConfig::named("w")).await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..n {
        let next = tokio::time::timeout(GUARD, rx.recv())
            .await
            .expect("the worker ran the task in time")
            .expect("channel open");
        seen.push(next);
    }
    handle.stop(StopReason::Normal).await;
    seen
}

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
