//! The built-in checks that read in-process state: breakers, pools, memory pressure and
//! restarting agents; and their configs' validation.

use std::sync::Arc;
use std::time::Duration;

use foundation_core::telemetry::Event;
use foundation_core::{ErrorCode, ManualClock, TelemetryBus, Validate};
use foundation_observe::health::builtin::{
    BreakersCheck, BreakersCheckConfig, MemoryCheck, MemoryCheckConfig, PoolCheck, PoolCheckConfig,
    RestartsCheck, RestartsCheckConfig,
};
use foundation_observe::health::{
    CheckOptions, HealthAggregator, HealthCheck, HealthConfig, HealthStatus, Observation,
};
use foundation_protect::breaker::BreakerRegistry;
use foundation_protect::pool::PoolStatus;
use foundation_protect::protection::{ManualGate, PressureLevel};
use parking_lot::Mutex;
use serde_json::json;

/// Runs the check named `key` once (the aggregators here do not cache).
async fn run_once(health: &HealthAggregator, key: &str) -> Observation {
    health.check(key).await.unwrap().records[0]
        .observation
        .clone()
}

fn uncached() -> HealthAggregator {
    HealthAggregator::new(HealthConfig {
        cache_ttl: Duration::ZERO,
        ..HealthConfig::default()
    })
    .unwrap()
}

fn register(health: &HealthAggregator, check: impl HealthCheck) -> String {
    health.register(check, CheckOptions::new()).unwrap()
}

fn fields(err: &foundation_core::Error) -> Vec<&str> {
    assert_eq!(err.code(), ErrorCode::INVALID_CONFIG, "{err}");
    err.context_values("field").collect()
}

#[tokio::test]
async fn breakers_check_counts_and_names_the_breakers_refusing_calls() {
    let registry = BreakerRegistry::builder().build().unwrap();
    let db = registry.get_or_create("db").unwrap();
    let payments = registry.get_or_create("payments").unwrap();
    let config = BreakersCheckConfig {
        warn_open: 1,
        fail_open: Some(2),
    };
    let health = uncached();
    let key = register(&health, BreakersCheck::new(registry, config).unwrap());
    assert_eq!(key, "breakers:open");

    let all_closed = run_once(&health, &key).await;
    assert_eq!(all_closed.status, HealthStatus::Pass);
    assert_eq!(all_closed.observed_value, Some(json!(0)));

    db.force_open();
    let one = run_once(&health, &key).await;
    assert_eq!(one.status, HealthStatus::Warn);
    assert_eq!(one.observed_value, Some(json!(1)));
    assert_eq!(one.output.as_deref(), Some("open: db (forced_open)"));

    payments.force_open();
    assert_eq!(run_once(&health, &key).await.status, HealthStatus::Fail);

    let err = BreakersCheck::new(
        BreakerRegistry::builder().build().unwrap(),
        BreakersCheckConfig {
            warn_open: 0,
            fail_open: None,
        },
    )
    .unwrap_err();
    assert_eq!(fields(&err), ["warn_open"]);
}

fn pool(in_use: usize, idle: usize, waiters: usize, is_closed: bool) -> PoolStatus {
    PoolStatus {
        name: "db".into(),
        size: in_use + idle,
        idle,
        in_use,
        waiters,
        overflow: 0,
        max_size: 8,
        max_overflow: 2,
        created: 0,
        closed: 0,
        replaced: 0,
        connect_failures: 0,
        backend_down: 0,
        timeouts: 0,
        is_closed,
        maintenance_running: true,
    }
}

