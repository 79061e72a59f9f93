//! Rate limiter `check` side by side with governor 0.10.
//!
//! Groups (each benchmark is one `check`; ratios are read within a group):
//! - `limiter/direct_admitted`: one thread, a quota so large every check is admitted (the
//!   happy path). Ours with each algorithm on the system clock (`Clock::system`, std
//!   `Instant`) and GCRA on the default tokio clock; governor with its default quanta (TSC)
//!   clock and with its std `Instant` clock (`MonotonicClock`, the same time source as ours).
//! - `limiter/direct_denied`: one thread, every check denied (ours builds the structured
//!   `Error` with `retry_after` and context; governor returns a `NotUntil`).
//! - `limiter/direct_2_threads`: two threads sharing one limiter, admitted path (the leaky
//!   bucket, which never bursts, also denies some); the time is per check per thread (each
//!   thread does `iters` checks; wall time / `iters`).
//! - `limiter/keyed_admitted` and `limiter/keyed_2_threads`: 1 024 `u64` keys in rotation,
//!   ours (`KeyedRateLimiter`) vs governor's dashmap-backed keyed limiter.
//!
//! Run: `cargo bench -p foundation-bench --bench limiter -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use foundation_core::{Clock, ManualClock, TelemetryBus};
use foundation_protect::limiter::{Algorithm, KeyedRateLimiter, Quota, RateLimiter};
use governor::clock::{FakeRelativeClock, MonotonicClock};

const KEYS: u64 = 1_024;

/// 10⁹ permits per second with a huge burst: every check is admitted.
fn open_quota() -> Quota {
    Quota::new(1_000_000_000, Duration::from_secs(1)).with_burst(u32::MAX)
}

fn governor_open_quota() -> governor::Quota {
    governor::Quota::per_second(NonZeroU32::new(1_000_000_000).expect("non-zero"))
        .allow_burst(NonZeroU32::MAX)
}

fn ours(algorithm: Algorithm, quota: Quota, clock: Clock) -> RateLimiter {
    RateLimiter::builder()
        .name("bench")
        .algorithm(algorithm)
        .quota(quota)
        .clock(clock)
        .bus(TelemetryBus::new())
        .build()
        .expect("valid config")
}

fn ours_keyed(quota: Quota) -> KeyedRateLimiter<u64> {
    KeyedRateLimiter::builder()
        .name("bench")
        .quota(quota)
        .max_keys(4 * KEYS as usize)
        .clock(Clock::system())
        .bus(TelemetryBus::new())
        .build()
        .expect("valid config")
}

/// Runs `f(i)` `iters` times on each of two threads at once; returns the wall time.
fn two_threads(iters: u64, f: impl Fn(u64) + Sync) -> Duration {
    let barrier = Barrier::new(2);
    std::thread::scope(|s| {
        let run = || {
            barrier.wait();
            let t0 = Instant::now();
            for i in 0..iters {
                f(i);
            }
            t0.elapsed()
        };
        let a = s.spawn(run);
        let b = s.spawn(run);
        a.join().expect("thread").max(b.join().expect("thread"))
    })
}

fn direct_admitted(c: &mut Criterion) {
    let mut g = c.benchmark_group("limiter/direct_admitted");
    for algorithm in Algorithm::ALL {
        let l = ours(algorithm, open_quota(), Clock::system());
        g.bench_function(format!("foundation_{algorithm}"), |b| {
            b.iter(|| black_box(l.check()).expect("admitted"))
        });
    }
    let l = ours(Algorithm::Gcra, open_quota(), Clock::tokio());
    g.bench_function("foundation_gcra_tokio_clock", |b| {
        b.iter(|| black_box(l.check()).expect("admitted"))
    });
    let gov = governor::RateLimiter::direct(governor_open_quota());
    g.bench_function("governor_quanta_clock", |b| {
        b.iter(|| black_box(gov.check()).expect("admitted"))
    });
    let gov = governor::RateLimiter::direct_with_clock(governor_open_quota(), MonotonicClock);
    g.bench_function("governor_std_clock", |b| {
        b.iter(|| black_box(gov.check()).expect("admitted"))
    });
    // The algorithm alone: clocks that only read an atomic (time never moves, so the quota
    // is 1 per ns with an unbounded burst for both).
    let manual = ManualClock::new();
    let l = ours(Algorithm::Gcra, open_quota(), manual.clock());
    g.bench_function("foundation_gcra_manual_clock", |b| {
        b.iter(|| {
            manual.advance(Duration::from_nanos(1));
            black_box(l.check()).expect("admitted")
        })
    });
    let fake = FakeRelativeClock::default();
    let gov = governor::RateLimiter::direct_with_clock(governor_open_quota(), fake.clone());
    g.bench_function("governor_fake_clock", |b| {
        b.iter(|| {
            fake.advance(Duration::from_nanos(1));
            black_box(gov.check()).expect("admitted")
        })
    });
    g.finish();
}

