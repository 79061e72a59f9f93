//! Routing, grouping, de-duplication, repeat, silences, inhibition and escalation, delivered
//! to in-process channel receivers on paused time.

mod alert_support;

use std::time::Duration;

use foundation_core::{ErrorCode, TelemetryBus};
use foundation_observe::alert::{
    AlertAcknowledged, AlertConfig, AlertEscalated, AlertFilter, AlertManager, AlertRequest,
    AlertState, DeliveryFailed, EscalationStep, InhibitRuleConfig, Notification,
    NotificationStatus, RECEIVER_DOWN, RouteConfig, Severity, SilenceRequest, SilenceState,
    receivers::ChannelReceiver,
};
use tokio::sync::mpsc;

use alert_support::named;

const SECOND: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3_600);

fn channel(name: &str) -> (ChannelReceiver, mpsc::Receiver<Notification>) {
    ChannelReceiver::new(name, 64)
}

fn drain(rx: &mut mpsc::Receiver<Notification>) -> Vec<Notification> {
    std::iter::from_fn(|| rx.try_recv().ok()).collect()
}

fn alertnames(n: &Notification) -> Vec<String> {
    n.alerts
        .iter()
        .map(|a| {
            format!(
                "{}:{}",
                a.labels["alertname"],
                a.labels.get("host").map_or("", |h| h)
            )
        })
        .collect()
}

fn manager(config: AlertConfig, receivers: Vec<ChannelReceiver>) -> AlertManager {
    let mut builder = AlertManager::builder()
        .config(config)
        .bus(TelemetryBus::new());
    for r in receivers {
        builder = builder.receiver(r);
    }
    builder.build().unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_routing_tree_matches_first_child_unless_continue_with_the_root_as_default() {
    let (default, mut default_rx) = channel("default");
    let (db, mut db_rx) = channel("db");
    let (pager, mut pager_rx) = channel("pager");
    let config = AlertConfig {
        route: RouteConfig::to("default")
            .timing(Duration::ZERO, MINUTE, HOUR)
            .route(
                RouteConfig::to("db")
                    .matching(&["team=db"])
                    .continue_matching(true),
            )
            .route(RouteConfig::to("pager").matching(&["severity=~\"critical|page\""])),
        ..AlertConfig::default()
    };
    let alerts = manager(config, vec![default, db, pager]);
    let critical = alerts
        .fire(&AlertRequest::new("Down", Severity::Critical).label("team", "db"))
        .unwrap();
    assert_eq!(critical.receivers, ["db", "pager"]);
    alerts
        .fire(&AlertRequest::new("Slow", Severity::Warning).label("team", "web"))
        .unwrap();
    alerts.flush().await;
    assert_eq!(drain(&mut db_rx).len(), 1);
    assert_eq!(alertnames(&drain(&mut pager_rx)[0]), ["Down:"]);
    assert_eq!(alertnames(&drain(&mut default_rx)[0]), ["Slow:"]);

    let paged = alerts.alerts(&AlertFilter {
        receiver: Some("pager".into()),
        ..AlertFilter::default()
    });
    assert_eq!(paged.len(), 1);
    assert_eq!(paged[0].fingerprint, critical.fingerprint);
}

#[tokio::test(start_paused = true)]
async fn groups_wait_batch_deduplicate_repeat_and_send_resolutions() {
    let (team, mut rx) = channel("team");
    let config = AlertConfig {
        route: RouteConfig::to("team").group_by(&["alertname"]).timing(
            30 * SECOND,
            5 * MINUTE,
            HOUR,
        ),
        ..AlertConfig::default()
    };
    let alerts = manager(config, vec![team]);
    let host = |h: &str| AlertRequest::new("DiskFull", Severity::Warning).label("host", h);

    let one = alerts.fire(&host("1")).unwrap();
    alerts.flush().await;
    assert!(
        drain(&mut rx).is_empty(),
        "group_wait holds the first notification"
    );
    tokio::time::advance(10 * SECOND).await;
    alerts.fire(&host("2")).unwrap();
    tokio::time::advance(20 * SECOND).await;
    alerts.flush().await;
    let first = drain(&mut rx);
    assert_eq!(first.len(), 1, "one notification for the group");
    assert_eq!(alertnames(&first[0]), ["DiskFull:1", "DiskFull:2"]);
    assert_eq!(first[0].group_labels["alertname"], "DiskFull");
    assert_eq!(first[0].common_labels["severity"], "warning");
    assert!(!first[0].common_labels.contains_key("host"));
    assert_eq!(first[0].status, NotificationStatus::Firing);

    // The same alert again is a duplicate: nothing new at the next interval.
    assert_eq!(
        alerts.fire(&host("1")).unwrap().fingerprint,
        one.fingerprint
    );
    tokio::time::advance(5 * MINUTE).await;
    alerts.flush().await;
    assert!(drain(&mut rx).is_empty(), "de-duplicated");

    // A new alert waits for the group interval, then goes with the others.
    alerts.fire(&host("3")).unwrap();
    tokio::time::advance(MINUTE).await;
    alerts.flush().await;
    assert!(drain(&mut rx).is_empty(), "group_interval not over");
    tokio::time::advance(4 * MINUTE).await;
    alerts.flush().await;
    assert_eq!(alertnames(&drain(&mut rx)[0]).len(), 3);

    // Still firing after the repeat interval: sent again.
    tokio::time::advance(HOUR).await;
    alerts.flush().await;
    assert_eq!(drain(&mut rx).len(), 1, "repeated");

    // One resolves: the next notification carries it as resolved, with its end.
    alerts.resolve(one.fingerprint).unwrap();
    tokio::time::advance(5 * MINUTE).await;
    alerts.flush().await;
    let update = drain(&mut rx);
    let resolved: Vec<_> = update[0]
        .alerts
        .iter()
        .filter(|a| a.status == NotificationStatus::Resolved)
        .collect();
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].fingerprint, one.fingerprint);
    assert_ne!(resolved[0].ends_at, "0001-01-01T00:00:00Z");
    tokio::time::advance(5 * MINUTE).await;
    alerts.flush().await;
    assert!(drain(&mut rx).is_empty(), "a resolution is sent once");

    for h in ["2", "3"] {
        let fp = named_host(&alerts, h);
        alerts.resolve(fp).unwrap();
    }
    tokio::time::advance(5 * MINUTE).await;
    alerts.flush().await;
    assert_eq!(drain(&mut rx)[0].status, NotificationStatus::Resolved);
    assert_eq!(alerts.status().groups, 0, "an empty group is dropped");
}

