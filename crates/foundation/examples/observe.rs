//! What an operator sees: a protected dependency whose calls the performance monitor
//! records, a latency threshold that trips, the health aggregator's report, the memory
//! manager's reading, and the Prometheus text of it all.
//!
//! Run it with `cargo run -p foundation --example observe`; add `-- --serve` to keep serving
//! `/metrics`, `/health`, `/health/live` and `/health/ready` on 127.0.0.1:9464.

use std::sync::Arc;
use std::time::Duration;

use foundation::observe::health::builtin::{MemoryCheck, MemoryCheckConfig, ThresholdsCheck};
use foundation::observe::health::{Group, Scope};
use foundation::observe::monitor::{Condition, Metric, PROTECTION_OPERATION, Severity, Threshold};
use foundation::prelude::*;

#[tokio::main]
async fn main() -> Result<()> {
    let monitor = Monitor::new();
    let _monitor_task = monitor.spawn();
    monitor.set_threshold(
        PROTECTION_OPERATION,
        &[("protection", "inventory")],
        Threshold::new(Metric::P99, Window::Minute, Condition::Above(20.0))
            .severity(Severity::Warn),
    )?;

    // The memory manager reads this process (cgroup v2 limit when there is one).
    let memory = MemoryManager::new(MemoryConfig::default())?;
    let _sampler = memory.start();
    let sample = memory.sample_now()?;
    println!(
        "memory: {} MiB of {} MiB ({:?}), pressure {}",
        sample.usage_bytes >> 20,
        sample.limit_bytes >> 20,
        sample.limit_source,
        sample.level.as_str()
    );

    // A dependency called through a protection whose memory gate is the manager and whose
    // calls the monitor records (as `foundation.protection.call{protection="inventory"}`).
    let protection = Protection::builder("inventory")
        .memory_gate(memory.gate())
        .observer(Arc::new(monitor.clone()))
        .timeout(TimeoutConfig {
            duration: Duration::from_millis(200),
        })
        .build()?;
    for call in 0..200u64 {
        // Every 20th call is slow.
        let delay = if call % 20 == 0 { 40 } else { 2 };
        protection
            .run(|_ctx| async move {
                tokio::time::sleep(Duration::from_millis(delay)).await;
                Ok::<_, Error>(7)
            })
            .await?;
    }
    monitor.tick();
    let minute = monitor.summary(
        PROTECTION_OPERATION,
        &[("protection", "inventory")],
        Window::Minute,
    )?;
    println!(
        "inventory calls, last minute: {} calls, p50 {:?}, p99 {:?}, max {:?}",
        minute.count,
        minute.p50.unwrap_or_default(),
        minute.p99.unwrap_or_default(),
        minute.max.unwrap_or_default()
    );
    let health = monitor.health(PROTECTION_OPERATION, &[("protection", "inventory")])?;
    println!(
        "thresholds: {} ({} breached)",
        health.status,
        health.breaches.len()
    );

    let aggregator = HealthAggregator::new(Default::default())?;
    aggregator.register(ThresholdsCheck::new(monitor.clone()), CheckOptions::new())?;
    aggregator.register(
        MemoryCheck::new(memory.gate(), MemoryCheckConfig::default())?,
        CheckOptions::new()
            .critical(true)
            .groups(&[Group::Liveness, Group::Readiness]),
    )?;
    let report = aggregator.report(Scope::all()).await;
    println!("health ({}): {}", report.http_status(), report.to_json());

    let exporter = MetricsExporter::new()
        .with(monitor.clone())
        .with(memory.clone());
    let text = exporter.render().await;
    println!("\n/metrics (first lines):");
    for line in text.lines().take(12) {
        println!("  {line}");
    }

    if std::env::args().any(|a| a == "--serve") {
        let app = exporter.router().merge(aggregator.router());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:9464")
            .await
            .map_err(|e| Error::new(ErrorCode::UNAVAILABLE, format!("bind 127.0.0.1:9464: {e}")))?;
        println!("serving /metrics and /health on http://127.0.0.1:9464 (Ctrl-C stops)");
        axum::serve(listener, app)
            .await
            .map_err(|e| Error::new(ErrorCode::UNAVAILABLE, format!("serve: {e}")))?;
    }
    Ok(())
}
