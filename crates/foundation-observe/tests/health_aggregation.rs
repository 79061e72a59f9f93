//! The aggregator: status rules and score, groups and depth, the cache and its shared runs,
//! history, checks that hang or panic, bad registrations, and status-change events.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use foundation_core::{ErrorCode, ManualClock, TelemetryBus};
use foundation_observe::health::{
    CheckOptions, Depth, FnCheck, Group, HealthAggregator, HealthChanged, HealthCheck,
    HealthConfig, HealthStatus, Observation, Scope, check_fn,
};

fn aggregator() -> HealthAggregator {
    HealthAggregator::new(HealthConfig::default()).unwrap()
}

/// A check of `component:status` that always observes `status`.
fn fixed(component: &str, status: HealthStatus) -> impl HealthCheck {
    check_fn(component, "status", move || async move {
        Observation::with_status(status).output(format!("always {status}"))
    })
}

/// A check whose observed value counts its runs.
fn counting(component: &str) -> (impl HealthCheck, Arc<AtomicU64>) {
    let runs = Arc::new(AtomicU64::new(0));
    let counter = runs.clone();
    let check = check_fn(component, "runs", move || {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        async move { Observation::pass().value(n) }
    });
    (check, runs)
}

fn passing(
    component: &str,
    measurement: &str,
) -> FnCheck<impl Fn() -> std::future::Ready<Observation> + Send + Sync + 'static> {
    check_fn(component, measurement, || {
        std::future::ready(Observation::pass())
    })
}

fn keys(report: &foundation_observe::health::HealthReport) -> Vec<&str> {
    report.checks.iter().map(|c| c.key.as_str()).collect()
}

#[tokio::test]
async fn a_critical_failure_fails_and_a_non_critical_failure_only_warns() {
    let health = aggregator();
    let empty = health.report(Scope::all()).await;
    assert_eq!((empty.status, empty.score), (HealthStatus::Pass, 100));

    health
        .register(
            fixed("db", HealthStatus::Pass),
            CheckOptions::new().critical(true),
        )
        .unwrap();
    health
        .register(fixed("cache", HealthStatus::Fail), CheckOptions::new())
        .unwrap();
    let report = health.report(Scope::all()).await;
    assert_eq!(report.status, HealthStatus::Warn);
    assert_eq!(report.http_status(), 200);
    // Critical pass weighs 2 × 100, the non-critical failure 1 × 0: 200 / 3.
    assert_eq!(report.score, 66);
    let output = report.to_json()["output"].as_str().unwrap().to_string();
    assert!(
        output.contains("cache:status fail (non-critical): always fail"),
        "{output}"
    );

    health
        .register(fixed("queue", HealthStatus::Warn), CheckOptions::new())
        .unwrap();
    health
        .register(
            fixed("disk", HealthStatus::Fail),
            CheckOptions::new().critical(true),
        )
        .unwrap();
    let report = health.report(Scope::all()).await;
    assert_eq!(report.status, HealthStatus::Fail);
    assert_eq!(report.http_status(), 503);
    // (2×100 + 1×0 + 1×50 + 2×0) / 6.
    assert_eq!(report.score, 41);
}

#[tokio::test]
async fn liveness_and_readiness_are_separate_groups_and_health_reports_every_check() {
    let health = aggregator();
    let pass = HealthStatus::Pass;
    health
        .register(
            fixed("live", pass),
            CheckOptions::new().groups(&[Group::Liveness]),
        )
        .unwrap();
    health
        .register(fixed("ready", pass), CheckOptions::new())
        .unwrap();
    health
        .register(
            fixed("both", pass),
            CheckOptions::new().groups(&[Group::Liveness, Group::Readiness]),
        )
        .unwrap();
    health
        .register(fixed("none", pass), CheckOptions::new().groups(&[]))
        .unwrap();

    let live = health.report(Scope::group(Group::Liveness)).await;
    assert_eq!(keys(&live), ["both:status", "live:status"]);
    let ready = health.report(Scope::group(Group::Readiness)).await;
    assert_eq!(keys(&ready), ["both:status", "ready:status"]);
    let all = health.report(Scope::all()).await;
    assert_eq!(
        keys(&all),
        ["both:status", "live:status", "none:status", "ready:status"]
    );
}