fn direct_denied(c: &mut Criterion) {
    let mut g = c.benchmark_group("limiter/direct_denied");
    let hourly = Quota::new(1, Duration::from_secs(3_600));
    for algorithm in [
        Algorithm::Gcra,
        Algorithm::TokenBucket,
        Algorithm::SlidingWindow,
    ] {
        let l = ours(algorithm, hourly, Clock::system());
        l.check().expect("first is admitted");
        g.bench_function(format!("foundation_{algorithm}"), |b| {
            b.iter(|| black_box(l.check()).expect_err("denied"))
        });
    }
    let gov = governor::RateLimiter::direct_with_clock(
        governor::Quota::with_period(Duration::from_secs(3_600)).expect("non-zero"),
        MonotonicClock,
    );
    gov.check().expect("first is admitted");
    g.bench_function("governor_std_clock", |b| {
        b.iter(|| black_box(gov.check()).expect_err("denied"))
    });
    g.finish();
}

fn direct_2_threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("limiter/direct_2_threads");
    for algorithm in Algorithm::ALL {
        let l = ours(algorithm, open_quota(), Clock::system());
        g.bench_function(format!("foundation_{algorithm}"), |b| {
            b.iter_custom(|iters| {
                two_threads(iters, |_| {
                    let r = black_box(l.check());
                    // The leaky bucket's `check` admits only into an empty queue, so two
                    // threads checking in the same nanosecond see some denials.
                    assert!(r.is_ok() || algorithm == Algorithm::LeakyBucket);
                })
            })
        });
    }
    let gov = governor::RateLimiter::direct(governor_open_quota());
    g.bench_function("governor_quanta_clock", |b| {
        b.iter_custom(|iters| two_threads(iters, |_| black_box(gov.check()).expect("admitted")))
    });
    let gov = governor::RateLimiter::direct_with_clock(governor_open_quota(), MonotonicClock);
    g.bench_function("governor_std_clock", |b| {
        b.iter_custom(|iters| two_threads(iters, |_| black_box(gov.check()).expect("admitted")))
    });
    g.finish();
}

fn keyed(c: &mut Criterion) {
    let mut g = c.benchmark_group("limiter/keyed_admitted");
    let l = ours_keyed(open_quota());
    let gov_quanta = governor::RateLimiter::keyed(governor_open_quota());
    let gov_std = governor::RateLimiter::dashmap_with_clock(governor_open_quota(), MonotonicClock);
    for k in 0..KEYS {
        l.check(&k).expect("admitted");
        gov_quanta.check_key(&k).expect("admitted");
        gov_std.check_key(&k).expect("admitted");
    }
    let mut i = 0u64;
    g.bench_function("foundation_gcra", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            black_box(l.check(&i)).expect("admitted")
        })
    });
    g.bench_function("governor_quanta_clock", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            black_box(gov_quanta.check_key(&i)).expect("admitted")
        })
    });
    g.bench_function("governor_std_clock", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            black_box(gov_std.check_key(&i)).expect("admitted")
        })
    });
    g.finish();

    let mut g = c.benchmark_group("limiter/keyed_2_threads");
    g.bench_function("foundation_gcra", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, |i| {
                black_box(l.check(&(i % KEYS))).expect("admitted")
            })
        })
    });
    g.bench_function("governor_quanta_clock", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, |i| {
                black_box(gov_quanta.check_key(&(i % KEYS))).expect("admitted")
            })
        })
    });
    g.bench_function("governor_std_clock", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, |i| {
                black_box(gov_std.check_key(&(i % KEYS))).expect("admitted")
            })
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    direct_admitted,
    direct_denied,
    direct_2_threads,
    keyed
);
criterion_main!(benches);
