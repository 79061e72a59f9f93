//! The webhook receiver over real sockets: Alertmanager's payload, an endpoint answering 500
//! and one that never answers — each retried, then reported down, never a stuck engine — and
//! recovery.

mod alert_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use foundation_core::TelemetryBus;
use foundation_observe::alert::{
    AlertConfig, AlertManager, AlertRequest, AlertState, DeliveryConfig, DeliveryFailed,
    RECEIVER_DOWN, ReceiverConfig, ReceiverStatus, RouteConfig, Severity,
    receivers::ChannelReceiver,
};
use foundation_protect::retry::{Backoff, RetryConfig};

use alert_support::{Server, named};

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3_600);

/// Receivers `hook` (the webhook at `url`) and `ops` (a channel, the fallback); everything
/// routes to `hook`, one group per alert, sent at once.
fn config(url: String, delivery: DeliveryConfig) -> AlertConfig {
    AlertConfig {
        fallback_receiver: Some("ops".into()),
        delivery,
        receivers: vec![ReceiverConfig::Webhook {
            name: "hook".into(),
            url,
        }],
        route: RouteConfig::to("hook")
            .group_by(&["..."])
            .timing(Duration::ZERO, MINUTE, HOUR),
        ..AlertConfig::default()
    }
}

/// Quick retries: three attempts 10 ms apart.
fn quick() -> DeliveryConfig {
    DeliveryConfig {
        retry: RetryConfig {
            max_attempts: 3,
            backoff: Backoff::Constant {
                delay: Duration::from_millis(10),
            },
            ..RetryConfig::default()
        },
        ..DeliveryConfig::default()
    }
}

fn hook_status(alerts: &AlertManager) -> ReceiverStatus {
    alerts
        .status()
        .receivers
        .into_iter()
        .find(|r| r.name == "hook")
        .unwrap()
}

#[tokio::test]
async fn the_webhook_posts_alertmanagers_json() {
    let (server, mut bodies, hits) = Server::webhook(Arc::new(AtomicU16::new(200))).await;
    let (ops, _ops_rx) = ChannelReceiver::new("ops", 8);
    let alerts = AlertManager::builder()
        .config(config(server.url("/hook"), quick()))
        .receiver(ops)
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    let fired = alerts
        .fire(
            &AlertRequest::new("DiskFull", Severity::Critical)
                .label("host", "db-1")
                .annotation("summary", "disk full"),
        )
        .unwrap();
    alerts.flush().await;
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    let body = bodies.try_recv().unwrap();
    assert_eq!(body["version"], "4");
    assert_eq!(body["receiver"], "hook");
    assert_eq!(body["status"], "firing");
    assert_eq!(body["groupLabels"]["host"], "db-1");
    assert_eq!(body["commonLabels"]["alertname"], "DiskFull");
    assert_eq!(body["commonAnnotations"]["summary"], "disk full");
    assert!(body["groupKey"].as_str().unwrap().contains("db-1"));
    let alert = &body["alerts"][0];
    assert_eq!(alert["status"], "firing");
    assert_eq!(alert["labels"]["severity"], "critical");
    assert_eq!(alert["annotations"]["summary"], "disk full");
    assert_eq!(alert["fingerprint"], fired.fingerprint.to_string());
    assert_eq!(alert["endsAt"], "0001-01-01T00:00:00Z");
    assert!(
        chrono::DateTime::parse_from_rfc3339(alert["startsAt"].as_str().unwrap()).is_ok(),
        "{alert}"
    );
    let status = hook_status(&alerts);
    assert_eq!(
        (status.delivered, status.failed, status.down),
        (1, 0, false)
    );
}

