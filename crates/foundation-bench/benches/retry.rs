//! Retry happy path (the first attempt succeeds): Foundation's `Retry` vs `backon` 1.x.
//!
//! Run: `cargo bench -p foundation-bench --bench retry -- --warm-up-time 1 --measurement-time 3`
//!
//! All variants run in one criterion group, `retry_happy_path`, on a current-thread tokio
//! runtime, so their ns/op sit side by side; `bare_call` is the operation without any retry.

use std::hint::black_box;

use backon::{ExponentialBuilder, Retryable};
use criterion::{Criterion, criterion_group, criterion_main};
use foundation_core::{Error, TelemetryBus};
use foundation_protect::retry::{Backoff, Retry, RetryConfig, RetryDecision};

async fn operation(x: u64) -> Result<u64, Error> {
    Ok(black_box(x))
}

fn happy_path(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let retry = Retry::builder()
        .config(RetryConfig {
            max_attempts: 3,
            backoff: Backoff::default(),
            ..RetryConfig::default()
        })
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    let backoff = ExponentialBuilder::default().with_max_times(2);

    let mut group = c.benchmark_group("retry_happy_path");
    group.bench_function("bare_call", |b| {
        b.to_async(&rt).iter(|| operation(1));
    });
    group.bench_function("foundation_retry_run", |b| {
        b.to_async(&rt).iter(|| retry.run(|_| operation(1)));
    });
    group.bench_function("foundation_retry_state_loop", |b| {
        b.to_async(&rt).iter(|| async {
            let mut state = retry.start();
            loop {
                match operation(1).await {
                    Ok(v) => {
                        state.on_success();
                        break Ok(v);
                    }
                    Err(e) => match state.on_failure(e) {
                        RetryDecision::RetryAfter(d) => tokio::time::sleep(d).await,
                        RetryDecision::GiveUp(e) => break Err(e),
                    },
                }
            }
        });
    });
    group.bench_function("backon_exponential", |b| {
        b.to_async(&rt)
            .iter(|| (|| operation(1)).retry(backoff).sleep(tokio::time::sleep));
    });
    group.finish();
}

criterion_group!(benches, happy_path);
criterion_main!(benches);
