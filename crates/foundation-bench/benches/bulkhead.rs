//! Bulkhead acquire + release: Foundation's `Bulkhead` vs `tower::limit::ConcurrencyLimit`
//! and a bare `tokio::sync::Semaphore`.
//!
//! Run: `cargo bench -p foundation-bench --bench bulkhead -- --warm-up-time 1 --measurement-time 3`
//!
//! Two groups, each side by side on a current-thread tokio runtime:
//! - `bulkhead_acquire_release`: take a slot and free it (bulkhead `acquire`/`try_acquire`
//!   vs semaphore `acquire`/`try_acquire`);
//! - `bulkhead_service_call`: `ready().await` + `call()` through the tower layer on an
//!   always-ready inner service (`BulkheadLayer` vs `ConcurrencyLimitLayer` vs no layer).

use std::convert::Infallible;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Bencher, Criterion, criterion_group, criterion_main};
use foundation_core::TelemetryBus;
use foundation_protect::bulkhead::{Bulkhead, BulkheadConfig, BulkheadLayer};
use tokio::sync::Semaphore;
use tower::limit::ConcurrencyLimitLayer;
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};

const SLOTS: usize = 64;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

fn bulkhead() -> Bulkhead {
    Bulkhead::builder()
        .config(BulkheadConfig {
            max_concurrent: SLOTS,
            max_waiting: 64,
            max_wait: Duration::from_secs(1),
        })
        .bus(TelemetryBus::new())
        .build()
        .unwrap()
}

fn acquire_release(c: &mut Criterion) {
    let rt = runtime();
    let bh = bulkhead();
    let sem = Semaphore::new(SLOTS);

    let mut group = c.benchmark_group("bulkhead_acquire_release");
    group.bench_function("foundation_bulkhead_acquire", |b| {
        b.to_async(&rt).iter(|| async {
            let permit = bh.acquire().await.unwrap();
            drop(black_box(permit));
        });
    });
    group.bench_function("tokio_semaphore_acquire", |b| {
        b.to_async(&rt).iter(|| async {
            let permit = sem.acquire().await.unwrap();
            drop(black_box(permit));
        });
    });
    group.bench_function("foundation_bulkhead_try_acquire", |b| {
        b.iter(|| drop(black_box(bh.try_acquire().unwrap())));
    });
    group.bench_function("tokio_semaphore_try_acquire", |b| {
        b.iter(|| drop(black_box(sem.try_acquire().unwrap())));
    });
    group.finish();
}

fn service_call(c: &mut Criterion) {
    let rt = runtime();
    let inner = service_fn(|x: u64| async move { Ok::<_, Infallible>(black_box(x)) });
    let mut bare = inner;
    let mut ours = ServiceBuilder::new()
        .layer(BulkheadLayer::new(bulkhead()))
        .service(inner);
    let mut tower_limit = ServiceBuilder::new()
        .layer(ConcurrencyLimitLayer::new(SLOTS))
        .service(inner);

    let mut group = c.benchmark_group("bulkhead_service_call");
    group.bench_function("bare_service", |b| ready_call(b, &rt, &mut bare));
    group.bench_function("foundation_bulkhead_layer", |b| {
        ready_call(b, &rt, &mut ours)
    });
    group.bench_function("tower_concurrency_limit", |b| {
        ready_call(b, &rt, &mut tower_limit)
    });
    group.finish();
}

/// Times `ready().await` + `call(1).await` on `svc`, `iters` times in one `block_on`.
fn ready_call<S>(b: &mut Bencher<'_>, rt: &tokio::runtime::Runtime, svc: &mut S)
where
    S: Service<u64, Response = u64>,
    S::Error: std::fmt::Debug,
{
    b.iter_custom(|iters| {
        rt.block_on(async {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(svc.ready().await.unwrap().call(1).await.unwrap());
            }
            start.elapsed()
        })
    });
}

criterion_group!(benches, acquire_release, service_call);
criterion_main!(benches);
