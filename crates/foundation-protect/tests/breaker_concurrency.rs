//! Many tasks on one breaker, on a multi-thread runtime.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use foundation_core::{ErrorCode, ManualClock, TelemetryBus};
use foundation_protect::breaker::{
    BreakerConfig, BreakerState, CircuitBreaker, StateChanged, WindowConfig,
};
use foundation_protect::outcome::Outcome;
use tokio::sync::Barrier;
use tokio::task::JoinSet;

const TASKS: usize = 64;

fn tripped(probes: u32, clock: &ManualClock, bus: TelemetryBus) -> CircuitBreaker {
    let b = CircuitBreaker::builder("shared")
        .config(BreakerConfig {
            window: WindowConfig::Count { size: 10 },
            minimum_calls: 1,
            open_duration: Duration::from_secs(1),
            half_open_probes: probes,
            ..BreakerConfig::default()
        })
        .clock(clock.clock())
        .bus(bus)
        .build()
        .unwrap();
    b.try_acquire().unwrap().record(Outcome::Network);
    assert_eq!(b.state(), BreakerState::Open);
    clock.advance(Duration::from_secs(1));
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn never_more_probes_than_configured_however_many_tasks_race() {
    for probes in [1u32, 3, 7] {
        let clock = ManualClock::new();
        let b = tripped(probes, &clock, TelemetryBus::new());
        // Three rounds: every task races, holders keep their permit until all have tried,
        // then give it back (cancel), and the next round races for the freed slots.
        for _round in 0..3 {
            let barrier = Arc::new(Barrier::new(TASKS));
            let admitted = Arc::new(AtomicU32::new(0));
            let mut tasks = JoinSet::new();
            for _ in 0..TASKS {
                let (b, barrier, admitted) = (b.clone(), barrier.clone(), admitted.clone());
                tasks.spawn(async move {
                    let permit = match b.try_acquire() {
                        Ok(p) => {
                            admitted.fetch_add(1, Ordering::SeqCst);
                            Some(p)
                        }
                        Err(e) => {
                            assert!(e.is(ErrorCode::CIRCUIT_HALF_OPEN_FULL), "{e}");
                            None
                        }
                    };
                    barrier.wait().await;
                    drop(permit);
                });
            }
            while let Some(r) = tasks.join_next().await {
                r.unwrap();
            }
            assert_eq!(admitted.load(Ordering::SeqCst), probes);
            assert_eq!(b.state(), BreakerState::HalfOpen);
            assert_eq!(b.status().probes.unwrap().reserved, 0);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_probe_results_decide_once() {
    let clock = ManualClock::new();
    let bus = TelemetryBus::new();
    let mut changes = bus.subscribe_prefix("foundation.breaker.state_change", 256);
    let b = tripped(5, &clock, bus);
    let mut tasks = JoinSet::new();
    for _ in 0..TASKS {
        let b = b.clone();
        tasks.spawn(async move {
            if let Ok(p) = b.try_acquire() {
                tokio::task::yield_now().await;
                p.record(Outcome::Success);
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    assert_eq!(b.state(), BreakerState::Closed);
    let to: Vec<BreakerState> = changes
        .drain()
        .iter()
        .map(|e| e.downcast_ref::<StateChanged>().unwrap().to)
        .collect();
    assert_eq!(
        to,
        [
            BreakerState::Open,
            BreakerState::HalfOpen,
            BreakerState::Closed
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_records_keep_the_window_exact_and_trip_once() {
    let bus = TelemetryBus::new();
    let mut changes = bus.subscribe_prefix("foundation.breaker.state_change", 256);
    let b = CircuitBreaker::builder("shared")
        .config(BreakerConfig {
            window: WindowConfig::Count { size: 100 },
            minimum_calls: 100,
            failure_rate_threshold: 100.0,
            ..BreakerConfig::default()
        })
        .bus(bus)
        .build()
        .unwrap();
    let mut tasks = JoinSet::new();
    for _ in 0..8 {
        let b = b.clone();
        tasks.spawn(async move {
            for _ in 0..1_000 {
                b.try_acquire().unwrap().record(Outcome::Success);
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let w = b.status().window;
    assert_eq!((w.success, w.calls()), (100, 100));

    let mut tasks = JoinSet::new();
    for _ in 0..TASKS {
        let b = b.clone();
        tasks.spawn(async move {
            for _ in 0..10 {
                if let Ok(p) = b.try_acquire() {
                    p.record(Outcome::Timeout);
                }
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    assert_eq!(b.state(), BreakerState::Open);
    assert_eq!(changes.drain().len(), 1, "exactly one transition to open");
}
