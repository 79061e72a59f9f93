//! Thresholds, health per operation, continuous evaluation and bus counting.

use std::time::Duration;

use foundation_core::telemetry::Event;
use foundation_core::{ErrorCode, TelemetryBus};
use foundation_observe::health::HealthStatus;
use foundation_observe::monitor::{
    Condition, Metric, Monitor, MonitorConfig, Severity, Threshold, ThresholdBreached,
    ThresholdCleared, ThresholdId, Window,
};
use tokio::time::advance;

const MS: Duration = Duration::from_millis(1);

fn monitor(bus: &TelemetryBus) -> Monitor {
    Monitor::builder().bus(bus.clone()).build().unwrap()
}

#[tokio::test(start_paused = true)]
async fn health_is_the_worst_severity_among_breached_thresholds() {
    let m = monitor(&TelemetryBus::new());
    let op = m.operation("search", &[("region", "eu")]).unwrap();
    for _ in 0..99 {
        op.record(20 * MS);
    }
    op.record_error(20 * MS);
    let warn = m
        .set_threshold(
            "search",
            &[],
            Threshold::new(Metric::P99, Window::Minute, Condition::Above(10.0))
                .severity(Severity::Warn),
        )
        .unwrap();
    assert_eq!(
        m.health("search", &[("region", "eu")]).unwrap().status,
        HealthStatus::Warn
    );

    let fail = m
        .set_threshold(
            "search",
            &[("region", "eu")],
            Threshold::new(Metric::ErrorRate, Window::Minute, Condition::Above(0.005)),
        )
        .unwrap();
    let health = m.health("search", &[("region", "eu")]).unwrap();
    assert_eq!(health.status, HealthStatus::Fail);
    assert_eq!(health.breaches.len(), 2);
    let rate = health
        .breaches
        .iter()
        .find(|b| b.threshold == fail)
        .unwrap();
    assert!((rate.observed - 0.01).abs() < 1e-12);
    assert_eq!(rate.limit, 0.005);

    // A threshold for another label set does not apply.
    m.set_threshold(
        "search",
        &[("region", "us")],
        Threshold::new(Metric::Rate, Window::Minute, Condition::Above(0.0)),
    )
    .unwrap();
    assert_eq!(
        m.health("search", &[("region", "eu")])
            .unwrap()
            .breaches
            .len(),
        2
    );

    m.remove_threshold(fail).unwrap();
    m.remove_threshold(warn).unwrap();
    assert_eq!(
        m.health("search", &[("region", "eu")]).unwrap().status,
        HealthStatus::Pass
    );
    assert!(
        m.remove_threshold(fail)
            .unwrap_err()
            .is(ErrorCode::NOT_FOUND)
    );
}

#[tokio::test(start_paused = true)]
async fn a_quiet_window_is_not_judged_below_min_count() {
    let m = monitor(&TelemetryBus::new());
    m.record_latency("rare", &[], 900 * MS).unwrap();
    let id = m
        .set_threshold(
            "rare",
            &[],
            Threshold::new(Metric::P99, Window::Minute, Condition::Above(100.0)).min_count(10),
        )
        .unwrap();
    let health = m.health("rare", &[]).unwrap();
    assert_eq!(health.status, HealthStatus::Pass);
    assert_eq!(health.not_evaluated, vec![id]);
}

#[tokio::test(start_paused = true)]
async fn a_threshold_relative_to_the_baseline_waits_for_one_then_compares() {
    let m = monitor(&TelemetryBus::new());
    let op = m.operation("pay", &[]).unwrap();
    let id = m
        .set_threshold(
            "pay",
            &[],
            Threshold::new(Metric::P99, Window::Minute, Condition::AboveBaseline(3.0)),
        )
        .unwrap();
    op.record(50 * MS);
    assert_eq!(
        m.health("pay", &[]).unwrap().not_evaluated,
        vec![id],
        "no baseline yet"
    );
    for _ in 0..10 {
        for _ in 0..30 {
            op.record(5 * MS);
        }
        m.tick();
        advance(Duration::from_secs(60)).await;
    }
    for _ in 0..30 {
        op.record(6 * MS);
    }
    assert_eq!(m.health("pay", &[]).unwrap().status, HealthStatus::Pass);
    advance(Duration::from_secs(120)).await;
    for _ in 0..30 {
        op.record(40 * MS);
    }
    let health = m.health("pay", &[]).unwrap();
    assert_eq!(health.status, HealthStatus::Fail, "{health:?}");
    let b = &health.breaches[0];
    assert!(b.observed > 39.0 && b.limit < 19.0, "{b:?}");
}

