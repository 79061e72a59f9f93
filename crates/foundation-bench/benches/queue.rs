//! The durable task queue on SQLite (a temp file in WAL mode: `sqlite` with `synchronous=FULL`,
//! `sqlite_normal` with `NORMAL`) and PostgreSQL (when `FOUNDATION_TEST_POSTGRES_URL` is set;
//! a private schema dropped afterwards).
//!
//! Run: `cargo bench -p foundation-bench --bench queue -- --warm-up-time 1 --measurement-time 3`
//!
//! - `queue/enqueue/*`: one task per transaction, acknowledged after commit.
//! - `queue/enqueue_batch_100/*`: 100 tasks per transaction.
//! - `queue/jobs_1000/*/workers=N`: N queue workers (10 tasks in flight each) running 1,000
//!   enqueued no-op tasks to completion: fetch, heartbeat-ready lease, handler, complete.
//! - add-to-start latency (printed, not a criterion group): an idle worker; the time from
//!   calling `enqueue` to the handler starting, 300 times in a row; p50 and p99.
//!
//! Anchors (other machines, far more cores): Oban ~16.7k jobs/s and River ~46k jobs/s on
//! PostgreSQL; graphile-worker ~4 ms add-to-start.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use foundation_bench::{BenchStore, bench_stores};
use foundation_runtime::agent::{AgentConfig, StopReason, spawn};
use foundation_runtime::worker::{QueueWorker, WorkerConfig, handler_fn};
use foundation_store::{NewTask, QueueSettings, Store};
use serde_json::json;
use tokio::runtime::Runtime;
use tokio::sync::{Notify, mpsc};

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn targets(rt: &Runtime) -> Vec<BenchStore> {
    rt.block_on(async {
        let out = bench_stores().await;
        for t in &out {
            t.store
                .tasks()
                .declare("bench", QueueSettings::default())
                .await
                .unwrap();
        }
        out
    })
}

fn cleanup(rt: &Runtime, targets: Vec<BenchStore>) {
    rt.block_on(async {
        for t in targets {
            t.cleanup().await;
        }
    });
}

/// Removes every task so tables stay small between measurements.
async fn empty(store: &Store) {
    let tasks = store.tasks();
    let _ = tasks.prune(Duration::ZERO).await;
    let leased = tasks
        .fetch("bench", "cleaner", 1_000, Duration::from_secs(60))
        .await
        .unwrap();
    for l in leased {
        tasks.complete(&l.lease).await.unwrap();
    }
    let _ = tasks.prune(Duration::ZERO).await;
}

fn enqueue(c: &mut Criterion) {
    let rt = runtime();
    let targets = targets(&rt);
    let mut group = c.benchmark_group("queue/enqueue");
    group.throughput(Throughput::Elements(1));
    for t in &targets {
        let tasks = t.store.tasks();
        group.bench_function(t.name, |b| {
            b.to_async(&rt).iter(|| async {
                tasks
                    .enqueue(NewTask::new("bench", json!({"n": 1})))
                    .await
                    .unwrap()
            })
        });
        rt.block_on(empty(&t.store));
    }
    group.finish();
    let mut group = c.benchmark_group("queue/enqueue_batch_100");
    group.throughput(Throughput::Elements(100));
    for t in &targets {
        let tasks = t.store.tasks();
        group.bench_function(t.name, |b| {
            b.to_async(&rt).iter(|| async {
                let batch = (0..100)
                    .map(|n| NewTask::new("bench", json!({"n": n})))
                    .collect();
                tasks.enqueue_batch(batch).await.unwrap()
            })
        });
        rt.block_on(empty(&t.store));
    }
    group.finish();
    cleanup(&rt, targets);
}

fn jobs(c: &mut Criterion) {
    const JOBS: u64 = 1_000;
    let rt = runtime();
    let targets = targets(&rt);
    let mut group = c.benchmark_group("queue/jobs_1000");
    group.throughput(Throughput::Elements(JOBS));
    group.sample_size(10);
    for t in &targets {
        for workers in [1usize, 2, 4] {
            let id = BenchmarkId::new(t.name, format!("workers={workers}"));
            group.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            total += run_jobs(&t.store, workers, JOBS).await;
                            empty(&t.store).await;
                        }
                        total
                    })
                })
            });
        }
    }
    group.finish();
    cleanup(&rt, targets);
}

/// Enqueues `jobs` tasks, then times `workers` workers completing them all.
async fn run_jobs(store: &Store, workers: usize, jobs: u64) -> Duration {
    let tasks = store.tasks();
    let batch = (0..jobs)
        .map(|n| NewTask::new("bench", json!({"n": n})))
        .collect();
    tasks.enqueue_batch(batch).await.unwrap();
    let done = Arc::new(AtomicU64::new(0));
    let all_done = Arc::new(Notify::new());
    let started = Instant::now();
    let mut handles = Vec::new();
    for w in 0..workers {
        let (done, all_done) = (done.clone(), all_done.clone());
        let worker = QueueWorker::new(
            tasks.clone(),
            WorkerConfig {
                name: format!("bench-{w}"),
                drive_cron: false,
                ..WorkerConfig::new("bench")
            },
            handler_fn(move |_task| {
                let (done, all_done) = (done.clone(), all_done.clone());
                async move {
                    if done.fetch_add(1, Ordering::AcqRel) + 1 == jobs {
                        all_done.notify_one();
                    }
                    Ok(())
                }
            }),
        )
        .unwrap();
        handles.push(
            spawn(worker, AgentConfig::named(format!("bench-{w}")))
                .await
                .unwrap(),
        );
    }
    all_done.notified().await;
    // The last handler returned; its completion is recorded as the workers stop.
    for handle in &handles {
        handle.stop(StopReason::Normal).await;
    }
    started.elapsed()
}

/// Add-to-start latency: printed as p50 / p99 over 300 sequential enqueues.
fn add_to_start(_c: &mut Criterion) {
    let rt = runtime();
    let targets = targets(&rt);
    for t in &targets {
        let samples = rt.block_on(async {
            let tasks = t.store.tasks();
            let (tx, mut rx) = mpsc::unbounded_channel();
            let worker = QueueWorker::new(
                tasks.clone(),
                WorkerConfig {
                    concurrency: 1,
                    drive_cron: false,
                    ..WorkerConfig::new("bench")
                },
                handler_fn(move |_task| {
                    let tx = tx.clone();
                    async move {
                        tx.send(Instant::now()).unwrap();
                        Ok(())
                    }
                }),
            )
            .unwrap();
            let handle = spawn(worker, AgentConfig::named("latency")).await.unwrap();
            let mut samples = Vec::with_capacity(300);
            for n in 0..300 {
                let before = Instant::now();
                tasks
                    .enqueue(NewTask::new("bench", json!({"n": n})))
                    .await
                    .unwrap();
                let started = rx.recv().await.unwrap();
                samples.push(started - before);
            }
            handle.stop(StopReason::Normal).await;
            samples
        });
        let mut sorted = samples;
        sorted.sort_unstable();
        let pick = |q: f64| sorted[((sorted.len() as f64 - 1.0) * q).round() as usize];
        eprintln!(
            "queue/add_to_start/{}: p50 {:?}, p99 {:?} (300 sequential enqueues, idle worker)",
            t.name,
            pick(0.50),
            pick(0.99)
        );
    }
    cleanup(&rt, targets);
}

criterion_group!(benches, enqueue, jobs, add_to_start);
criterion_main!(benches);
