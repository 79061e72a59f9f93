//! The happy paths of retry, bulkhead, timeout and the five-stage `Protection` facade do
//! not touch the heap.
//!
//! This binary installs a counting global allocator and runs without the libtest harness
//! (`harness = false`): the count is process-wide, and the harness's own threads allocate
//! at moments of their choosing, so the check runs alone on the main thread.

use std::alloc::System;
use std::time::Duration;

use foundation_core::{Error, TelemetryBus};
use foundation_protect::breaker::BreakerConfig;
use foundation_protect::bulkhead::{Bulkhead, BulkheadConfig};
use foundation_protect::limiter::LimiterConfig;
use foundation_protect::protection::Protection;
use foundation_protect::retry::{Retry, RetryConfig};
use foundation_protect::timeout::{Timeout, TimeoutConfig};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn main() {
    first_attempt_success_allocates_nothing();
    println!("hot_path_allocations: first-attempt success paths allocate nothing: ok");
    five_stage_protection_allocates_nothing();
    println!("hot_path_allocations: the five-stage Protection happy path allocates nothing: ok");
}

fn first_attempt_success_allocates_nothing() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let retry = Retry::builder()
        .config(RetryConfig::default())
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    let bulkhead = Bulkhead::builder()
        .config(BulkheadConfig::default())
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    let timeout = Timeout::builder()
        .config(TimeoutConfig {
            duration: Duration::from_secs(1),
        })
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    rt.block_on(async {
        // Warm up lazily initialised runtime state (timer wheel, thread-locals).
        let _ = timeout.run(async { Ok::<_, Error>(()) }).await;

        let region = Region::new(GLOBAL);
        for i in 0..1000u64 {
            let v = retry
                .run(|_| async move { Ok::<_, Error>(i) })
                .await
                .unwrap();
            assert_eq!(v, i);
            let permit = bulkhead.acquire().await.unwrap();
            drop(permit);
            let v = timeout.run(async move { Ok::<_, Error>(i) }).await.unwrap();
            assert_eq!(v, i);
        }
        let change = region.change();
        assert_eq!(change.allocations, 0, "{change:?}");
        assert_eq!(change.reallocations, 0, "{change:?}");

        // The counter does see allocations (control).
        let control = Region::new(GLOBAL);
        std::hint::black_box(Vec::<u8>::with_capacity(8));
        assert_eq!(control.change().allocations, 1);
    });
}

fn five_stage_protection_allocates_nothing() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let protection = Protection::builder("alloc")
        .bus(TelemetryBus::new())
        .rate_limit(LimiterConfig {
            rate: 1_000_000,
            burst: 1_000_000,
            ..LimiterConfig::default()
        })
        .bulkhead(BulkheadConfig::default())
        .circuit_breaker(BreakerConfig::default())
        .retry(RetryConfig::default())
        .timeout(TimeoutConfig {
            duration: Duration::from_secs(1),
        })
        .build()
        .unwrap();
    rt.block_on(async {
        // Warm up lazily initialised state (timer wheel, per-thread counters).
        let _ = protection.run(|_| async { Ok::<_, Error>(()) }).await;

        let region = Region::new(GLOBAL);
        for i in 0..1000u64 {
            let v = protection
                .run(|ctx| async move { Ok::<_, Error>(i + u64::from(ctx.attempt())) })
                .await
                .unwrap();
            assert_eq!(v, i + 1);
        }
        let change = region.change();
        assert_eq!(change.allocations, 0, "{change:?}");
        assert_eq!(change.reallocations, 0, "{change:?}");
    });
}
