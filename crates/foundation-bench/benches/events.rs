//! Event store throughput on SQLite (a temp file in WAL mode: `sqlite` with `synchronous=FULL`,
//! `sqlite_normal` with `NORMAL`) and, when `FOUNDATION_TEST_POSTGRES_URL` is set, PostgreSQL
//! (a private schema dropped at the end).
//!
//! Groups per backend: `events_append/<backend>/single` (one event per append, so one commit
//! each), `events_append/<backend>/batch_100` (100 events in one append),
//! `events_read/<backend>/read_all_10k` (one `read_all` of 10,000 events, decoded) and
//! `events_read/<backend>/subscribe_10k` (a catch-up subscription replaying 10,000 events in
//! pages of 1,000). Throughput is in events.
//!
//! `cargo bench -p foundation-bench --bench events -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use foundation_bench::bench_stores;
use foundation_store::{EventStore, ExpectedVersion, NewEvent, Store};
use serde_json::json;
use tokio::runtime::Runtime;

const REPLAY: usize = 10_000;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn event(i: u64) -> NewEvent {
    NewEvent::new(
        "OrderPlaced",
        json!({"order": i, "customer": "c-42", "total": 129.5, "lines": [1, 2, 3]}),
    )
    .correlation_id("corr-1")
    .agent_id("agent-1")
}

/// Times `iters` runs of `op`, started with the run's index.
fn timed<F, Fut>(rt: &Runtime, iters: u64, mut op: F) -> Duration
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = ()>,
{
    rt.block_on(async {
        let start = Instant::now();
        for i in 0..iters {
            op(i).await;
        }
        start.elapsed()
    })
}

fn bench_backend(c: &mut Criterion, rt: &Runtime, backend: &str, store: &Store) {
    let events: EventStore = store.events();

    let mut group = c.benchmark_group(format!("events_append/{backend}"));
    group.throughput(Throughput::Elements(1));
    group.bench_function("single", |b| {
        b.iter_custom(|iters| {
            timed(rt, iters, |i| {
                let events = events.clone();
                async move {
                    black_box(
                        events
                            .append("bench-single", ExpectedVersion::Any, vec![event(i)])
                            .await
                            .expect("append"),
                    );
                }
            })
        })
    });
    group.throughput(Throughput::Elements(100));
    group.bench_function("batch_100", |b| {
        b.iter_custom(|iters| {
            timed(rt, iters, |i| {
                let events = events.clone();
                async move {
                    let batch = (0..100).map(|n| event(i * 100 + n)).collect();
                    black_box(
                        events
                            .append("bench-batch", ExpectedVersion::Any, batch)
                            .await
                            .expect("append"),
                    );
                }
            })
        })
    });
    group.finish();

    // Replay the 10,000 events after whatever the append benches wrote.
    let start = rt.block_on(async {
        let start = events.head_position().await.expect("head");
        for chunk in 0..(REPLAY as u64 / 1_000) {
            let batch = (0..1_000).map(|n| event(chunk * 1_000 + n)).collect();
            events
                .append("bench-replay", ExpectedVersion::Any, batch)
                .await
                .expect("seed");
        }
        start
    });
    let mut group = c.benchmark_group(format!("events_read/{backend}"));
    group.throughput(Throughput::Elements(REPLAY as u64));
    group.bench_function("read_all_10k", |b| {
        b.iter_custom(|iters| {
            timed(rt, iters, |_| {
                let events = events.clone();
                async move {
                    let read = events.read_all(start, REPLAY).await.expect("read");
                    assert_eq!(read.len(), REPLAY);
                    black_box(read);
                }
            })
        })
    });
    group.bench_function("subscribe_10k", |b| {
        b.iter_custom(|iters| {
            timed(rt, iters, |_| {
                let events = events.clone();
                async move {
                    let mut sub = events.subscribe(start).page_size(1_000).expect("page");
                    for _ in 0..REPLAY {
                        black_box(sub.next().await.expect("next"));
                    }
                }
            })
        })
    });
    group.finish();
}

fn events(c: &mut Criterion) {
    let rt = runtime();
    for target in rt.block_on(bench_stores()) {
        bench_backend(c, &rt, target.name, &target.store);
        rt.block_on(target.cleanup());
    }
}

criterion_group!(benches, events);
criterion_main!(benches);
