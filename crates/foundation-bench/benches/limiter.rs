//! Rate limiter `check` side by side with governor 0.10.
//!
//! Every comparison is made twice, once per time source, so the ratio is apples to apples:
//! `*_fast_clock` is ours on `Clock::fast()` (the TSC through quanta) next to governor's default
//! `governor_quanta_clock` (the same TSC through quanta), and `*_std_clock` is ours on
//! `Clock::system()` next to `governor_std_clock` (`MonotonicClock`: both read
//! `std::time::Instant::now`).
//!
//! Groups (each benchmark is one `check`; ratios are read within a group):
//! - `limiter/clock_read`: one read of each time source alone (`Clock::now` on the fast,
//!   system and tokio clocks, `Stopwatch::elapsed_nanos` on the fast and system clocks, which
//!   is what the limiter reads, and a bare `quanta::Clock::now`), so the rest of each `check`
//!   is the difference.
//! - `limiter/direct_admitted`: one thread, a quota so large every check is admitted (the
//!   happy path). Ours with each algorithm on both clocks and GCRA on the default tokio clock;
//!   governor on both clocks; then both algorithms alone on clocks that only read an atomic.
//! - `limiter/direct_denied`: one thread, every check denied (ours builds the structured
//!   `Error` with `retry_after` and context; governor returns a `NotUntil`).
//! - `limiter/direct_2_threads`: two threads sharing one limiter, admitted path (the leaky
//!   bucket, which never bursts, also denies some); the time is per check per thread (each
//!   thread does `iters` checks; wall time / `iters`).
//! - `limiter/keyed_admitted` and `limiter/keyed_2_threads`: 1 024 `u64` keys in rotation,
//!   ours (`KeyedRateLimiter`, GCRA) vs governor's dashmap-backed keyed limiter.
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

/// Our two production time sources, each named after the governor clock it matches.
fn clocks() -> [(&'static str, Clock); 2] {
    [
        ("fast_clock", Clock::fast()),
        ("std_clock", Clock::system()),
    ]
}

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

fn ours_keyed(quota: Quota, clock: Clock) -> KeyedRateLimiter<u64> {
    KeyedRateLimiter::builder()
        .name("bench")
        .quota(quota)
        .max_keys(4 * KEYS as usize)
        .clock(clock)
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

fn clock_read(c: &mut Criterion) {
    let mut g = c.benchmark_group("limiter/clock_read");
    for (name, clock) in clocks() {
        g.bench_function(format!("foundation_{name}"), |b| {
            b.iter(|| black_box(clock.now()))
        });
    }
    for (name, clock) in clocks() {
        let watch = clock.stopwatch();
        g.bench_function(format!("foundation_stopwatch_{name}"), |b| {
            b.iter(|| black_box(watch.elapsed_nanos()))
        });
    }
    let clock = Clock::tokio();
    g.bench_function("foundation_tokio_clock", |b| {
        b.iter(|| black_box(clock.now()))
    });
    let quanta = quanta::Clock::new();
    g.bench_function("quanta_now", |b| b.iter(|| black_box(quanta.now())));
    g.finish();
}

fn direct_admitted(c: &mut Criterion) {
    let mut g = c.benchmark_group("limiter/direct_admitted");
    for (name, clock) in clocks() {
        for algorithm in Algorithm::ALL {
            let l = ours(algorithm, open_quota(), clock.clone());
            g.bench_function(format!("foundation_{algorithm}_{name}"), |b| {
                b.iter(|| black_box(l.check()).expect("admitted"))
            });
        }
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
    for (name, clock) in clocks() {
        for algorithm in Algorithm::ALL {
            let l = ours(algorithm, hourly, clock.clone());
            l.check().expect("first is admitted");
            g.bench_function(format!("foundation_{algorithm}_{name}"), |b| {
                b.iter(|| black_box(l.check()).expect_err("denied"))
            });
        }
    }
    let hourly_gov = governor::Quota::with_period(Duration::from_secs(3_600)).expect("non-zero");
    let gov = governor::RateLimiter::direct(hourly_gov);
    gov.check().expect("first is admitted");
    g.bench_function("governor_quanta_clock", |b| {
        b.iter(|| black_box(gov.check()).expect_err("denied"))
    });
    let gov = governor::RateLimiter::direct_with_clock(hourly_gov, MonotonicClock);
    gov.check().expect("first is admitted");
    g.bench_function("governor_std_clock", |b| {
        b.iter(|| black_box(gov.check()).expect_err("denied"))
    });
    g.finish();
}

fn direct_2_threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("limiter/direct_2_threads");
    for (name, clock) in clocks() {
        for algorithm in Algorithm::ALL {
            let l = ours(algorithm, open_quota(), clock.clone());
            g.bench_function(format!("foundation_{algorithm}_{name}"), |b| {
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
    let ours: Vec<_> = clocks()
        .into_iter()
        .map(|(name, clock)| (name, ours_keyed(open_quota(), clock)))
        .collect();
    let gov_quanta = governor::RateLimiter::keyed(governor_open_quota());
    let gov_std = governor::RateLimiter::dashmap_with_clock(governor_open_quota(), MonotonicClock);
    for k in 0..KEYS {
        for (_, l) in &ours {
            l.check(&k).expect("admitted");
        }
        gov_quanta.check_key(&k).expect("admitted");
        gov_std.check_key(&k).expect("admitted");
    }

    let mut g = c.benchmark_group("limiter/keyed_admitted");
    let mut i = 0u64;
    for (name, l) in &ours {
        g.bench_function(format!("foundation_gcra_{name}"), |b| {
            b.iter(|| {
                i = (i + 1) % KEYS;
                black_box(l.check(&i)).expect("admitted")
            })
        });
    }
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
    for (name, l) in &ours {
        g.bench_function(format!("foundation_gcra_{name}"), |b| {
            b.iter_custom(|iters| {
                two_threads(iters, |i| {
                    black_box(l.check(&(i % KEYS))).expect("admitted")
                })
            })
        });
    }
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
    clock_read,
    direct_admitted,
    direct_denied,
    direct_2_threads,
    keyed
);
criterion_main!(benches);
