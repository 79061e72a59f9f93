//! Pool get + return on a warm pool: Foundation's pool vs deadpool 0.13 (managed) and bb8 0.9,
//! each with a trivial manager whose connections are a `u64`.
//!
//! Groups: `pool_get_return/1_thread` (current-thread runtime, one task) and
//! `pool_get_return/2_threads_contended` (multi-thread runtime, two workers, two tasks
//! hammering one pool of two connections). Time per get + return.
//!
//! `cargo bench -p foundation-bench --bench pool -- --warm-up-time 1 --measurement-time 3`

use std::convert::Infallible;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use foundation_core::{Error, TelemetryBus};
use foundation_protect::pool::{Manager, Pool, PoolConfig, RecyclePolicy};
use tokio::runtime::Runtime;

const SIZE: usize = 2;

struct Trivial;

impl Manager for Trivial {
    type Connection = u64;
    async fn create(&self) -> Result<u64, Error> {
        Ok(7)
    }
}

struct DeadpoolTrivial;

impl deadpool::managed::Manager for DeadpoolTrivial {
    type Type = u64;
    type Error = Infallible;
    async fn create(&self) -> Result<u64, Infallible> {
        Ok(7)
    }
    async fn recycle(
        &self,
        _: &mut u64,
        _: &deadpool::managed::Metrics,
    ) -> deadpool::managed::RecycleResult<Infallible> {
        Ok(())
    }
}

struct Bb8Trivial;

impl bb8::ManageConnection for Bb8Trivial {
    type Connection = u64;
    type Error = Infallible;
    async fn connect(&self) -> Result<u64, Infallible> {
        Ok(7)
    }
    async fn is_valid(&self, _: &mut u64) -> Result<(), Infallible> {
        Ok(())
    }
    fn has_broken(&self, _: &mut u64) -> bool {
        false
    }
}

/// One get + return, for every contender.
#[derive(Clone)]
enum Contender {
    Foundation(Pool<Trivial>),
    Deadpool(deadpool::managed::Pool<DeadpoolTrivial>),
    Bb8(bb8::Pool<Bb8Trivial>),
}

impl Contender {
    async fn get_return(&self) {
        match self {
            Contender::Foundation(p) => black_box(*p.get().await.unwrap()),
            Contender::Deadpool(p) => black_box(*p.get().await.unwrap()),
            Contender::Bb8(p) => black_box(*p.get().await.unwrap()),
        };
    }

    /// Opens `SIZE` connections (all held at once) so the pool is warm.
    async fn warm(&self) {
        match self {
            Contender::Foundation(p) => {
                let mut held = Vec::new();
                for _ in 0..SIZE {
                    held.push(p.get().await.unwrap());
                }
            }
            Contender::Deadpool(p) => {
                let mut held = Vec::new();
                for _ in 0..SIZE {
                    held.push(p.get().await.unwrap());
                }
            }
            Contender::Bb8(p) => {
                let mut held = Vec::new();
                for _ in 0..SIZE {
                    held.push(p.get().await.unwrap());
                }
            }
        }
    }
}

async fn contenders() -> Vec<(&'static str, Contender)> {
    let foundation = |recycle| {
        Pool::builder(Trivial)
            .bus(TelemetryBus::new())
            .config(PoolConfig {
                max_size: SIZE,
                recycle,
                ..PoolConfig::default()
            })
            .build()
            .unwrap()
    };
    let bb8 = |test_on_check_out| {
        bb8::Pool::builder()
            .max_size(SIZE as u32)
            .test_on_check_out(test_on_check_out)
            .build_unchecked(Bb8Trivial)
    };
    let list = vec![
        (
            "foundation",
            Contender::Foundation(foundation(RecyclePolicy::Background)),
        ),
        (
            "foundation_recycle_on_checkout",
            Contender::Foundation(foundation(RecyclePolicy::OnCheckout)),
        ),
        (
            "deadpool",
            Contender::Deadpool(
                deadpool::managed::Pool::builder(DeadpoolTrivial)
                    .max_size(SIZE)
                    .build()
                    .unwrap(),
            ),
        ),
        ("bb8", Contender::Bb8(bb8(true))),
        ("bb8_no_test_on_checkout", Contender::Bb8(bb8(false))),
    ];
    for (_, c) in &list {
        c.warm().await;
    }
    list
}

fn one_thread(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let list = rt.block_on(contenders());
    let mut group = c.benchmark_group("pool_get_return/1_thread");
    for (name, pool) in &list {
        group.bench_function(*name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        pool.get_return().await;
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

fn two_threads(c: &mut Criterion) {
    let rt: Arc<Runtime> = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap(),
    );
    let list = rt.block_on(contenders());
    let mut group = c.benchmark_group("pool_get_return/2_threads_contended");
    for (name, pool) in &list {
        group.bench_function(*name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let per_task = iters.div_ceil(2);
                    let start = Instant::now();
                    let tasks: Vec<_> = (0..2)
                        .map(|_| {
                            let pool = pool.clone();
                            tokio::spawn(async move {
                                for _ in 0..per_task {
                                    pool.get_return().await;
                                }
                            })
                        })
                        .collect();
                    for t in tasks {
                        t.await.unwrap();
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1));
    targets = one_thread, two_threads
}
criterion_main!(benches);