fn named_host(alerts: &AlertManager, host: &str) -> foundation_observe::alert::Fingerprint {
    alerts
        .alerts(&AlertFilter::default())
        .into_iter()
        .find(|a| a.labels.get("host").map(String::as_str) == Some(host))
        .unwrap()
        .fingerprint
}

#[tokio::test(start_paused = true)]
async fn silenced_alerts_are_visible_but_not_delivered_until_the_silence_ends() {
    let (team, mut rx) = channel("team");
    let config = AlertConfig {
        route: RouteConfig::to("team").group_by(&["alertname"]).timing(
            Duration::ZERO,
            MINUTE,
            HOUR,
        ),
        ..AlertConfig::default()
    };
    let alerts = manager(config, vec![team]);
    let deploy = alerts
        .create_silence(&SilenceRequest::new(
            &["alertname=~\"Deploy.*\""],
            10 * MINUTE,
            "alice",
            "deploying",
        ))
        .unwrap();
    assert_eq!(deploy.status, SilenceState::Active);
    let manual = alerts
        .create_silence(&SilenceRequest::new(&["alertname=Noisy"], HOUR, "bob", ""))
        .unwrap();
    alerts
        .fire(&AlertRequest::new("DeployLag", Severity::Warning))
        .unwrap();
    alerts
        .fire(&AlertRequest::new("Noisy", Severity::Info))
        .unwrap();
    alerts.flush().await;
    assert!(drain(&mut rx).is_empty(), "both are silenced");
    let lag = named(&alerts, "DeployLag");
    assert_eq!(lag.silenced_by, [deploy.id]);
    assert!(lag.muted());
    assert_eq!(lag.state, AlertState::Firing);

    // Deleting a silence expires it at once; it stays listed as expired.
    let expired = alerts.expire_silence(manual.id).unwrap();
    assert_eq!(expired.status, SilenceState::Expired);
    tokio::time::advance(MINUTE).await;
    alerts.flush().await;
    assert_eq!(alertnames(&drain(&mut rx)[0]), ["Noisy:"]);

    // The other silence runs out by itself.
    tokio::time::advance(9 * MINUTE).await;
    alerts.flush().await;
    assert_eq!(alertnames(&drain(&mut rx)[0]), ["DeployLag:"]);
    assert!(named(&alerts, "DeployLag").silenced_by.is_empty());
    assert_eq!(alerts.silences().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn bad_silences_are_refused_naming_the_field_and_unknown_ids_are_not_found() {
    let alerts = manager(AlertConfig::default(), vec![]);
    let field = |request: SilenceRequest| {
        let err = alerts.create_silence(&request).unwrap_err();
        assert!(err.is(ErrorCode::INVALID_INPUT), "{err}");
        err.context_value("field").unwrap().to_string()
    };
    assert_eq!(
        field(SilenceRequest::new(&["a=~\"(\""], HOUR, "me", "")),
        "matchers[0]"
    );
    assert_eq!(field(SilenceRequest::new(&[], HOUR, "me", "")), "matchers");
    assert_eq!(
        field(SilenceRequest::new(&["a=b"], HOUR, " ", "")),
        "createdBy"
    );
    assert_eq!(
        field(SilenceRequest::new(&["a=b"], Duration::ZERO, "me", "")),
        "duration_ms"
    );
    let backwards = SilenceRequest {
        starts_at: Some("2100-01-02T00:00:00Z".into()),
        ends_at: Some("2100-01-01T00:00:00Z".into()),
        duration_ms: None,
        ..SilenceRequest::new(&["a=b"], HOUR, "me", "")
    };
    assert_eq!(field(backwards), "endsAt");
    let garbled = SilenceRequest {
        ends_at: Some("tomorrow".into()),
        duration_ms: None,
        ..SilenceRequest::new(&["a=b"], HOUR, "me", "")
    };
    assert_eq!(field(garbled), "endsAt");
    let unknown = alerts
        .expire_silence(foundation_observe::alert::SilenceId(99))
        .unwrap_err();
    assert!(unknown.is(ErrorCode::NOT_FOUND));
}

#[tokio::test(start_paused = true)]
async fn a_critical_alert_inhibits_the_warnings_of_its_service() {
    let (team, mut rx) = channel("team");
    let config = AlertConfig {
        route: RouteConfig::to("team")
            .group_by(&["..."])
            .timing(Duration::ZERO, MINUTE, HOUR),
        inhibit_rules: vec![InhibitRuleConfig::new(
            &["severity=critical"],
            &["severity=warning"],
            &["service"],
        )],
        ..AlertConfig::default()
    };
    let alerts = manager(config, vec![team]);
    let warn_db = alerts
        .fire(&AlertRequest::new("Slow", Severity::Warning).label("service", "db"))
        .unwrap();
    let crit_db = alerts
        .fire(&AlertRequest::new("Down", Severity::Critical).label("service", "db"))
        .unwrap();
    alerts
        .fire(&AlertRequest::new("Slow", Severity::Warning).label("service", "web"))
        .unwrap();
    alerts.flush().await;
    let mut delivered: Vec<String> = drain(&mut rx)
        .iter()
        .map(|n| {
            format!(
                "{}:{}",
                n.alerts[0].labels["alertname"], n.alerts[0].labels["service"]
            )
        })
        .collect();
    delivered.sort();
    assert_eq!(delivered, ["Down:db", "Slow:web"]);
    assert_eq!(
        alerts.alert(warn_db.fingerprint).unwrap().inhibited_by,
        [crit_db.fingerprint]
    );

    alerts.resolve(crit_db.fingerprint).unwrap();
    tokio::time::advance(MINUTE).await;
    alerts.flush().await;
    let after: Vec<String> = drain(&mut rx)
        .iter()
        .flat_map(|n| {
            n.alerts
                .iter()
                .map(|a| format!("{}:{:?}", a.labels["alertname"], a.status))
        })
        .collect();
    assert!(after.contains(&"Slow:Firing".to_string()), "{after:?}");
    assert!(after.contains(&"Down:Resolved".to_string()), "{after:?}");
}

#[tokio::test(start_paused = true)]
async fn unacknowledged_alerts_escalate_step_by_step_and_acknowledging_stops_it() {
    let bus = TelemetryBus::new();
    let mut events = bus.subscribe_prefix("foundation.alert.escalated", 16);
    let mut acks = bus.subscribe_prefix("foundation.alert.acknowledged", 16);
    let (oncall, mut oncall_rx) = channel("oncall");
    let (lead, mut lead_rx) = channel("lead");
    let (boss, mut boss_rx) = channel("boss");
    let config = AlertConfig {
        route: RouteConfig::to("oncall")
            .group_by(&["..."])
            .timing(Duration::ZERO, MINUTE, 24 * HOUR)
            .escalation(vec![
                EscalationStep::new("lead", 10 * MINUTE),
                EscalationStep::new("boss", 30 * MINUTE),
            ]),
        ..AlertConfig::default()
    };
    let alerts = AlertManager::builder()
        .config(config)
        .bus(bus.clone())
        .receiver(oncall)
        .receiver(lead)
        .receiver(boss)
        .build()
        .unwrap();
    let acked = alerts
        .fire(&AlertRequest::new("A", Severity::Critical))
        .unwrap();
    let ignored = alerts
        .fire(&AlertRequest::new("B", Severity::Critical))
        .unwrap();
    alerts.flush().await;
    assert_eq!(drain(&mut oncall_rx).len(), 2);
    assert!(drain(&mut lead_rx).is_empty());

    tokio::time::advance(10 * MINUTE).await;
    alerts.flush().await;
    let escalated = drain(&mut lead_rx);
    assert_eq!(escalated.len(), 2);
    assert!(escalated.iter().all(|n| n.escalation_step == Some(1)));
    let step = events.drain();
    assert_eq!(step.len(), 2);
    assert_eq!(
        step[0].downcast_ref::<AlertEscalated>().unwrap().receiver,
        "lead"
    );
    tokio::time::advance(MINUTE).await;
    alerts.flush().await;
    assert!(drain(&mut lead_rx).is_empty(), "each step notifies once");

    let view = alerts
        .acknowledge(acked.fingerprint, "carol", "looking")
        .unwrap();
    assert_eq!(view.acknowledged.unwrap().by, "carol");
    let ack = acks.drain();
    let ack = ack[0].downcast_ref::<AlertAcknowledged>().unwrap();
    assert_eq!(
        (ack.fingerprint, ack.by.as_str()),
        (acked.fingerprint, "carol")
    );
    tokio::time::advance(20 * MINUTE).await;
    alerts.flush().await;
    let top = drain(&mut boss_rx);
    assert_eq!(
        top.len(),
        1,
        "only the unacknowledged alert reaches the boss"
    );
    assert_eq!(top[0].alerts[0].fingerprint, ignored.fingerprint);

    // Resolving closes it: every receiver the chain reached hears it is resolved.
    alerts.resolve(ignored.fingerprint).unwrap();
    tokio::time::advance(MINUTE).await;
    alerts.flush().await;
    for rx in [&mut oncall_rx, &mut lead_rx, &mut boss_rx] {
        let got = drain(rx);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].status, NotificationStatus::Resolved);
    }
    let err = alerts
        .acknowledge(ignored.fingerprint, "dave", "")
        .unwrap_err();
    assert_eq!(err.context_value("field"), Some("state"));
    assert!(alerts.acknowledge(acked.fingerprint, "", "").is_err());
}

