//! Heartbeats with a TTL: a silent member turns unhealthy, then is removed.

mod registry_support;

use std::time::Duration;

use foundation_core::error::ErrorCode;
use foundation_runtime::registry::{
    Balance, Health, Kind, MAX_WATCH_CAPACITY, Metadata, Registry, RegistryConfig, RegistryEvent,
    RemovalReason, SweepReport,
};
use registry_support::fixture;

const TTL: Duration = Duration::from_secs(5);

fn with_ttl() -> Metadata {
    Metadata::new(Kind::Service)
        .with_capability("api")
        .with_ttl(TTL)
}

#[test]
fn a_silent_member_turns_unhealthy_then_is_removed_after_the_grace() {
    let f = fixture(); // grace: 10 s
    let r = &f.registry;
    let mut watcher = r.watch();
    let generation = r.register("svc", with_ttl()).unwrap();

    f.clock.advance(TTL);
    assert_eq!(
        r.sweep(),
        SweepReport::default(),
        "exactly at the TTL is in time"
    );
    f.clock.advance(Duration::from_millis(1));
    assert_eq!(
        r.sweep(),
        SweepReport {
            marked_unhealthy: 1,
            removed: 0
        }
    );
    assert_eq!(r.entry("svc").unwrap().metadata().health, Health::Unhealthy);
    assert!(
        r.pick("api", Balance::RoundRobin)
            .unwrap_err()
            .is(ErrorCode::REGISTRY_NO_INSTANCE)
    );
    assert_eq!(r.sweep(), SweepReport::default(), "marked once");

    f.clock.advance(Duration::from_secs(9));
    assert_eq!(r.sweep(), SweepReport::default(), "still within the grace");
    f.clock.advance(Duration::from_secs(2));
    assert_eq!(
        r.sweep(),
        SweepReport {
            marked_unhealthy: 0,
            removed: 1
        }
    );
    assert!(!r.contains("svc"));
    assert_eq!(r.stats().capabilities, 0);

    let name: std::sync::Arc<str> = "svc".into();
    assert_eq!(
        watcher.drain(),
        [
            RegistryEvent::Registered {
                name: name.clone(),
                generation,
                kind: Kind::Service
            },
            RegistryEvent::HealthChanged {
                name: name.clone(),
                generation,
                from: Health::Healthy,
                to: Health::Unhealthy
            },
            RegistryEvent::Unregistered {
                name,
                generation,
                reason: RemovalReason::HeartbeatExpired
            },
        ]
    );
}

#[test]
fn a_member_silent_past_ttl_and_grace_is_marked_and_removed_in_one_sweep() {
    let f = fixture();
    let mut watcher = f.registry.watch();
    f.registry.register("svc", with_ttl()).unwrap();
    f.clock.advance(Duration::from_secs(60));
    assert_eq!(
        f.registry.sweep(),
        SweepReport {
            marked_unhealthy: 1,
            removed: 1
        }
    );
    let names: Vec<_> = watcher
        .drain()
        .iter()
        .map(|e| foundation_core::Event::name(e))
        .collect();
    assert_eq!(
        names,
        [
            "foundation.registry.registered",
            "foundation.registry.health_changed",
            "foundation.registry.unregistered"
        ]
    );
}

#[test]
fn heartbeats_keep_a_member_healthy() {
    let f = fixture();
    f.registry.register("svc", with_ttl()).unwrap();
    for _ in 0..10 {
        f.clock.advance(Duration::from_secs(4));
        f.registry.heartbeat("svc").unwrap();
        assert_eq!(f.registry.sweep(), SweepReport::default());
    }
    let entry = f.registry.entry("svc").unwrap();
    assert_eq!(entry.metadata().health, Health::Healthy);
    assert_eq!(entry.since_heartbeat(), Duration::ZERO);
    f.clock.advance(Duration::from_secs(3));
    assert_eq!(
        f.registry.entry("svc").unwrap().since_heartbeat(),
        Duration::from_secs(3)
    );
}

