//! Crash test with real processes: a child process enqueues (with unique keys) and works the
//! queue while this test `kill -9`s it at random points, several times, on SQLite and on
//! PostgreSQL. Afterwards every enqueue the child was told succeeded is there exactly once and
//! gets completed.

use std::time::Duration;

use foundation_core::error::ErrorCode;
use foundation_runtime::agent::{AgentConfig, StopReason, spawn};
use foundation_runtime::worker::{QueueWorker, WorkerConfig, handler_fn};
use foundation_store::testing::{self, Target};
use foundation_store::{NewTask, QueueSettings, Store, StoreOptions, StoreUrl};
use serde_json::json;

const ROUNDS: usize = 4;

async fn open(url: &str, schema: Option<&str>) -> Store {
    let mut options = StoreOptions::new(StoreUrl::parse(url).unwrap());
    if let Some(schema) = schema {
        options = options.postgres_schema(schema);
    }
    options.open().await.unwrap()
}

fn worker_config() -> WorkerConfig {
    WorkerConfig {
        concurrency: 4,
        lease: Duration::from_millis(600),
        heartbeat: Duration::from_millis(150),
        poll_interval: Duration::from_millis(50),
        ..WorkerConfig::new("crash")
    }
}

/// The child: run only when the parent sets the environment. Enqueues task `n` with unique key
/// `k{n}` from START upwards, printing `ACK n` once the enqueue is acknowledged, while a worker
/// completes tasks; it runs until killed.
#[test]
#[ignore = "run as a child process by the crash tests"]
fn crash_child() {
    let Some((url, schema, start)) = testing::child_args() else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let store = open(&url, schema.as_deref()).await;
        let tasks = store.tasks();
        tasks
            .declare("crash", QueueSettings::default())
            .await
            .unwrap();
        let worker = QueueWorker::new(
            tasks.clone(),
            worker_config(),
            handler_fn(|_task| async {
                tokio::time::sleep(Duration::from_millis(rand::random::<u64>() % 5)).await;
                Ok(())
            }),
        )
        .unwrap();
        let _worker = spawn(worker, AgentConfig::named("crash-worker"))
            .await
            .unwrap();
        for n in start.. {
            let task = NewTask::new("crash", json!({"n": n})).unique_key(format!("k{n}"));
            match tasks.enqueue(task).await {
                Ok(_) => {}
                // Committed just before the previous child was killed: acknowledged now.
                Err(e) if e.code() == ErrorCode::TASK_DUPLICATE => {}
                Err(e) => panic!("enqueue {n}: {e}"),
            }
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            writeln!(out, "ACK {n}").unwrap();
            out.flush().unwrap();
        }
    });
}

/// After the kills: drains the queue in this process and checks every acknowledged key.
async fn check(store: &Store, acked: u64) {
    let tasks = store.tasks();
    let worker = QueueWorker::new(
        tasks.clone(),
        worker_config(),
        handler_fn(|_task| async { Ok(()) }),
    )
    .unwrap();
    let handle = spawn(worker, AgentConfig::named("drain")).await.unwrap();
    let mut waiter = tasks.waiter("crash");
    loop {
        let stats = tasks.stats("crash").await.unwrap();
        if stats.available + stats.scheduled + stats.running == 0 {
            assert_eq!(stats.dead, 0, "{stats:?}");
            break;
        }
        // Leases of killed workers run out after 600 ms; look again on each wake-up or poll.
        waiter.wait(Duration::from_millis(100)).await;
    }
    handle.stop(StopReason::Normal).await;
    let done = tasks.stats("crash").await.unwrap().completed;
    // Each round may have committed one enqueue it never acknowledged.
    assert!(
        done >= acked && done <= acked + ROUNDS as u64,
        "completed {done}, acknowledged {acked}"
    );
}

/// Checks that every acknowledged key `k{n}` completed, and none twice.
async fn keys_once(target: &Target, acked: u64) {
    let keys = target
        .raw_strings("SELECT unique_key FROM foundation_tasks WHERE state = 'completed'")
        .await;
    let mut seen = std::collections::BTreeSet::new();
    for key in &keys {
        assert!(seen.insert(key.clone()), "key {key} completed twice");
    }
    for n in 0..acked {
        assert!(
            seen.contains(&format!("k{n}")),
            "acknowledged task {n} lost"
        );
    }
}

async fn kill_and_check(target: Target) {
    let acked = tokio::task::block_in_place(|| {
        testing::kill_child_repeatedly("crash_child", &target, ROUNDS)
    });
    let (url, schema) = target.url_and_schema();
    let schema = schema.map(str::to_owned);
    let store = open(&url, schema.as_deref()).await;
    check(&store, acked).await;
    store.close().await;
    keys_once(&target, acked).await;
    target.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_kill_9_loses_no_acknowledged_task() {
    kill_and_check(Target::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_kill_9_loses_no_acknowledged_task() {
    if let Some(target) = Target::postgres() {
        kill_and_check(target).await;
    }
}