#[tokio::test(start_paused = true)]
async fn out_of_range_thresholds_are_refused_naming_the_field() {
    let m = monitor(&TelemetryBus::new());
    let cases = [
        Threshold::new(Metric::P99, Window::Minute, Condition::Above(f64::NAN)),
        Threshold::new(Metric::P99, Window::Minute, Condition::Below(-1.0)),
        Threshold::new(Metric::ErrorRate, Window::Hour, Condition::Above(1.5)),
        Threshold::new(Metric::Rate, Window::Day, Condition::AboveBaseline(0.0)),
        Threshold::new(
            Metric::Rate,
            Window::Day,
            Condition::BelowBaseline(f64::INFINITY),
        ),
    ];
    for t in cases {
        let err = m.set_threshold("op", &[], t.clone()).unwrap_err();
        assert!(err.is(ErrorCode::INVALID_CONFIG), "{t:?}: {err}");
        assert!(
            err.to_string().contains("threshold.condition.value"),
            "{err}"
        );
    }
    let err = m
        .set_threshold(
            "op",
            &[],
            Threshold::new(
                Metric::Throughput,
                Window::Day,
                Condition::AboveBaseline(2.0),
            ),
        )
        .unwrap_err();
    assert!(err.to_string().contains("threshold.metric"), "{err}");
    assert!(
        m.set_threshold(
            "",
            &[],
            Threshold::new(Metric::P50, Window::Minute, Condition::Above(1.0))
        )
        .is_err()
    );
    assert!(m.thresholds().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_bad_config_is_refused_naming_every_field() {
    let err = Monitor::builder()
        .config(MonitorConfig {
            max_operations: 0,
            tick: Duration::from_secs(60),
            ..MonitorConfig::default()
        })
        .build()
        .unwrap_err();
    assert!(err.is(ErrorCode::INVALID_CONFIG));
    let text = err.to_string();
    assert!(
        text.contains("monitor.max_operations") && text.contains("monitor.tick_ms"),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_background_task_publishes_breaches_once_and_recoveries() {
    let bus = TelemetryBus::new();
    let mut seen = bus.subscribe_prefix("foundation.monitor.", 64);
    let m = monitor(&bus);
    let task = m.spawn();
    let id = m
        .set_threshold(
            "slow",
            &[],
            Threshold::new(Metric::Max, Window::Minute, Condition::Above(100.0)),
        )
        .unwrap();
    m.record_latency("slow", &[], 500 * MS).unwrap();

    // Several ticks while breached: one event.
    for _ in 0..3 {
        advance(Duration::from_secs(10)).await;
        tokio::task::yield_now().await;
    }
    let first = seen.recv().await.unwrap();
    let breached = first
        .downcast_ref::<ThresholdBreached>()
        .expect("breach event");
    assert_eq!(breached.operation.name(), "slow");
    assert_eq!(breached.breach.threshold, id);
    assert!(seen.try_recv().is_none(), "published once, not every tick");

    // Once the slow call leaves the minute window, the threshold clears.
    advance(Duration::from_secs(60)).await;
    let cleared = seen.recv().await.unwrap();
    assert_eq!(
        cleared
            .downcast_ref::<ThresholdCleared>()
            .unwrap()
            .threshold,
        ThresholdId(id.0)
    );
    task.stop().await;
}

#[derive(Debug)]
struct Restarted(&'static str);
impl Event for Restarted {
    fn name(&self) -> &'static str {
        "foundation.supervisor.child_restarted"
    }
    fn source(&self) -> &str {
        self.0
    }
}

#[tokio::test(start_paused = true)]
async fn every_bus_event_is_counted_per_source() {
    let bus = TelemetryBus::new();
    let m = monitor(&bus);
    let task = m.spawn();
    tokio::task::yield_now().await;
    for _ in 0..3 {
        bus.emit(Restarted("worker-a"));
    }
    bus.emit(Restarted("worker-b"));
    // The task counts as it receives; a tick later everything buffered was taken.
    while m.event_counts().iter().map(|c| c.count).sum::<u64>() < 4 {
        tokio::task::yield_now().await;
    }
    let counts = m.event_counts();
    assert_eq!(counts.len(), 2);
    assert_eq!((&*counts[0].source, counts[0].count), ("worker-a", 3));
    assert_eq!(counts[0].event, "foundation.supervisor.child_restarted");
    task.stop().await;
    // Stopped: nothing more is counted.
    bus.emit(Restarted("worker-a"));
    tokio::task::yield_now().await;
    assert_eq!(m.event_counts()[0].count, 3);
}

#[tokio::test(start_paused = true)]
async fn the_health_check_reports_breaches_found_by_the_last_tick() {
    use foundation_observe::health::HealthCheck;
    use foundation_observe::health::builtin::ThresholdsCheck;

    let m = monitor(&TelemetryBus::new());
    let check = ThresholdsCheck::new(m.clone());
    m.set_threshold(
        "q",
        &[],
        Threshold::new(Metric::P50, Window::Minute, Condition::Above(1.0)).severity(Severity::Warn),
    )
    .unwrap();
    m.record_latency("q", &[], 5 * MS).unwrap();
    assert_eq!(
        check.check().await.status,
        HealthStatus::Pass,
        "not evaluated before a tick"
    );
    m.tick();
    let observed = check.check().await;
    assert_eq!(observed.status, HealthStatus::Warn);
    assert_eq!(observed.observed_value, Some(serde_json::json!(1)));
    assert!(observed.output.unwrap().contains("q p50 over the minute"));
    m.set_threshold(
        "q",
        &[],
        Threshold::new(Metric::Max, Window::Minute, Condition::Above(2.0)),
    )
    .unwrap();
    m.tick();
    assert_eq!(check.check().await.status, HealthStatus::Fail);
    advance(Duration::from_secs(60)).await;
    m.tick();
    assert_eq!(check.check().await.status, HealthStatus::Pass);
}