#[tokio::test]
async fn pool_check_warns_near_exhaustion_and_fails_when_callers_wait() {
    let status = Arc::new(Mutex::new(pool(2, 6, 0, false)));
    let source = status.clone();
    let health = uncached();
    let key = register(
        &health,
        PoolCheck::new(
            "db",
            move || source.lock().clone(),
            PoolCheckConfig::default(),
        )
        .unwrap(),
    );
    assert_eq!(key, "pool.db:utilization");

    let cases = [
        (pool(2, 6, 0, false), HealthStatus::Pass, 20),
        (pool(9, 0, 0, false), HealthStatus::Warn, 90),
        (pool(10, 0, 0, false), HealthStatus::Warn, 100),
        (pool(10, 0, 3, false), HealthStatus::Fail, 100),
        (pool(0, 0, 0, true), HealthStatus::Fail, 0),
    ];
    for (snapshot, expected, percent) in cases {
        *status.lock() = snapshot.clone();
        let observation = run_once(&health, &key).await;
        assert_eq!(
            observation.status, expected,
            "{snapshot:?}: {observation:?}"
        );
        assert_eq!(observation.observed_value, Some(json!(percent)));
        assert_eq!(observation.observed_unit.as_deref(), Some("percent"));
    }
    let exhausted = {
        *status.lock() = pool(10, 0, 3, false);
        run_once(&health, &key).await.output.unwrap()
    };
    assert_eq!(
        exhausted,
        "10 of 10 connections in use, 0 idle, 3 waiting; the pool is exhausted"
    );

    let bad = PoolCheckConfig {
        warn_utilization: 1.5,
        fail_waiters: 0,
    };
    let err = PoolCheck::new("db", || pool(0, 0, 0, false), bad).unwrap_err();
    assert_eq!(fields(&err), ["warn_utilization", "fail_waiters"]);
    let zero = PoolCheckConfig {
        warn_utilization: 0.0,
        ..PoolCheckConfig::default()
    };
    assert_eq!(fields(&zero.validate().unwrap_err()), ["warn_utilization"]);
}

#[tokio::test]
async fn memory_check_follows_the_gates_pressure_level() {
    let gate = ManualGate::new();
    let health = uncached();
    let key = register(
        &health,
        MemoryCheck::new(Arc::new(gate.clone()), MemoryCheckConfig::default()).unwrap(),
    );
    assert_eq!(key, "memory:pressure");
    assert_eq!(health.check(&key).await.unwrap().component_type, "system");

    let mut seen = Vec::new();
    for level in [
        PressureLevel::Low,
        PressureLevel::Medium,
        PressureLevel::High,
        PressureLevel::Critical,
    ] {
        gate.set(level);
        let observation = run_once(&health, &key).await;
        seen.push((observation.status, observation.observed_value.unwrap()));
    }
    assert_eq!(
        seen,
        [
            (HealthStatus::Pass, json!("low")),
            (HealthStatus::Pass, json!("medium")),
            (HealthStatus::Warn, json!("high")),
            (HealthStatus::Fail, json!("critical")),
        ]
    );

    let bad = MemoryCheckConfig {
        warn_at: PressureLevel::Low,
        fail_at: PressureLevel::Low,
    };
    assert_eq!(fields(&bad.validate().unwrap_err()), ["warn_at"]);
    let inverted = MemoryCheckConfig {
        warn_at: PressureLevel::Critical,
        fail_at: PressureLevel::High,
    };
    let err = MemoryCheck::new(Arc::new(gate), inverted).unwrap_err();
    assert_eq!(fields(&err), ["fail_at"]);
    let parsed: MemoryCheckConfig =
        serde_json::from_str(r#"{"warn_at": "medium", "fail_at": "high"}"#).unwrap();
    assert_eq!(parsed.warn_at, PressureLevel::Medium);
}

/// Stands in for the runtime's events, which the check matches by name and source.
#[derive(Debug)]
struct SupervisorEvent {
    name: &'static str,
    supervisor: &'static str,
}

impl Event for SupervisorEvent {
    fn name(&self) -> &'static str {
        self.name
    }

    fn source(&self) -> &str {
        self.supervisor
    }
}

