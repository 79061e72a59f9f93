//! Alert rules over the monitor and the health aggregator: pending → firing after the `for`
//! duration, resolution, stable identity, bus events, the engine on paused time, and
//! configuration errors naming their fields.

mod alert_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use foundation_core::telemetry::Event;
use foundation_core::{ErrorCode, TelemetryBus};
use foundation_observe::alert::{
    AlertConfig, AlertFired, AlertManager, AlertRequest, AlertResolved, AlertState, EscalationStep,
    ReceiverConfig, RouteConfig, RuleCondition, RuleConfig, Severity, receivers::ChannelReceiver,
};
use foundation_observe::health::{
    CheckOptions, HealthAggregator, HealthConfig, HealthStatus, Observation, check_fn,
};
use foundation_observe::monitor::{Condition, Metric, Monitor, Threshold, Window};

use alert_support::{all, named};

fn slow_queries() -> RuleConfig {
    RuleConfig::metric(
        "SlowQueries",
        "db.query",
        Metric::P99,
        Window::Minute,
        Condition::Above(100.0),
    )
    .hold_for(Duration::from_secs(30))
    .severity(Severity::Critical)
    .label("team", "db")
    .annotation("summary", "p99 of {{ labels.operation }} is {{ value }} ms")
}

#[tokio::test(start_paused = true)]
async fn a_metric_rule_is_pending_then_fires_after_its_for_duration_then_resolves() {
    let bus = TelemetryBus::new();
    let mut events = bus.subscribe_prefix("foundation.alert.", 64);
    let monitor = Monitor::builder().bus(bus.clone()).build().unwrap();
    let config = AlertConfig {
        rules: vec![slow_queries()],
        ..AlertConfig::default()
    };
    let alerts = AlertManager::builder()
        .config(config)
        .monitor(monitor.clone())
        .bus(bus.clone())
        .build()
        .unwrap();
    let users = monitor
        .operation("db.query", &[("table", "users")])
        .unwrap();
    let fast = monitor.operation("db.query", &[("table", "tags")]).unwrap();
    for _ in 0..10 {
        users.record(Duration::from_millis(500));
        fast.record(Duration::from_millis(5));
    }

    alerts.evaluate().await;
    let pending = all(&alerts);
    assert_eq!(pending.len(), 1, "only the slow operation: {pending:?}");
    let first = &pending[0];
    assert_eq!(first.state, AlertState::Pending);
    assert_eq!(first.labels["operation"], "db.query");
    assert_eq!(first.labels["table"], "users");
    assert_eq!(first.labels["team"], "db");
    assert_eq!(first.labels["severity"], "critical");
    assert!(events.drain().is_empty(), "pending is not fired");

    tokio::time::advance(Duration::from_secs(29)).await;
    alerts.evaluate().await;
    assert_eq!(all(&alerts)[0].state, AlertState::Pending);

    tokio::time::advance(Duration::from_secs(1)).await;
    alerts.evaluate().await;
    let firing = all(&alerts);
    assert_eq!(firing[0].state, AlertState::Firing);
    assert_eq!(
        firing[0].fingerprint, first.fingerprint,
        "identity is stable"
    );
    assert!(
        firing[0].annotations["summary"].starts_with("p99 of db.query is 50"),
        "{:?}",
        firing[0].annotations
    );
    let fired = events.drain();
    assert_eq!(fired.len(), 1);
    assert_eq!(
        fired[0].downcast_ref::<AlertFired>().unwrap().fingerprint,
        first.fingerprint
    );

    // The slow calls leave the minute window: the condition clears.
    tokio::time::advance(Duration::from_secs(120)).await;
    alerts.evaluate().await;
    let resolved = all(&alerts);
    assert_eq!(resolved[0].state, AlertState::Resolved);
    let states: Vec<AlertState> = resolved[0].history.iter().map(|t| t.state).collect();
    assert_eq!(
        states,
        [
            AlertState::Pending,
            AlertState::Firing,
            AlertState::Resolved
        ]
    );
    let events = events.drain();
    assert!(events[0].downcast_ref::<AlertResolved>().is_some());
}

