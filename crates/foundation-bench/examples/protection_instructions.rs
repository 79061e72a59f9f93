//! Fixed-count `Protection::run` loops to count instructions with callgrind, which (unlike
//! wall-clock benches on a busy 2-core machine) gives nearly the same count run after run.
//!
//! ```text
//! cargo build --release -p foundation-bench --example protection_instructions
//! B=target/release/examples/protection_instructions
//! for n in 100000 200000; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null $B no_stages $n 2>&1 | grep Collected
//! done
//! ```
//!
//! Instructions per call = (count at 200000 − count at 100000) / 100000. Contenders, each a
//! loop of calls inside one `block_on` on a current-thread runtime, as in
//! `benches/protection.rs`:
//! - `bare`: the operation without protection;
//! - `no_stages`, `five_stages`: through a `Protection` with no stage / with rate limit,
//!   bulkhead, breaker, retry and timeout;
//! - `traced`: `no_stages` inside a W3C trace context, so each call makes a child context.

use std::hint::black_box;
use std::time::Duration;

use foundation_core::trace::TraceContext;
use foundation_core::{Error, TelemetryBus};
use foundation_protect::breaker::BreakerConfig;
use foundation_protect::bulkhead::BulkheadConfig;
use foundation_protect::limiter::LimiterConfig;
use foundation_protect::protection::Protection;
use foundation_protect::retry::RetryConfig;
use foundation_protect::timeout::TimeoutConfig;

#[path = "support/instructions.rs"]
mod instructions;

async fn operation(x: u64) -> Result<u64, Error> {
    Ok(black_box(x))
}

fn five_stages() -> Protection {
    Protection::builder("bench")
        .bus(TelemetryBus::new())
        .rate_limit(LimiterConfig {
            rate: 1_000_000,
            burst: 1_000_000,
            period_ms: 1,
            ..LimiterConfig::default()
        })
        .bulkhead(BulkheadConfig::default())
        .circuit_breaker(BreakerConfig::default())
        .retry(RetryConfig::default())
        .timeout(TimeoutConfig {
            duration: Duration::from_secs(5),
        })
        .build()
        .expect("valid stages")
}

async fn calls(protection: &Protection, n: u64) {
    for i in 0..n {
        black_box(protection.run(|_| operation(i)).await.unwrap());
    }
}

async fn run(contender: &str, n: u64) -> Result<(), String> {
    let plain = || {
        Protection::builder("bench")
            .bus(TelemetryBus::new())
            .build()
            .expect("no stages")
    };
    match contender {
        "bare" => {
            for i in 0..n {
                black_box(operation(i).await.unwrap());
            }
        }
        "no_stages" => calls(&plain(), n).await,
        "five_stages" => calls(&five_stages(), n).await,
        "traced" => {
            let trace = TraceContext::parse_traceparent(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )
            .map_err(|e| e.to_string())?;
            let protection = plain();
            trace.scope(calls(&protection, n)).await;
        }
        other => return Err(format!("unknown contender `{other}`")),
    }
    Ok(())
}

fn main() -> Result<(), String> {
    let (contender, n, rt) = instructions::contender_count_runtime("protection_instructions")?;
    rt.block_on(run(&contender, n))
}
