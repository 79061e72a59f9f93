//! Registering, looking up and unregistering by name; bad input.

mod registry_support;

use std::time::Duration;

use foundation_core::error::ErrorCode;
use foundation_runtime::agent::StopReason;
use foundation_runtime::registry::{Health, Kind, Metadata, Resources};
use registry_support::{Msg, Other, Worker, fixture, worker};

#[tokio::test]
async fn a_registered_agent_is_found_by_name_and_typed() {
    let f = fixture();
    let w = worker("w1", &f.bus).await;
    let meta = Metadata::new(Kind::Agent)
        .with_capability("resize")
        .with_node("node-1")
        .with_label("zone", "a");
    let generation = f.registry.register_agent("w1", &w, meta.clone()).unwrap();

    let found = f.registry.lookup::<Worker>("w1").unwrap();
    let name = found.call(Msg::Name, Duration::from_secs(1)).await.unwrap();
    assert_eq!(name, "w1");

    let entry = f.registry.entry("w1").unwrap();
    assert_eq!(entry.name(), "w1");
    assert_eq!(entry.generation(), generation);
    assert_eq!(entry.metadata(), &meta);
    assert!(entry.has_agent());
    assert_eq!(entry.agent::<Worker>().unwrap().name(), "w1");
    assert_eq!(f.registry.len(), 1);
    w.shutdown(StopReason::Normal).await;
}

#[tokio::test]
async fn a_name_registered_twice_is_already_exists_naming_it() {
    let f = fixture();
    let w = worker("w1", &f.bus).await;
    f.registry
        .register_agent("dup", &w, Metadata::new(Kind::Agent))
        .unwrap();
    let err = f
        .registry
        .register("dup", Metadata::new(Kind::Service))
        .unwrap_err();
    assert!(err.is(ErrorCode::ALREADY_EXISTS));
    assert_eq!(err.context_value("name"), Some("dup"));
    // The first registration is untouched.
    assert!(f.registry.lookup::<Worker>("dup").is_ok());
    w.shutdown(StopReason::Normal).await;
}

#[tokio::test]
async fn unknown_names_are_not_found_naming_them() {
    let f = fixture();
    let checks = [
        f.registry.lookup::<Worker>("ghost").unwrap_err(),
        f.registry.entry("ghost").unwrap_err(),
        f.registry.unregister("ghost").unwrap_err(),
        f.registry.heartbeat("ghost").unwrap_err(),
        f.registry
            .set_health("ghost", Health::Degraded)
            .unwrap_err(),
        f.registry.set_label("ghost", "k", Some("v")).unwrap_err(),
        f.registry
            .update_metadata("ghost", Metadata::new(Kind::Service))
            .unwrap_err(),
    ];
    for err in checks {
        assert!(err.is(ErrorCode::NOT_FOUND), "{err:?}");
        assert_eq!(err.context_value("name"), Some("ghost"));
    }
    assert!(!f.registry.contains("ghost"));
}

#[tokio::test]
async fn a_lookup_of_the_wrong_type_is_invalid_input() {
    let f = fixture();
    let w = worker("w1", &f.bus).await;
    f.registry
        .register_agent("w1", &w, Metadata::new(Kind::Agent))
        .unwrap();
    f.registry
        .register("db", Metadata::new(Kind::Service))
        .unwrap();

    let err = f.registry.lookup::<Other>("w1").unwrap_err();
    assert!(err.is(ErrorCode::INVALID_INPUT));
    assert_eq!(err.context_value("name"), Some("w1"));
    // A service has no address at all.
    let err = f.registry.lookup::<Worker>("db").unwrap_err();
    assert!(err.is(ErrorCode::INVALID_INPUT));
    assert!(!f.registry.entry("db").unwrap().has_agent());
    w.shutdown(StopReason::Normal).await;
}

