//! The `Protection` facade's happy path: what each stage and all five together add to a
//! bare call.
//!
//! Run: `cargo bench -p foundation-bench --bench protection -- --warm-up-time 1 --measurement-time 3`
//!
//! Every variant runs its calls in one loop inside one `block_on` on a current-thread tokio
//! runtime (`iter_custom`), so the executor's per-iteration cost is not counted; `bare_call`
//! is the same loop without protection. "Added" = variant − bare_call.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use foundation_core::{Error, TelemetryBus};
use foundation_protect::breaker::BreakerConfig;
use foundation_protect::bulkhead::BulkheadConfig;
use foundation_protect::limiter::LimiterConfig;
use foundation_protect::protection::{Protection, ProtectionBuilder};
use foundation_protect::retry::RetryConfig;
use foundation_protect::timeout::TimeoutConfig;

async fn operation(x: u64) -> Result<u64, Error> {
    Ok(black_box(x))
}

fn builder() -> ProtectionBuilder {
    Protection::builder("bench").bus(TelemetryBus::new())
}

fn limiter() -> LimiterConfig {
    LimiterConfig {
        rate: 1_000_000,
        burst: 1_000_000,
        period_ms: 1,
        ..LimiterConfig::default()
    }
}

fn timeout() -> TimeoutConfig {
    TimeoutConfig {
        duration: Duration::from_secs(5),
    }
}

fn facade(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let variants: Vec<(&str, Protection)> = vec![
        ("no_stages", builder().build().unwrap()),
        (
            "rate_limit",
            builder().rate_limit(limiter()).build().unwrap(),
        ),
        (
            "bulkhead",
            builder()
                .bulkhead(BulkheadConfig::default())
                .build()
                .unwrap(),
        ),
        (
            "circuit_breaker",
            builder()
                .circuit_breaker(BreakerConfig::default())
                .build()
                .unwrap(),
        ),
        (
            "retry",
            builder().retry(RetryConfig::default()).build().unwrap(),
        ),
        ("timeout", builder().timeout(timeout()).build().unwrap()),
        (
            "five_stages",
            builder()
                .rate_limit(limiter())
                .bulkhead(BulkheadConfig::default())
                .circuit_breaker(BreakerConfig::default())
                .retry(RetryConfig::default())
                .timeout(timeout())
                .build()
                .unwrap(),
        ),
    ];

    let mut group = c.benchmark_group("protection_happy_path");
    group.bench_function("bare_call", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for i in 0..iters {
                    black_box(operation(i).await.unwrap());
                }
                start.elapsed()
            })
        });
    });
    for (name, protection) in &variants {
        group.bench_function(*name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for i in 0..iters {
                        black_box(protection.run(|_| operation(i)).await.unwrap());
                    }
                    start.elapsed()
                })
            });
        });
    }
    group.finish();
}

criterion_group!(benches, facade);
criterion_main!(benches);