#[tokio::test]
async fn deep_checks_run_only_in_reports_that_ask_for_them() {
    let health = aggregator();
    let (deep, runs) = counting("search");
    health
        .register(deep, CheckOptions::new().depth(Depth::Deep).critical(true))
        .unwrap();
    health
        .register(fixed("db", HealthStatus::Pass), CheckOptions::new())
        .unwrap();

    let quick = health.report(Scope::group(Group::Readiness)).await;
    assert_eq!(keys(&quick), ["db:status"]);
    assert_eq!(
        runs.load(Ordering::SeqCst),
        0,
        "a quick report ran a deep check"
    );

    let deep = health
        .report(Scope::group(Group::Readiness).deep(true))
        .await;
    assert_eq!(keys(&deep), ["db:status", "search:runs"]);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn results_are_cached_for_the_ttl_on_the_aggregators_clock() {
    let manual = ManualClock::new();
    let health = HealthAggregator::builder()
        .clock(manual.clock())
        .build()
        .unwrap();
    let (check, runs) = counting("db");
    let key = health
        .register(check, CheckOptions::new().ttl(Duration::from_secs(10)))
        .unwrap();

    let first = health.check(&key).await.unwrap();
    manual.advance(Duration::from_millis(9_999));
    let cached = health.check(&key).await.unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(cached, first, "a cached result is the same record");

    manual.advance(Duration::from_millis(1));
    let fresh = health.check(&key).await.unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(fresh.records[0].observation.observed_value, Some(2.into()));
    assert_eq!(
        fresh.records[0].at - first.records[0].at,
        Duration::from_secs(10)
    );
}

#[tokio::test(start_paused = true)]
async fn concurrent_requests_share_one_run_of_a_check() {
    let health = aggregator();
    let runs = Arc::new(AtomicU64::new(0));
    let counter = runs.clone();
    let slow = check_fn("slow", "runs", move || {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Observation::pass().value(n)
        }
    });
    let key = health
        .register(slow, CheckOptions::new().ttl(Duration::ZERO))
        .unwrap();

    let results = futures::future::join_all((0..50).map(|_| health.check(&key))).await;
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "requests stampeded the check"
    );
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().unwrap() == results[0].as_ref().unwrap())
    );
    assert_eq!(
        health.history(&key).unwrap().records.len(),
        1,
        "one run, one record"
    );

    // With a zero TTL, the next request after the shared run runs it again.
    health.check(&key).await.unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_run_whose_caller_gave_up_finishes_for_the_next_caller() {
    let health = aggregator();
    let runs = Arc::new(AtomicU64::new(0));
    let counter = runs.clone();
    let steps = check_fn("steps", "runs", move || {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            Observation::pass().value(n)
        }
    });
    let key = health
        .register(
            steps,
            CheckOptions::new().timeout(Duration::from_millis(500)),
        )
        .unwrap();

    // A prober that waits 50 ms gives up, long before the check's timeout.
    let gave_up = tokio::time::timeout(Duration::from_millis(50), health.check(&key)).await;
    assert!(gave_up.is_err());
    tokio::time::sleep(Duration::from_secs(5)).await;

    let next = health.check(&key).await.unwrap();
    let observation = &next.records[0].observation;
    assert_eq!(observation.status, HealthStatus::Pass, "{observation:?}");
    assert_eq!(observation.observed_value, Some(1.into()));
    assert_eq!(next.records[0].duration, Duration::from_millis(200));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

/// Sets its flag when dropped.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn removing_a_check_stops_its_run_in_flight() {
    let health = aggregator();
    let stopped = Arc::new(AtomicBool::new(false));
    let flag = stopped.clone();
    let key = health
        .register(
            check_fn("stuck", "ping", move || {
                let guard = SetOnDrop(flag.clone());
                async move {
                    let _guard = guard;
                    std::future::pending::<Observation>().await
                }
            }),
            CheckOptions::new().timeout(Duration::from_secs(3_600)),
        )
        .unwrap();
    let gave_up = tokio::time::timeout(Duration::from_millis(10), health.check(&key)).await;
    assert!(gave_up.is_err());
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(
        !stopped.load(Ordering::SeqCst),
        "the run stopped while still registered"
    );

    health.deregister(&key).unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(stopped.load(Ordering::SeqCst), "the run outlived its check");
}