#[tokio::test(start_paused = true)]
async fn a_pending_alert_whose_condition_clears_is_forgotten_and_never_fires() {
    let monitor = Monitor::builder().bus(TelemetryBus::new()).build().unwrap();
    let alerts = AlertManager::builder()
        .config(AlertConfig {
            rules: vec![slow_queries()],
            ..AlertConfig::default()
        })
        .monitor(monitor.clone())
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    let users = monitor.operation("db.query", &[]).unwrap();
    users.record(Duration::from_millis(900));
    alerts.evaluate().await;
    assert_eq!(all(&alerts)[0].state, AlertState::Pending);
    tokio::time::advance(Duration::from_secs(70)).await;
    alerts.evaluate().await;
    assert!(all(&alerts).is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_baseline_rule_fires_when_the_operation_is_slower_than_its_normal() {
    let monitor = Monitor::builder().bus(TelemetryBus::new()).build().unwrap();
    let rule = RuleConfig::metric(
        "SlowerThanUsual",
        "api.call",
        Metric::P50,
        Window::Minute,
        Condition::AboveBaseline(3.0),
    );
    let alerts = AlertManager::builder()
        .config(AlertConfig {
            rules: vec![rule],
            ..AlertConfig::default()
        })
        .monitor(monitor.clone())
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    let call = monitor.operation("api.call", &[]).unwrap();
    // A normal hour: 10 ms a call, every minute.
    for _ in 0..30 {
        call.record(Duration::from_millis(10));
        tokio::time::advance(Duration::from_secs(60)).await;
        monitor.tick();
    }
    alerts.evaluate().await;
    assert!(
        all(&alerts).iter().all(|a| a.state != AlertState::Firing),
        "normal is not an alert"
    );
    for _ in 0..20 {
        call.record(Duration::from_millis(100));
    }
    alerts.evaluate().await;
    assert_eq!(named(&alerts, "SlowerThanUsual").state, AlertState::Firing);
}

#[tokio::test(start_paused = true)]
async fn health_rules_watch_one_check_or_the_overall_status() {
    let status = Arc::new(AtomicU8::new(0));
    let health = HealthAggregator::builder()
        .config(HealthConfig::default())
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    let seen = status.clone();
    health
        .register(
            check_fn("db", "ping", move || {
                let now = seen.load(Ordering::SeqCst);
                async move {
                    match now {
                        0 => Observation::pass(),
                        1 => Observation::warn("slow"),
                        _ => Observation::fail("down"),
                    }
                }
            }),
            CheckOptions::new().critical(true),
        )
        .unwrap();
    let config = AlertConfig {
        rules: vec![
            RuleConfig::health("DbDown", Some("db:ping"), HealthStatus::Fail)
                .severity(Severity::Critical),
            RuleConfig::health("Degraded", None, HealthStatus::Warn),
        ],
        ..AlertConfig::default()
    };
    let alerts = AlertManager::builder()
        .config(config)
        .health(health)
        .bus(TelemetryBus::new())
        .build()
        .unwrap();

    alerts.evaluate().await;
    assert!(all(&alerts).is_empty());

    status.store(1, Ordering::SeqCst);
    tokio::time::advance(Duration::from_secs(2)).await; // past the check's cache TTL
    alerts.evaluate().await;
    assert_eq!(named(&alerts, "Degraded").state, AlertState::Firing);
    assert!(
        all(&alerts)
            .iter()
            .all(|a| a.labels["alertname"] != "DbDown")
    );

    status.store(2, Ordering::SeqCst);
    tokio::time::advance(Duration::from_secs(2)).await;
    alerts.evaluate().await;
    let down = named(&alerts, "DbDown");
    assert_eq!(down.state, AlertState::Firing);
    assert_eq!(down.labels["check"], "db:ping");

    status.store(0, Ordering::SeqCst);
    tokio::time::advance(Duration::from_secs(2)).await;
    alerts.evaluate().await;
    assert_eq!(named(&alerts, "DbDown").state, AlertState::Resolved);
    assert_eq!(named(&alerts, "Degraded").state, AlertState::Resolved);
}

#[tokio::test(start_paused = true)]
async fn the_engine_evaluates_on_its_interval_and_delivers() {
    let monitor = Monitor::builder().bus(TelemetryBus::new()).build().unwrap();
    let (pager, mut pages) = ChannelReceiver::new("pager", 8);
    let config = AlertConfig {
        evaluation_interval: Duration::from_secs(10),
        rules: vec![slow_queries()],
        route: RouteConfig::to("pager").timing(
            Duration::from_secs(5),
            Duration::from_secs(60),
            Duration::from_secs(3_600),
        ),
        ..AlertConfig::default()
    };
    let alerts = AlertManager::builder()
        .config(config)
        .monitor(monitor.clone())
        .receiver(pager)
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    let query = monitor.operation("db.query", &[]).unwrap();
    query.record(Duration::from_millis(300));
    let engine = alerts.spawn();
    let page = tokio::time::timeout(Duration::from_secs(59), pages.recv())
        .await
        .expect("the engine fires within the minute the slow call is in the window")
        .unwrap();
    assert_eq!(page.alerts[0].labels["alertname"], "SlowQueries");
    engine.stop().await;
}

#[test]
fn a_bad_config_is_refused_naming_every_field() {
    let mut bad_rule = slow_queries().hold_for(Duration::from_secs(8 * 86_400));
    bad_rule.labels.insert("1bad".into(), "x".into());
    let config = AlertConfig {
        flush_interval: Duration::ZERO,
        fallback_receiver: Some("nobody".into()),
        receivers: vec![
            ReceiverConfig::Log { name: "log".into() },
            ReceiverConfig::Webhook {
                name: "hook".into(),
                url: "ftp://example".into(),
            },
        ],
        route: RouteConfig {
            group_interval: Some(Duration::ZERO),
            ..RouteConfig::to("log")
        }
        .route(RouteConfig::to("missing").matching(&["severity=~\"(crit\""]))
        .route(
            RouteConfig::to("log")
                .escalation(vec![EscalationStep::new("ghost", Duration::from_secs(60))]),
        ),
        rules: vec![
            bad_rule,
            RuleConfig::health("Never", Some("nocolon"), HealthStatus::Pass),
            RuleConfig::metric(
                "Rate",
                "x",
                Metric::ErrorRate,
                Window::Minute,
                Condition::Above(2.0),
            ),
        ],
        ..AlertConfig::default()
    };
    let err = AlertManager::builder().config(config).build().unwrap_err();
    assert!(err.is(ErrorCode::INVALID_CONFIG));
    let fields: Vec<&str> = err.context_values("field").collect();
    for expected in [
        "alert.flush_interval_ms",
        "alert.receivers[1].url",
        "alert.fallback_receiver",
        "alert.route.group_interval_ms",
        "alert.route.routes[0].receiver",
        "alert.route.routes[0].matchers[0]",
        "alert.route.routes[1].escalation[0].receiver",
        "alert.rules[0].for_ms",
        "alert.rules[0].labels.1bad",
        "alert.rules[1].condition.status",
        "alert.rules[1].condition.check",
        "alert.rules[2].condition.condition.value",
        "alert.rules[0].condition",
    ] {
        assert!(
            fields.contains(&expected),
            "{expected} missing from {fields:?}"
        );
    }
    assert!(err.message().contains("regex"), "{err}");
}

#[test]
fn the_config_reads_from_json_with_rules_routes_and_inhibition() {
    let json = serde_json::json!({
        "evaluation_interval_ms": 5000,
        "receivers": [
            {"kind": "log", "name": "log"},
            {"kind": "webhook", "name": "hook", "url": "http://127.0.0.1:9/hook"}
        ],
        "route": {
            "receiver": "log",
            "group_by": ["alertname"],
            "routes": [{"matchers": ["severity=\"critical\"", {"name": "team", "op": "=~", "value": "db|web"}], "receiver": "hook", "continue": true}]
        },
        "inhibit_rules": [{"source_matchers": ["severity=critical"], "target_matchers": ["severity=warning"], "equal": ["team"]}],
        "rules": [{
            "name": "Slow",
            "for_ms": 60000,
            "severity": "critical",
            "condition": {"type": "metric", "operation": "db.query", "metric": "p99", "window": "minute", "condition": {"kind": "above", "value": 250.0}}
        }, {
            "name": "Down",
            "condition": {"type": "health", "check": "db:ping"}
        }]
    });
    let config: AlertConfig = serde_json::from_value(json).unwrap();
    assert_eq!(config.rules[0].hold, Duration::from_secs(60));
    let built = AlertManager::builder()
        .config(config)
        .monitor(Monitor::new())
        .health(HealthAggregator::new(HealthConfig::default()).unwrap())
        .build();
    assert!(built.is_ok(), "{built:?}");
    let unknown: Result<AlertConfig, _> =
        serde_json::from_value(serde_json::json!({"evaluation_interval": 5}));
    assert!(
        unknown
            .unwrap_err()
            .to_string()
            .contains("evaluation_interval")
    );
}

#[tokio::test(start_paused = true)]
async fn a_breach_of_a_monitor_threshold_fires_at_once_through_the_bus() {
    let bus = TelemetryBus::new();
    let monitor = Monitor::builder().bus(bus.clone()).build().unwrap();
    monitor
        .set_threshold(
            "checkout",
            &[],
            Threshold::new(Metric::ErrorRate, Window::Minute, Condition::Above(0.5)),
        )
        .unwrap();
    let (pager, mut pages) = ChannelReceiver::new("pager", 8);
    let config = AlertConfig {
        // Hourly evaluation: only the bus event can make this fast.
        evaluation_interval: Duration::from_secs(3_600),
        rules: vec![
            RuleConfig::new(
                "Breached",
                RuleCondition::Breach {
                    operation: Some("checkout".into()),
                    severity: None,
                },
            )
            .annotation("summary", "error rate {{ value }} over {{ limit }}"),
        ],
        route: RouteConfig::to("pager").timing(
            Duration::ZERO,
            Duration::from_secs(60),
            Duration::from_secs(3_600),
        ),
        ..AlertConfig::default()
    };
    let alerts = AlertManager::builder()
        .config(config)
        .monitor(monitor.clone())
        .receiver(pager)
        .bus(bus.clone())
        .build()
        .unwrap();
    let engine = alerts.spawn();
    let monitor_task = monitor.spawn();
    let checkout = monitor.operation("checkout", &[("region", "eu")]).unwrap();
    tokio::time::advance(Duration::from_secs(1)).await;
    for _ in 0..4 {
        checkout.record_error(Duration::from_millis(20));
    }
    let page = tokio::time::timeout(Duration::from_secs(60), pages.recv())
        .await
        .expect("the breach event triggers an evaluation well before the hourly one")
        .unwrap();
    let alert = &page.alerts[0];
    assert_eq!(alert.labels["operation"], "checkout");
    assert_eq!(alert.labels["region"], "eu");
    assert_eq!(alert.labels["metric"], "error_rate");
    assert_eq!(alert.annotations["summary"], "error rate 1 over 0.5");
    monitor_task.stop().await;
    engine.stop().await;
}

#[derive(Debug)]
struct Tripped(&'static str);

impl Event for Tripped {
    fn name(&self) -> &'static str {
        "foundation.breaker.state_change"
    }

    fn source(&self) -> &str {
        self.0
    }
}

#[tokio::test(start_paused = true)]
async fn an_events_rule_counts_a_bus_event_per_source_over_its_window() {
    let monitor = Monitor::builder().bus(TelemetryBus::new()).build().unwrap();
    let rule = RuleConfig::new(
        "BreakerFlapping",
        RuleCondition::Events {
            event: "foundation.breaker.state_change".into(),
            source: None,
            window: Duration::from_secs(600),
            above: 2,
        },
    )
    .annotation(
        "summary",
        "{{ labels.source }} changed state {{ value }} times",
    );
    let alerts = AlertManager::builder()
        .config(AlertConfig {
            rules: vec![rule],
            ..AlertConfig::default()
        })
        .monitor(monitor.clone())
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    alerts.evaluate().await;
    for source in ["db", "db", "db", "cache"] {
        monitor.count_event(&Tripped(source));
    }
    tokio::time::advance(Duration::from_secs(15)).await;
    alerts.evaluate().await;
    let flapping = named(&alerts, "BreakerFlapping");
    assert_eq!(flapping.state, AlertState::Firing);
    assert_eq!(flapping.labels["source"], "db");
    assert_eq!(flapping.annotations["summary"], "db changed state 3 times");
    assert_eq!(all(&alerts).len(), 1, "cache changed only once");

    // Ten quiet minutes later the window no longer holds them.
    tokio::time::advance(Duration::from_secs(600)).await;
    alerts.evaluate().await;
    assert_eq!(
        named(&alerts, "BreakerFlapping").state,
        AlertState::Resolved
    );
}

#[tokio::test(start_paused = true)]
async fn alerts_are_bounded_resolved_ones_make_room_and_past_that_new_ones_are_refused() {
    let alerts = AlertManager::builder()
        .config(AlertConfig {
            max_alerts: 2,
            resolved_retention: Duration::from_secs(3_600),
            ..AlertConfig::default()
        })
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    let a = alerts
        .fire(&AlertRequest::new("A", Severity::Info))
        .unwrap();
    alerts
        .fire(&AlertRequest::new("B", Severity::Info))
        .unwrap();
    let refused = alerts
        .fire(&AlertRequest::new("C", Severity::Info))
        .unwrap_err();
    assert!(refused.is(ErrorCode::UNAVAILABLE), "{refused}");
    assert_eq!(alerts.status().refused_alerts, 1);
    // A resolved alert, once its notification is out, is forgotten to make room.
    alerts.resolve(a.fingerprint).unwrap();
    tokio::time::advance(Duration::from_secs(60)).await;
    alerts.flush().await;
    alerts.flush().await;
    alerts
        .fire(&AlertRequest::new("C", Severity::Info))
        .unwrap();
    let names: Vec<String> = all(&alerts)
        .iter()
        .map(|v| v.labels["alertname"].clone())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(!names.contains(&"A".to_string()), "{names:?}");
}

#[test]
fn the_documented_toml_config_is_what_the_manager_reads() {
    let text = r#"
evaluation_interval_ms = 15000
fallback_receiver = "ops-log"

[[receivers]]
kind = "webhook"
name = "pager"
url = "http://127.0.0.1:9000/hook"

[[receivers]]
kind = "log"
name = "ops-log"

[route]
receiver = "ops-log"
group_by = ["alertname"]
group_wait_ms = 30000

[[route.routes]]
matchers = ['severity="critical"']
receiver = "pager"
escalation = [{ receiver = "ops-log", after_ms = 600000 }]

[[inhibit_rules]]
source_matchers = ['severity="critical"']
target_matchers = ['severity="warning"']
equal = ["service"]

[[rules]]
name = "SlowQueries"
for_ms = 60000
severity = "critical"
labels = { team = "db" }
annotations = { summary = "p99 of {{ labels.operation }} is {{ value }} ms" }
condition = { type = "metric", operation = "db.query", metric = "p99", window = "minute", condition = { kind = "above", value = 250.0 } }

[[rules]]
name = "StoreDown"
condition = { type = "health", check = "store:reachable", status = "fail" }

[[rules]]
name = "BreakerFlapping"
condition = { type = "events", event = "foundation.breaker.state_change", window_ms = 600000, above = 4 }

[[rules]]
name = "Breached"
condition = { type = "breach", severity = "fail" }
"#;
    let config: AlertConfig = toml::from_str(text).unwrap();
    assert_eq!(config.rules.len(), 4);
    assert_eq!(
        config.route.routes[0].escalation[0].after,
        Duration::from_secs(600)
    );
    let built = AlertManager::builder()
        .config(config)
        .monitor(Monitor::new())
        .health(HealthAggregator::new(HealthConfig::default()).unwrap())
        .build();
    assert!(built.is_ok(), "{built:?}");
}