fn restarted(bus: &TelemetryBus, supervisor: &'static str, times: usize) {
    for _ in 0..times {
        bus.emit(SupervisorEvent {
            name: "foundation.supervisor.child_restarted",
            supervisor,
        });
    }
}

#[tokio::test]
async fn restarts_check_counts_restarts_per_supervisor_within_the_window() {
    let bus = TelemetryBus::new();
    let manual = ManualClock::new();
    let config = RestartsCheckConfig {
        window: Duration::from_secs(60),
        warn_restarts: 3,
        fail_restarts: Some(5),
        ..RestartsCheckConfig::default()
    };
    let health = uncached();
    let key = register(
        &health,
        RestartsCheck::new(&bus, manual.clock(), config).unwrap(),
    );
    assert_eq!(key, "agents:restarts");

    restarted(&bus, "workers", 2);
    restarted(&bus, "mailer", 1);
    bus.emit(SupervisorEvent {
        name: "foundation.supervisor.child_started",
        supervisor: "workers",
    });
    let calm = run_once(&health, &key).await;
    assert_eq!(calm.status, HealthStatus::Pass);
    assert_eq!(calm.observed_value, Some(json!(2)));

    manual.advance(Duration::from_secs(30));
    restarted(&bus, "workers", 1);
    let busy = run_once(&health, &key).await;
    assert_eq!(busy.status, HealthStatus::Warn);
    assert_eq!(busy.observed_value, Some(json!(3)));
    let output = busy.output.unwrap();
    assert!(
        output.contains("supervisor \"workers\" restarted children 3 times in the last 60000 ms"),
        "{output}"
    );

    restarted(&bus, "workers", 2);
    assert_eq!(run_once(&health, &key).await.status, HealthStatus::Fail);

    // The first three restarts leave the window; the three counted 30 s later remain.
    manual.advance(Duration::from_secs(30));
    let later = run_once(&health, &key).await;
    assert_eq!(
        (later.status, later.observed_value),
        (HealthStatus::Warn, Some(json!(3)))
    );
    manual.advance(Duration::from_secs(30));
    let quiet = run_once(&health, &key).await;
    assert_eq!(quiet.status, HealthStatus::Pass);
    assert_eq!(
        quiet.output.as_deref(),
        Some("no restarts in the last 60000 ms")
    );
}

#[tokio::test]
async fn a_supervisor_giving_up_fails_and_missed_events_warn() {
    let bus = TelemetryBus::new();
    let manual = ManualClock::new();
    let config = RestartsCheckConfig {
        buffer: 2,
        warn_restarts: 10,
        ..RestartsCheckConfig::default()
    };
    let health = uncached();
    let key = register(
        &health,
        RestartsCheck::new(&bus, manual.clock(), config).unwrap(),
    );

    restarted(&bus, "workers", 5);
    let overflowed = run_once(&health, &key).await;
    assert_eq!(overflowed.status, HealthStatus::Warn);
    assert_eq!(overflowed.observed_value, Some(json!(2)));
    let output = overflowed.output.unwrap();
    assert!(
        output.contains("3 supervisor events missed (buffer of 2 full)"),
        "{output}"
    );

    bus.emit(SupervisorEvent {
        name: "foundation.supervisor.gave_up",
        supervisor: "workers",
    });
    let gave_up = run_once(&health, &key).await;
    assert_eq!(gave_up.status, HealthStatus::Fail);
    assert!(
        gave_up
            .output
            .unwrap()
            .contains("supervisor \"workers\" gave up")
    );

    manual.advance(Duration::from_secs(60));
    assert_eq!(run_once(&health, &key).await.status, HealthStatus::Pass);

    let bad = RestartsCheckConfig {
        window: Duration::ZERO,
        warn_restarts: 4,
        fail_restarts: Some(2),
        buffer: 0,
    };
    let err = RestartsCheck::new(&bus, manual.clock(), bad).unwrap_err();
    assert_eq!(fields(&err), ["window_ms", "warn_restarts", "buffer"]);
}