#[tokio::test(start_paused = true)]
async fn a_hanging_check_fails_as_timed_out_and_the_others_still_report() {
    let health = aggregator();
    health
        .register(
            check_fn("stuck", "ping", std::future::pending::<Observation>),
            CheckOptions::new()
                .critical(true)
                .timeout(Duration::from_millis(250)),
        )
        .unwrap();
    health
        .register(fixed("db", HealthStatus::Pass), CheckOptions::new())
        .unwrap();

    let report = health.report(Scope::all()).await;
    assert_eq!(report.status, HealthStatus::Fail);
    let stuck = &report.checks[1];
    assert_eq!(stuck.key, "stuck:ping");
    assert_eq!(stuck.status(), HealthStatus::Fail);
    assert_eq!(
        stuck.records[0].observation.output.as_deref(),
        Some("check timed out after 250 ms")
    );
    assert_eq!(report.checks[0].status(), HealthStatus::Pass);
}

#[tokio::test]
async fn a_panicking_check_fails_saying_so_and_runs_again_next_time() {
    let health = aggregator();
    let key = health
        .register(
            check_fn("flaky", "ping", || async { panic!("boom") }),
            CheckOptions::new().critical(true).ttl(Duration::ZERO),
        )
        .unwrap();
    health
        .register(
            check_fn("eager", "ping", || -> std::future::Ready<Observation> {
                panic!("panicked before returning a future")
            }),
            CheckOptions::new(),
        )
        .unwrap();

    let report = health.report(Scope::all()).await;
    assert_eq!(report.status, HealthStatus::Fail);
    for check in &report.checks {
        assert_eq!(check.status(), HealthStatus::Fail);
    }
    let eager = report.checks[0].records[0].observation.output.clone();
    assert_eq!(
        eager.as_deref(),
        Some("check panicked: panicked before returning a future")
    );
    let flaky = health.check(&key).await.unwrap();
    assert_eq!(
        flaky.records[0].observation.output.as_deref(),
        Some("check panicked: boom")
    );
    assert_eq!(health.history(&key).unwrap().records.len(), 2);
}

#[tokio::test]
async fn history_keeps_the_last_results_with_their_times() {
    let manual = ManualClock::new();
    let config = HealthConfig {
        history: 3,
        cache_ttl: Duration::ZERO,
        ..HealthConfig::default()
    };
    let health = HealthAggregator::builder()
        .config(config)
        .clock(manual.clock())
        .build()
        .unwrap();
    let (check, _runs) = counting("db");
    let key = health.register(check, CheckOptions::new()).unwrap();
    assert!(health.history(&key).unwrap().records.is_empty());

    for _ in 0..5 {
        health.check(&key).await.unwrap();
        manual.advance(Duration::from_secs(1));
    }
    let history = health.history(&key).unwrap().records;
    let values: Vec<_> = history
        .iter()
        .map(|r| r.observation.observed_value.clone().unwrap())
        .collect();
    assert_eq!(values, [3, 4, 5]);
    assert_eq!(history[2].at - history[0].at, Duration::from_secs(2));
    assert_eq!(
        history[1].time.duration_since(history[0].time).unwrap(),
        Duration::from_secs(1)
    );
}

#[tokio::test]
async fn duplicate_names_are_refused_and_unknown_names_are_not_found() {
    let health = aggregator();
    let key = health
        .register(fixed("db", HealthStatus::Pass), CheckOptions::new())
        .unwrap();
    assert_eq!(key, "db:status");
    let err = health
        .register(fixed("db", HealthStatus::Fail), CheckOptions::new())
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::ALREADY_EXISTS);
    assert_eq!(err.context_value("check"), Some("db:status"));

    for err in [
        health.check("db:nope").await.unwrap_err(),
        health.history("db:nope").unwrap_err(),
        health.deregister("db:nope").unwrap_err(),
    ] {
        assert_eq!(err.code(), ErrorCode::NOT_FOUND);
        assert_eq!(err.context_value("check"), Some("db:nope"));
    }

    health.deregister("db:status").unwrap();
    assert!(health.names().is_empty());
    health
        .register(fixed("db", HealthStatus::Fail), CheckOptions::new())
        .unwrap();
    assert_eq!(health.names(), ["db:status"]);
}

