//! Reading a live value (`Live::load`, `Cached::load`) touches no heap, before and after a reload.
//!
//! This binary installs a counting global allocator and runs without the libtest harness
//! (`harness = false`): the count is process-wide, so the check runs alone on the main thread.

use std::alloc::System;
use std::hint::black_box;

use foundation_config::{Config, LayerSet, Live, Schema, Secrets};
use serde::Deserialize;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[derive(Deserialize)]
struct Breaker {
    failure_rate_threshold: f64,
}

fn reads_allocate_nothing(live: &Live<Breaker>, expected: f64) {
    let region = Region::new(GLOBAL);
    let mut sum = 0.0;
    for _ in 0..10_000 {
        sum += black_box(live.load().failure_rate_threshold);
    }
    let mut cached = live.cached();
    for _ in 0..10_000 {
        sum += black_box(cached.load().failure_rate_threshold);
    }
    let stats = region.change();
    assert_eq!(sum, expected * 20_000.0);
    assert_eq!(
        (stats.allocations, stats.reallocations),
        (0, 0),
        "reading a live value allocated: {stats:?}"
    );
}

fn main() {
    let layers = LayerSet::new().toml_str("app.toml", "[breaker]\nfailure_rate_threshold = 50.0");
    let (config, _) = Config::load(Schema::new(), Secrets::default(), layers).unwrap();
    let live: Live<Breaker> = config.live("breaker").unwrap();
    reads_allocate_nothing(&live, 50.0);
    config.set("breaker.failure_rate_threshold", 25.0).unwrap();
    reads_allocate_nothing(&live, 25.0);
    println!("live_read_allocations: Live::load allocates nothing: ok");
}