#[tokio::test]
async fn a_webhook_answering_500_is_retried_then_reported_down_until_it_recovers() {
    let answer = Arc::new(AtomicU16::new(500));
    let (server, _bodies, hits) = Server::webhook(answer.clone()).await;
    let bus = TelemetryBus::new();
    let mut failures = bus.subscribe_prefix("foundation.alert.delivery_failed", 8);
    let (ops, mut ops_rx) = ChannelReceiver::new("ops", 8);
    let alerts = AlertManager::builder()
        .config(config(server.url("/hook"), quick()))
        .receiver(ops)
        .bus(bus.clone())
        .build()
        .unwrap();
    alerts
        .fire(&AlertRequest::new("First", Severity::Warning))
        .unwrap();
    alerts.flush().await;
    assert_eq!(hits.load(Ordering::SeqCst), 3, "three attempts");
    let status = hook_status(&alerts);
    assert_eq!(
        (status.attempts, status.failed, status.delivered),
        (3, 1, 0)
    );
    assert!(status.down);
    assert!(
        status.last_error.as_deref().unwrap().contains("500"),
        "{status:?}"
    );
    let failed = failures.drain();
    assert_eq!(failed.len(), 1);
    let failed = failed[0].downcast_ref::<DeliveryFailed>().unwrap();
    assert_eq!(failed.receiver, "hook");
    assert_eq!(failed.consecutive_failures, 1);

    // The receiver-down alert goes to the fallback receiver.
    let down = named(&alerts, RECEIVER_DOWN);
    assert_eq!(down.labels["receiver"], "hook");
    assert_eq!(down.severity, Severity::Critical);
    alerts.flush().await;
    let report = ops_rx.try_recv().unwrap();
    assert_eq!(report.alerts[0].labels["alertname"], RECEIVER_DOWN);
    assert!(
        report.alerts[0].annotations["description"].contains("500"),
        "{:?}",
        report.alerts[0].annotations
    );

    // It comes back: the next delivery succeeds and the report resolves.
    answer.store(200, Ordering::SeqCst);
    alerts
        .fire(&AlertRequest::new("Second", Severity::Warning))
        .unwrap();
    alerts.flush().await;
    let status = hook_status(&alerts);
    assert_eq!(status.delivered, 1);
    assert!(!status.down);
    assert_eq!(named(&alerts, RECEIVER_DOWN).state, AlertState::Resolved);
}

#[tokio::test(start_paused = true)]
async fn a_webhook_that_never_answers_times_out_is_retried_and_reported_without_stalling() {
    let (server, accepted) = Server::hanging().await;
    let (ops, mut ops_rx) = ChannelReceiver::new("ops", 8);
    let (team, mut team_rx) = ChannelReceiver::new("team", 8);
    let mut config = config(server.url("/hook"), DeliveryConfig::default());
    config.route = config
        .route
        .route(RouteConfig::to("hook").continue_matching(true))
        .route(RouteConfig::to("team"));
    let alerts = AlertManager::builder()
        .config(config)
        .receiver(ops)
        .receiver(team)
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    let engine = alerts.spawn();
    alerts
        .fire(&AlertRequest::new("Stuck", Severity::Critical))
        .unwrap();

    // The other receiver is served while the webhook hangs.
    let page = tokio::time::timeout(MINUTE, team_rx.recv())
        .await
        .expect("the channel is not held up by the webhook")
        .unwrap();
    assert_eq!(page.alerts[0].labels["alertname"], "Stuck");
    assert_eq!(
        hook_status(&alerts).failed,
        0,
        "the webhook is still trying"
    );

    // Three attempts of 10 s each, then the report reaches the fallback receiver.
    let report = tokio::time::timeout(10 * MINUTE, ops_rx.recv())
        .await
        .expect("the hung receiver is reported")
        .unwrap();
    assert_eq!(report.alerts[0].labels["receiver"], "hook");
    let status = hook_status(&alerts);
    assert_eq!((status.attempts, status.failed), (3, 1));
    assert!(status.down);
    assert!(accepted.load(Ordering::SeqCst) >= 1);
    engine.stop().await;

    // Without the engine, a flush returns too: the timeout bounds every delivery.
    alerts
        .fire(&AlertRequest::new("Again", Severity::Warning))
        .unwrap();
    tokio::time::timeout(10 * MINUTE, alerts.flush())
        .await
        .expect("flush is bounded by the delivery timeout");
    assert_eq!(hook_status(&alerts).failed, 2);
}
