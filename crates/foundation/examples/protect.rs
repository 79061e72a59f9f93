//! The protection layer at work against a dependency that is healthy, then flaky, then
//! down, then back: retries absorb the flaky phase, the breaker trips when it goes down and
//! calls get a fallback answer at once instead of waiting, probes close the breaker when it
//! recovers, and a rate limit sheds a burst.
//!
//! Run it with `cargo run -p foundation --example protect`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};
use std::time::Duration;

use foundation::prelude::*;
use foundation::protect::breaker::{StateChanged, WindowConfig};
use foundation::protect::retry::Backoff;

/// What the simulated inventory service is doing.
#[derive(Clone, Copy, Debug)]
#[repr(u8)]
enum Health {
    Healthy,
    Flaky,
    Down,
}

/// A stand-in for a remote inventory service: a little latency, and failures by phase.
struct Inventory {
    health: AtomicU8,
    served: AtomicU32,
}

impl Inventory {
    fn set(&self, health: Health) {
        self.health.store(health as u8, Ordering::SeqCst);
    }

    async fn stock(&self, sku: &str) -> Result<u32> {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let n = self.served.fetch_add(1, Ordering::SeqCst);
        match self.health.load(Ordering::SeqCst) {
            0 => Ok(sku.len() as u32 * 10),
            1 if n % 2 == 0 => Err(Error::new(ErrorCode::NETWORK, "connection reset by peer")),
            1 => Ok(sku.len() as u32 * 10),
            _ => Err(Error::new(
                ErrorCode::UNAVAILABLE,
                "503 Service Unavailable",
            )),
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let bus = TelemetryBus::new();
    let mut breaker_events = bus.subscribe_prefix("foundation.breaker.state_change", 64);

    let protection = Protection::builder("inventory")
        .bus(bus.clone())
        .rate_limit(LimiterConfig {
            rate: 20,
            burst: 20,
            period_ms: 1_000,
            ..LimiterConfig::default()
        })
        .bulkhead(BulkheadConfig {
            max_concurrent: 8,
            ..BulkheadConfig::default()
        })
        .circuit_breaker(BreakerConfig {
            window: WindowConfig::Count { size: 10 },
            minimum_calls: 5,
            failure_rate_threshold: 50.0,
            open_duration: Duration::from_millis(500),
            half_open_probes: 2,
            ..BreakerConfig::default()
        })
        .retry(RetryConfig {
            max_attempts: 3,
            backoff: Backoff::Constant {
                delay: Duration::from_millis(20),
            },
            ..RetryConfig::default()
        })
        .timeout(TimeoutConfig {
            duration: Duration::from_millis(200),
        })
        .build()?;

    let inventory = Arc::new(Inventory {
        health: AtomicU8::new(Health::Healthy as u8),
        served: AtomicU32::new(0),
    });

    let ask = |label: &'static str| {
        let protection = protection.clone();
        let inventory = inventory.clone();
        async move {
            let answer = protection
                .run_or_else(
                    |ctx| {
                        let inventory = inventory.clone();
                        async move {
                            let stock = inventory.stock("widget").await?;
                            Ok(format!("{stock} in stock (attempt {})", ctx.attempt()))
                        }
                    },
                    |refused| Ok(format!("cached answer, because {refused}")),
                )
                .await?;
            println!("  [{label}] {answer}");
            Ok::<_, Error>(())
        }
    };

    println!("== the service is healthy");
    for _ in 0..3 {
        ask("healthy").await?;
    }

    println!("== the service drops every other connection: retries absorb it");
    inventory.set(Health::Flaky);
    for _ in 0..3 {
        ask("flaky").await?;
    }

    println!("== the service is down: the breaker trips, then answers at once");
    inventory.set(Health::Down);
    for _ in 0..4 {
        ask("down").await?;
    }

    println!("== the service is back: after the open period, probes close the breaker");
    inventory.set(Health::Healthy);
    tokio::time::sleep(Duration::from_millis(600)).await;
    for _ in 0..3 {
        ask("recovered").await?;
    }

    println!("== a burst of 30 calls against a limit of 20 per second");
    let mut admitted = 0;
    let mut limited = 0;
    for _ in 0..30 {
        match protection.run(|_| async { Ok::<_, Error>(()) }).await {
            Ok(()) => admitted += 1,
            Err(e) if e.is(ErrorCode::RATE_LIMITED) => limited += 1,
            Err(e) => return Err(e),
        }
    }
    println!("  admitted {admitted}, rate limited {limited}");

    println!("== what the breaker went through");
    while let Some(event) = breaker_events.try_recv() {
        if let Some(change) = event.downcast_ref::<StateChanged>() {
            println!("  {} -> {} ({:?})", change.from, change.to, change.reason);
        }
    }
    let status = protection.breaker().map(CircuitBreaker::status);
    if let Some(status) = status {
        println!(
            "  now {}, failure rate {:.0}% over the last {} calls",
            status.state,
            status.failure_rate,
            status.window.calls()
        );
    }
    Ok(())
}