#[tokio::test]
async fn a_service_stays_until_unregistered() {
    let f = fixture();
    f.registry
        .register("db", Metadata::new(Kind::Service).with_capability("sql"))
        .unwrap();
    let removed = f.registry.unregister("db").unwrap();
    assert_eq!(removed.name(), "db");
    assert!(f.registry.is_empty());
    assert!(f.registry.by_capability("sql").is_empty());
    // The name is free again, with a newer generation.
    let again = f
        .registry
        .register("db", Metadata::new(Kind::Service))
        .unwrap();
    assert!(again > removed.generation());
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field_and_changes_nothing() {
    let f = fixture();
    let cases = [
        ("", Metadata::new(Kind::Service), "name"),
        ("  ", Metadata::new(Kind::Service), "name"),
        (
            "a",
            Metadata::new(Kind::Service).with_capability(""),
            "capabilities",
        ),
        (
            "a",
            Metadata::new(Kind::Service).with_label("", "v"),
            "labels",
        ),
        (
            "a",
            Metadata::new(Kind::Service).with_ttl(Duration::ZERO),
            "ttl_ms",
        ),
        (
            "a",
            Metadata::new(Kind::Service).with_load(f64::NAN),
            "resources.load",
        ),
        (
            "a",
            Metadata::new(Kind::Service).with_resources(Resources {
                memory: -1.0,
                ..Resources::default()
            }),
            "resources.memory",
        ),
    ];
    for (name, meta, field) in cases {
        let err = f.registry.register(name, meta).unwrap_err();
        assert!(err.is(ErrorCode::INVALID_INPUT), "{err:?}");
        assert_eq!(err.context_value("field"), Some(field));
    }
    assert!(f.registry.is_empty());

    f.registry
        .register("a", Metadata::new(Kind::Service).with_load(1.0))
        .unwrap();
    let err = f
        .registry
        .heartbeat_with(
            "a",
            Resources {
                cpu: f64::INFINITY,
                ..Resources::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.context_value("field"), Some("resources.cpu"));
    let err = f
        .registry
        .update_metadata("a", Metadata::new(Kind::Service).with_load(-2.0))
        .unwrap_err();
    assert_eq!(err.context_value("field"), Some("resources.load"));
    let err = f.registry.set_label("a", "", Some("v")).unwrap_err();
    assert_eq!(err.context_value("field"), Some("labels"));
    assert_eq!(
        f.registry.entry("a").unwrap().metadata().resources.load,
        1.0
    );
}

#[tokio::test]
async fn an_agent_that_already_exited_is_refused() {
    let f = fixture();
    let w = worker("gone", &f.bus).await;
    let agent = w.agent_ref();
    w.shutdown(StopReason::Normal).await;
    let err = f
        .registry
        .register_agent("gone", &agent, Metadata::new(Kind::Agent))
        .unwrap_err();
    assert!(err.is(ErrorCode::INVALID_INPUT));
    assert_eq!(err.context_value("field"), Some("agent"));
    assert!(f.registry.is_empty());
    assert_eq!(agent.exit_hook_count(), 0);
}

#[tokio::test]
async fn metadata_and_labels_can_be_updated_and_capabilities_are_reindexed() {
    let f = fixture();
    f.registry
        .register("svc", Metadata::new(Kind::Service).with_capability("old"))
        .unwrap();
    let generation = f.registry.entry("svc").unwrap().generation();
    let updated = Metadata::new(Kind::Coordinator)
        .with_capability("new")
        .with_node("n2")
        .with_health(Health::Degraded)
        .with_load(3.5);
    f.registry.update_metadata("svc", updated.clone()).unwrap();
    assert!(f.registry.by_capability("old").is_empty());
    assert_eq!(f.registry.by_capability("new")[0].name(), "svc");
    let entry = f.registry.entry("svc").unwrap();
    assert_eq!(entry.metadata(), &updated);
    assert_eq!(entry.generation(), generation);

    f.registry.set_label("svc", "zone", Some("b")).unwrap();
    assert_eq!(
        f.registry.entry("svc").unwrap().metadata().labels["zone"],
        "b"
    );
    f.registry.set_label("svc", "zone", None).unwrap();
    assert!(
        f.registry
            .entry("svc")
            .unwrap()
            .metadata()
            .labels
            .is_empty()
    );

    assert_eq!(
        f.registry.set_health("svc", Health::Unhealthy).unwrap(),
        Health::Degraded
    );
    assert_eq!(
        f.registry.entry("svc").unwrap().metadata().health,
        Health::Unhealthy
    );
    let stats = f.registry.stats();
    assert_eq!((stats.capabilities, stats.capability_members), (1, 1));
}