#[test]
fn a_heartbeat_after_expiry_makes_the_member_healthy_again() {
    let f = fixture();
    let mut watcher = f.registry.watch();
    f.registry.register("svc", with_ttl()).unwrap();
    f.clock.advance(Duration::from_secs(6));
    f.registry.sweep();
    f.registry.heartbeat("svc").unwrap();
    assert_eq!(
        f.registry.entry("svc").unwrap().metadata().health,
        Health::Healthy
    );
    let changes: Vec<_> = watcher
        .drain()
        .into_iter()
        .filter_map(|e| match e {
            RegistryEvent::HealthChanged { from, to, .. } => Some((from, to)),
            _ => None,
        })
        .collect();
    assert_eq!(
        changes,
        [
            (Health::Healthy, Health::Unhealthy),
            (Health::Unhealthy, Health::Healthy)
        ]
    );
    // Healthy again, it gets a fresh TTL.
    f.clock.advance(Duration::from_secs(15));
    assert_eq!(f.registry.sweep().removed, 0);
    assert!(f.registry.contains("svc"));
}

#[test]
fn a_health_set_by_hand_is_not_undone_by_heartbeats() {
    let f = fixture();
    f.registry.register("svc", with_ttl()).unwrap();
    f.registry.set_health("svc", Health::Degraded).unwrap();
    f.registry.heartbeat("svc").unwrap();
    assert_eq!(
        f.registry.entry("svc").unwrap().metadata().health,
        Health::Degraded
    );
}

#[test]
fn members_without_a_ttl_never_expire() {
    let f = fixture();
    f.registry
        .register("svc", Metadata::new(Kind::Service))
        .unwrap();
    f.clock.advance(Duration::from_secs(86_400));
    assert_eq!(f.registry.sweep(), SweepReport::default());
    assert_eq!(
        f.registry.entry("svc").unwrap().metadata().health,
        Health::Healthy
    );
}

fn sweeping_registry() -> Registry {
    Registry::builder()
        .config(RegistryConfig {
            sweep_interval: Some(Duration::from_secs(1)),
            expiry_grace: Duration::from_secs(2),
            ..RegistryConfig::default()
        })
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_background_sweeper_removes_silent_members() {
    let registry = sweeping_registry();
    let mut watcher = registry.watch();
    registry.register("svc", with_ttl()).unwrap();
    registry
        .register("quiet", Metadata::new(Kind::Service))
        .unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(!registry.contains("svc"));
    assert!(registry.contains("quiet"));
    let last = watcher.drain().pop().unwrap();
    assert!(matches!(
        last,
        RegistryEvent::Unregistered {
            reason: RemovalReason::HeartbeatExpired,
            ..
        }
    ));
}

#[tokio::test(start_paused = true)]
async fn the_sweeper_stops_when_the_registry_is_dropped() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let before = metrics.num_alive_tasks();
    let registry = sweeping_registry();
    let clone = registry.clone();
    assert_eq!(metrics.num_alive_tasks(), before + 1);
    drop(registry);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(metrics.num_alive_tasks(), before + 1, "a clone keeps it");
    drop(clone);
    tokio::task::yield_now().await;
    assert_eq!(metrics.num_alive_tasks(), before);
}

#[test]
fn a_sweeper_needs_a_runtime_and_the_config_is_checked() {
    let err = sweeping_registry_outside_runtime();
    assert!(err.is(ErrorCode::SHUTDOWN));
    assert_eq!(err.context_value("field"), Some("sweep_interval_ms"));

    let err = Registry::builder()
        .config(RegistryConfig {
            shards: 3,
            watch_capacity: MAX_WATCH_CAPACITY + 1,
            sweep_interval: Some(Duration::ZERO),
            ..RegistryConfig::default()
        })
        .build()
        .unwrap_err();
    assert!(err.is(ErrorCode::INVALID_CONFIG));
    let fields: Vec<_> = err.context_values("field").collect();
    assert_eq!(fields, ["shards", "watch_capacity", "sweep_interval_ms"]);
}

fn sweeping_registry_outside_runtime() -> foundation_core::Error {
    Registry::builder()
        .config(RegistryConfig {
            sweep_interval: Some(Duration::from_secs(1)),
            ..RegistryConfig::default()
        })
        .build()
        .unwrap_err()
}
