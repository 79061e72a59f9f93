//! Helpers shared by the worker's trace tests: a store with the queue `jobs`, and a worker
//! whose handler reports the trace context it sees.

use std::time::Duration;

use foundation_core::TelemetryBus;
use foundation_core::error::Error;
use foundation_core::trace::TraceContext;
use foundation_protect::protection::Protection;
use foundation_runtime::agent::{AgentConfig, StopReason, spawn};
use foundation_runtime::worker::{QueueWorker, WorkerConfig, handler_fn};
use foundation_store::testing::Target;
use foundation_store::{QueueSettings, Store, TaskId};
use tokio::sync::mpsc;

const GUARD: Duration = Duration::from_secs(20);

pub async fn open(target: &Target) -> Store {
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
pub type Seen = (TaskId, Option<TraceContext>, Option<TraceContext>);

/// Runs a worker whose handler reports what it sees until `n` tasks have run.
pub async fn run_tasks(store: &Store, n: usize) -> Vec<Seen> {
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
