//! Circuit breaker closed-path overhead, side by side with failsafe, recloser and
//! tower-resilience.
//!
//! Groups:
//! - `breaker/closed_path`: one admitted, successful call (acquire + record) on one thread:
//!   ours (owned `Permit`, borrowed `PermitRef`, `call_sync` like the peers' `call(f)`,
//!   async `call` driven in a loop on a current-thread runtime), failsafe, recloser.
//! - `breaker/tower_service`: the same as tower middleware around a ready inner service:
//!   a bare service (baseline), our `CircuitBreakerLayer`, tower-resilience's breaker.
//! - `breaker/contended`: ours, two threads sharing one breaker (time per call per thread).
//!
//! Times are the benchmark thread's CPU time (`/proc/thread-self/schedstat` on Linux, wall
//! time elsewhere), so a busy shared machine preempting the thread does not inflate them.
//!
//! Run: `cargo bench -p foundation-bench --bench breaker -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use failsafe::CircuitBreaker as _;
use foundation_core::Error;
use foundation_protect::breaker::{BreakerConfig, CircuitBreaker, CircuitBreakerLayer};
use foundation_protect::outcome::Outcome;
use tower::{Service, ServiceBuilder, ServiceExt};

/// A clock of the current thread's time on a CPU, falling back to wall time.
struct CpuClock(Option<u64>, Instant);

impl CpuClock {
    fn on_cpu() -> Option<u64> {
        let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
        text.split_whitespace().next()?.parse().ok()
    }

    fn start() -> CpuClock {
        CpuClock(CpuClock::on_cpu(), Instant::now())
    }

    fn elapsed(&self) -> Duration {
        match (self.0, CpuClock::on_cpu()) {
            (Some(a), Some(b)) if b > a => Duration::from_nanos(b - a),
            _ => self.1.elapsed(),
        }
    }
}

/// Times `iters` runs of `f` in thread CPU time.
fn cpu_iters(iters: u64, mut f: impl FnMut(u64)) -> Duration {
    let clock = CpuClock::start();
    for i in 0..iters {
        f(i);
    }
    clock.elapsed()
}

fn ours() -> CircuitBreaker {
    CircuitBreaker::new("bench", BreakerConfig::default()).expect("valid config")
}

fn closed_path(c: &mut Criterion) {
    let mut g = c.benchmark_group("breaker/closed_path");

    let breaker = ours();
    g.bench_function("foundation_permit", |b| {
        b.iter_custom(|iters| {
            cpu_iters(iters, |_| {
                let permit = black_box(&breaker).try_acquire().expect("closed");
                permit.record(black_box(Outcome::Success));
            })
        })
    });

    g.bench_function("foundation_permit_ref", |b| {
        b.iter_custom(|iters| {
            cpu_iters(iters, |_| {
                let permit = black_box(&breaker).try_acquire_ref().expect("closed");
                permit.record(black_box(Outcome::Success));
            })
        })
    });

    g.bench_function("foundation_call_sync", |b| {
        b.iter_custom(|iters| {
            cpu_iters(iters, |i| {
                let r = black_box(&breaker).call_sync(|| Ok::<_, Error>(black_box(i)));
                black_box(r.is_ok());
            })
        })
    });

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    g.bench_function("foundation_call_async", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = CpuClock::start();
                for i in 0..iters {
                    let r = breaker.call(|| async { Ok::<_, Error>(i) }).await;
                    black_box(r.is_ok());
                }
                start.elapsed()
            })
        })
    });

    let failsafe = failsafe::Config::new().build();
    g.bench_function("failsafe", |b| {
        b.iter_custom(|iters| {
            cpu_iters(iters, |i| {
                let r = black_box(&failsafe).call(|| Ok::<_, ()>(black_box(i)));
                black_box(r.is_ok());
            })
        })
    });

    let recloser = recloser::Recloser::default();
    g.bench_function("recloser", |b| {
        b.iter_custom(|iters| {
            cpu_iters(iters, |i| {
                let r = black_box(&recloser).call(|| Ok::<_, ()>(black_box(i)));
                black_box(r.is_ok());
            })
        })
    });
    g.finish();
}

/// Drives `svc` through `iters` ready+call rounds on a current-thread runtime.
fn drive<S>(rt: &tokio::runtime::Runtime, svc: &mut S, iters: u64) -> Duration
where
    S: Service<u64>,
    S::Error: std::fmt::Debug,
{
    rt.block_on(async {
        let start = CpuClock::start();
        for i in 0..iters {
            let r = svc.ready().await.expect("ready").call(i).await;
            black_box(r.is_ok());
        }
        start.elapsed()
    })
}

fn tower_service(c: &mut Criterion) {
    let mut g = c.benchmark_group("breaker/tower_service");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let inner = tower::service_fn(|x: u64| async move { Ok::<_, Error>(x) });

    let mut bare = inner;
    g.bench_function("bare_service", |b| {
        b.iter_custom(|iters| drive(&rt, &mut bare, iters))
    });

    let mut ours = ServiceBuilder::new()
        .layer(CircuitBreakerLayer::new(self::ours()))
        .service(inner);
    g.bench_function("foundation_layer", |b| {
        b.iter_custom(|iters| drive(&rt, &mut ours, iters))
    });

    let layer = tower_resilience::circuitbreaker::CircuitBreakerLayer::builder()
        .build()
        .expect("valid config");
    let mut theirs = ServiceBuilder::new().layer(layer).service(inner);
    g.bench_function("tower_resilience", |b| {
        b.iter_custom(|iters| drive(&rt, &mut theirs, iters))
    });
    g.finish();
}

/// Runs `f` on two threads at once; the time per call per thread.
fn two_threads(iters: u64, f: impl Fn() + Send + Sync + Clone + 'static) -> Duration {
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let f = f.clone();
            std::thread::spawn(move || cpu_iters(iters, |_| f()))
        })
        .collect();
    let total: Duration = threads
        .into_iter()
        .map(|t| t.join().expect("bench thread"))
        .sum();
    total / 2
}

fn contended(c: &mut Criterion) {
    let mut g = c.benchmark_group("breaker/contended");
    let breaker = Arc::new(ours());
    let b1 = breaker.clone();
    g.bench_function("foundation_permit_2_threads", |b| {
        b.iter_custom(|iters| {
            let breaker = b1.clone();
            two_threads(iters, move || {
                let permit = breaker.try_acquire().expect("closed");
                permit.record(black_box(Outcome::Success));
            })
        })
    });
    g.bench_function("foundation_permit_ref_2_threads", |b| {
        b.iter_custom(|iters| {
            let breaker = breaker.clone();
            two_threads(iters, move || {
                let permit = breaker.try_acquire_ref().expect("closed");
                permit.record(black_box(Outcome::Success));
            })
        })
    });
    g.finish();
}

criterion_group!(benches, closed_path, tower_service, contended);
criterion_main!(benches);