#[tokio::test(start_paused = true)]
async fn a_full_channel_is_a_counted_delivery_failure_reported_until_it_recovers() {
    let bus = TelemetryBus::new();
    let mut failures = bus.subscribe_prefix("foundation.alert.delivery_failed", 16);
    let (small, mut small_rx) = ChannelReceiver::new("small", 1);
    let (ops, mut ops_rx) = channel("ops");
    let config = AlertConfig {
        fallback_receiver: Some("ops".into()),
        route: RouteConfig::to("small")
            .group_by(&["..."])
            .timing(Duration::ZERO, MINUTE, HOUR),
        ..AlertConfig::default()
    };
    let alerts = AlertManager::builder()
        .config(config)
        .bus(bus.clone())
        .receiver(small)
        .receiver(ops)
        .build()
        .unwrap();
    alerts
        .fire(&AlertRequest::new("A", Severity::Warning))
        .unwrap();
    alerts
        .fire(&AlertRequest::new("B", Severity::Warning))
        .unwrap();
    alerts.flush().await; // never blocks on the full channel
    let status = alerts.status();
    let small_status = status.receivers.iter().find(|r| r.name == "small").unwrap();
    assert_eq!(small_status.delivered, 1);
    assert_eq!(small_status.failed, 1);
    assert_eq!(
        small_status.attempts, 4,
        "1 delivery + 3 attempts of the failed one"
    );
    assert!(small_status.down);
    let failed = failures.drain();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0].downcast_ref::<DeliveryFailed>().unwrap().receiver,
        "small"
    );
    let down = named(&alerts, RECEIVER_DOWN);
    assert_eq!(down.state, AlertState::Firing);
    assert_eq!(down.labels["receiver"], "small");
    assert_eq!(down.receivers, ["ops"]);

    alerts.flush().await;
    let report = drain(&mut ops_rx);
    assert_eq!(report.len(), 1, "the fallback receiver hears of it");
    assert_eq!(report[0].alerts[0].labels["alertname"], RECEIVER_DOWN);

    // The reader catches up; the failed notification is sent again at the next interval.
    assert_eq!(drain(&mut small_rx).len(), 1);
    tokio::time::advance(MINUTE).await;
    alerts.flush().await;
    assert_eq!(drain(&mut small_rx).len(), 1, "not lost");
    assert!(!alerts.status().receivers.iter().any(|r| r.down));
    assert_eq!(named(&alerts, RECEIVER_DOWN).state, AlertState::Resolved);
}