#[tokio::test]
async fn invalid_options_and_config_are_refused_naming_the_field() {
    let health = aggregator();
    let cases = [
        (
            passing("db", "ping"),
            CheckOptions::new().timeout(Duration::ZERO),
            "timeout",
        ),
        (
            passing("db", "ping"),
            CheckOptions::new().ttl(Duration::from_secs(7_200)),
            "ttl",
        ),
        (
            passing("db", "ping"),
            CheckOptions::new().component_id(" "),
            "component_id",
        ),
        (passing("db:main", "ping"), CheckOptions::new(), "component"),
        (passing("db", ""), CheckOptions::new(), "measurement"),
        (passing("", "ping"), CheckOptions::new(), "component"),
    ];
    for (check, options, field) in cases {
        let err = health.register(check, options).unwrap_err();
        assert_eq!(err.code(), ErrorCode::INVALID_CONFIG, "{field}: {err}");
        assert_eq!(err.context_value("field"), Some(field), "{err}");
    }
    let untyped = passing("db", "ping").with_component_type(" ");
    let err = health.register(untyped, CheckOptions::new()).unwrap_err();
    assert_eq!(err.context_value("field"), Some("component_type"));
    assert!(health.names().is_empty(), "a refused check was registered");

    let config: HealthConfig =
        serde_json::from_str(r#"{"history": 0, "timeout_ms": 0, "service_id": ""}"#).unwrap();
    let err = HealthAggregator::new(config).unwrap_err();
    assert_eq!(err.code(), ErrorCode::INVALID_CONFIG);
    let fields: Vec<&str> = err.context_values("field").collect();
    assert_eq!(fields, ["timeout_ms", "history", "service_id"]);
    assert!(serde_json::from_str::<HealthConfig>(r#"{"histroy": 5}"#).is_err());
}

#[tokio::test]
async fn status_changes_are_published_on_the_bus() {
    let bus = TelemetryBus::new();
    let mut events = bus.subscribe_prefix("foundation.health.", 16);
    let health = HealthAggregator::builder().bus(bus).build().unwrap();
    let failing = Arc::new(AtomicBool::new(true));
    let flag = failing.clone();
    let key = health
        .register(
            check_fn("db", "ping", move || {
                let failing = flag.load(Ordering::SeqCst);
                async move {
                    if failing {
                        Observation::fail("refused")
                    } else {
                        Observation::pass()
                    }
                }
            }),
            CheckOptions::new().critical(true).ttl(Duration::ZERO),
        )
        .unwrap();

    health.check(&key).await.unwrap();
    health.check(&key).await.unwrap();
    failing.store(false, Ordering::SeqCst);
    health.check(&key).await.unwrap();

    let changes: Vec<HealthChanged> = events
        .drain()
        .iter()
        .map(|e| e.downcast_ref::<HealthChanged>().unwrap().clone())
        .collect();
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert_eq!((changes[0].from, changes[0].to), (None, HealthStatus::Fail));
    assert_eq!(changes[0].output.as_deref(), Some("refused"));
    assert!(changes[0].critical);
    assert_eq!(
        (changes[1].from, changes[1].to),
        (Some(HealthStatus::Fail), HealthStatus::Pass)
    );
}

#[tokio::test]
async fn the_report_follows_the_health_json_draft() {
    let config = HealthConfig {
        service_id: Some("orders".into()),
        version: Some("1".into()),
        release_id: Some("1.4.2".into()),
        description: Some("order service".into()),
        notes: vec!["canary".into()],
        ..HealthConfig::default()
    };
    let health = HealthAggregator::new(config).unwrap();
    health
        .register(
            check_fn("db", "responseTime", || async {
                Observation::warn("slow").value(250).unit("ms")
            })
            .with_component_type("datastore"),
            CheckOptions::new().component_id("db-primary"),
        )
        .unwrap();
    let json = health.report(Scope::all()).await.to_json();
    assert_eq!(json["status"], "warn");
    assert_eq!(json["serviceId"], "orders");
    assert_eq!(json["version"], "1");
    assert_eq!(json["releaseId"], "1.4.2");
    assert_eq!(json["description"], "order service");
    assert_eq!(json["notes"], serde_json::json!(["canary"]));
    assert_eq!(json["score"], 50);
    let checks = json["checks"].as_object().unwrap();
    assert_eq!(checks.len(), 1);
    let entry = &checks["db:responseTime"][0];
    assert_eq!(entry["componentId"], "db-primary");
    assert_eq!(entry["componentType"], "datastore");
    assert_eq!(entry["observedValue"], 250);
    assert_eq!(entry["observedUnit"], "ms");
    assert_eq!(entry["status"], "warn");
    assert_eq!(entry["output"], "slow");
    let time = entry["time"].as_str().unwrap();
    assert!(time.ends_with('Z'), "{time}");
    chrono::DateTime::parse_from_rfc3339(time).unwrap();

    // Without a configured description, the optional members are left out.
    let bare = aggregator().report(Scope::all()).await.to_json();
    let members: Vec<&str> = bare
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(members, ["checks", "score", "status"]);
}
