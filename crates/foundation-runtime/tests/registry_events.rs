//! Registry events on watchers and on the telemetry bus.

mod registry_support;

use std::sync::Arc;

use foundation_runtime::agent::{ExitReason, StopReason};
use foundation_runtime::registry::{
    Health, Kind, Metadata, RegistryConfig, RegistryEvent, RemovalReason,
};
use registry_support::{fixture, fixture_with, worker};

#[tokio::test]
async fn watchers_see_a_members_events_in_order() {
    let f = fixture();
    let mut watcher = f.registry.watch();
    let w = worker("w", &f.bus).await;
    let g1 = f
        .registry
        .register_agent("w", &w, Metadata::new(Kind::Agent))
        .unwrap();
    f.registry.set_health("w", Health::Degraded).unwrap();
    f.registry.set_health("w", Health::Degraded).unwrap(); // no change, no event
    let g2 = f
        .registry
        .register("db", Metadata::new(Kind::Service))
        .unwrap();
    f.registry.unregister("db").unwrap();
    w.shutdown(StopReason::Normal).await;

    let w_name: Arc<str> = "w".into();
    let db: Arc<str> = "db".into();
    assert_eq!(
        watcher.drain(),
        [
            RegistryEvent::Registered {
                name: w_name.clone(),
                generation: g1,
                kind: Kind::Agent
            },
            RegistryEvent::HealthChanged {
                name: w_name.clone(),
                generation: g1,
                from: Health::Healthy,
                to: Health::Degraded
            },
            RegistryEvent::Registered {
                name: db.clone(),
                generation: g2,
                kind: Kind::Service
            },
            RegistryEvent::Unregistered {
                name: db,
                generation: g2,
                reason: RemovalReason::Unregistered
            },
            RegistryEvent::Unregistered {
                name: w_name,
                generation: g1,
                reason: RemovalReason::AgentExited(ExitReason::Stopped(StopReason::Normal))
            },
        ]
    );
    assert_eq!(watcher.missed(), 0);
}

#[tokio::test]
async fn events_are_published_on_the_telemetry_bus() {
    let f = fixture();
    let mut sub = f.bus.subscribe_prefix("foundation.registry.", 16);
    f.registry
        .register("db", Metadata::new(Kind::Service))
        .unwrap();
    f.registry.set_health("db", Health::Unhealthy).unwrap();
    f.registry.unregister("db").unwrap();
    let events = sub.drain();
    let names: Vec<_> = events.iter().map(|e| (e.name(), e.source())).collect();
    assert_eq!(
        names,
        [
            ("foundation.registry.registered", "db"),
            ("foundation.registry.health_changed", "db"),
            ("foundation.registry.unregistered", "db"),
        ]
    );
    let last = events[2].downcast_ref::<RegistryEvent>().unwrap();
    assert!(matches!(
        last,
        RegistryEvent::Unregistered {
            reason: RemovalReason::Unregistered,
            ..
        }
    ));
}

#[tokio::test]
async fn a_slow_watcher_misses_the_oldest_events_and_never_blocks() {
    let f = fixture_with(RegistryConfig {
        watch_capacity: 4,
        sweep_interval: None,
        ..RegistryConfig::default()
    });
    let mut slow = f.registry.watch();
    for i in 0..10 {
        f.registry
            .register(&format!("svc-{i}"), Metadata::new(Kind::Service))
            .unwrap();
    }
    assert_eq!(f.registry.len(), 10, "registration went on regardless");
    let kept: Vec<_> = slow
        .drain()
        .iter()
        .map(|e| e.entry_name().to_owned())
        .collect();
    assert_eq!(kept, ["svc-6", "svc-7", "svc-8", "svc-9"]);
    assert_eq!(slow.missed(), 6);
}

#[tokio::test]
async fn dropped_watchers_are_cleaned_up_and_recv_ends_with_the_registry() {
    let f = fixture();
    let before = f.registry.stats().watchers;
    let watchers: Vec<_> = (0..5).map(|_| f.registry.watch()).collect();
    assert_eq!(f.registry.stats().watchers, before + 5);
    drop(watchers);
    assert_eq!(f.registry.stats().watchers, before);

    let mut watcher = f.registry.watch();
    f.registry
        .register("db", Metadata::new(Kind::Service))
        .unwrap();
    drop(f.registry);
    assert!(matches!(
        watcher.recv().await,
        Some(RegistryEvent::Registered { .. })
    ));
    assert_eq!(watcher.recv().await, None);
}
