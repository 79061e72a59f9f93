//! The store and queue built-in checks, on every backend.

use std::time::Duration;

use foundation_core::{Clock, ErrorCode, ManualClock};
use foundation_observe::health::builtin::{
    QueueCheck, QueueCheckConfig, QueueMeasure, StoreCheck, StoreCheckConfig,
};
use foundation_observe::health::{CheckOptions, HealthAggregator, HealthConfig, HealthStatus};
use foundation_store::testing::Target;
use foundation_store::{NewTask, QueueSettings, on_each_backend};
use serde_json::json;

on_each_backend!(
    store_check_passes_with_the_round_trip_and_fails_when_the_store_is_closed,
    queue_backlog_warns_and_fails_at_its_thresholds,
    queue_oldest_task_age_follows_the_stores_clock,
    queue_check_of_an_undeclared_queue_fails_saying_so,
);

fn aggregator() -> HealthAggregator {
    HealthAggregator::new(HealthConfig {
        cache_ttl: Duration::ZERO,
        ..HealthConfig::default()
    })
    .unwrap()
}

async fn store_check_passes_with_the_round_trip_and_fails_when_the_store_is_closed(t: &Target) {
    let store = t.options().open().await.unwrap();
    let health = aggregator();
    let check =
        StoreCheck::new(store.clone(), Clock::tokio(), StoreCheckConfig::default()).unwrap();
    let key = health
        .register(check, CheckOptions::new().critical(true))
        .unwrap();
    assert_eq!(key, "store:responseTime");

    let report = health.check(&key).await.unwrap();
    let observation = &report.records[0].observation;
    assert_eq!(observation.status, HealthStatus::Pass, "{observation:?}");
    assert_eq!(observation.observed_unit.as_deref(), Some("ms"));
    assert!(observation.observed_value.as_ref().unwrap().is_u64());
    assert_eq!(report.component_type, "datastore");

    store.close().await;
    let report = health.check(&key).await.unwrap();
    let observation = &report.records[0].observation;
    assert_eq!(observation.status, HealthStatus::Fail);
    let output = observation.output.as_deref().unwrap();
    assert!(
        output.contains(ErrorCode::STORE_UNAVAILABLE.name()),
        "{output}"
    );
}

async fn queue_backlog_warns_and_fails_at_its_thresholds(t: &Target) {
    let store = t.options().open().await.unwrap();
    let tasks = store.tasks();
    tasks
        .declare("emails", QueueSettings::default())
        .await
        .unwrap();
    let config = QueueCheckConfig {
        warn_backlog: 2,
        fail_backlog: Some(3),
        ..QueueCheckConfig::default()
    };
    let health = aggregator();
    let key = health
        .register(
            QueueCheck::new(tasks.clone(), "emails", QueueMeasure::Backlog, config).unwrap(),
            CheckOptions::new(),
        )
        .unwrap();
    assert_eq!(key, "queue.emails:backlog");

    let mut seen = Vec::new();
    for _ in 0..3 {
        let observation = health.check(&key).await.unwrap().records[0]
            .observation
            .clone();
        seen.push((observation.status, observation.observed_value.unwrap()));
        tasks
            .enqueue(NewTask::new("emails", json!({"to": "a@example.com"})))
            .await
            .unwrap();
    }
    let observation = health.check(&key).await.unwrap().records[0]
        .observation
        .clone();
    seen.push((observation.status, observation.observed_value.unwrap()));
    assert_eq!(
        seen,
        [
            (HealthStatus::Pass, json!(0)),
            (HealthStatus::Pass, json!(1)),
            (HealthStatus::Warn, json!(2)),
            (HealthStatus::Fail, json!(3)),
        ]
    );
    assert_eq!(observation.observed_unit.as_deref(), Some("tasks"));
    store.close().await;
}

async fn queue_oldest_task_age_follows_the_stores_clock(t: &Target) {
    let manual = ManualClock::new();
    let store = t.options().clock(manual.clock()).open().await.unwrap();
    let tasks = store.tasks();
    tasks
        .declare("jobs", QueueSettings::default())
        .await
        .unwrap();
    tasks
        .enqueue(NewTask::new("jobs", json!({"n": 1})))
        .await
        .unwrap();
    let config = QueueCheckConfig {
        warn_oldest_age: Duration::from_secs(60),
        fail_oldest_age: Some(Duration::from_secs(120)),
        ..QueueCheckConfig::default()
    };
    let health = aggregator();
    let key = health
        .register(
            QueueCheck::new(tasks, "jobs", QueueMeasure::OldestTaskAge, config).unwrap(),
            CheckOptions::new(),
        )
        .unwrap();
    assert_eq!(key, "queue.jobs:oldestTaskAge");

    let mut seen = Vec::new();
    for advance in [0, 60, 60] {
        manual.advance(Duration::from_secs(advance));
        let observation = health.check(&key).await.unwrap().records[0]
            .observation
            .clone();
        seen.push((observation.status, observation.observed_value.unwrap()));
    }
    assert_eq!(
        seen,
        [
            (HealthStatus::Pass, json!(0)),
            (HealthStatus::Warn, json!(60_000)),
            (HealthStatus::Fail, json!(120_000)),
        ]
    );
    store.close().await;
}

async fn queue_check_of_an_undeclared_queue_fails_saying_so(t: &Target) {
    let store = t.options().open().await.unwrap();
    let health = aggregator();
    let key = health
        .register(
            QueueCheck::new(
                store.tasks(),
                "missing",
                QueueMeasure::Backlog,
                QueueCheckConfig::default(),
            )
            .unwrap(),
            CheckOptions::new(),
        )
        .unwrap();
    let observation = health.check(&key).await.unwrap().records[0]
        .observation
        .clone();
    assert_eq!(observation.status, HealthStatus::Fail);
    let output = observation.output.unwrap();
    assert!(output.contains(ErrorCode::NOT_FOUND.name()), "{output}");

    let err = QueueCheck::new(
        store.tasks(),
        " ",
        QueueMeasure::Backlog,
        QueueCheckConfig::default(),
    )
    .unwrap_err();
    assert_eq!(err.context_value("field"), Some("queue"));
    let bad = QueueCheckConfig {
        warn_backlog: 10,
        fail_backlog: Some(5),
        ..QueueCheckConfig::default()
    };
    let err = QueueCheck::new(store.tasks(), "jobs", QueueMeasure::Backlog, bad).unwrap_err();
    assert_eq!(err.code(), ErrorCode::INVALID_CONFIG);
    assert_eq!(err.context_value("field"), Some("warn_backlog"));
    store.close().await;
}
