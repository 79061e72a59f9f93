//! Snapshot and restore through JSON.

mod registry_support;

use std::time::Duration;

use foundation_core::error::ErrorCode;
use foundation_runtime::agent::StopReason;
use foundation_runtime::registry::{
    Health, Kind, Metadata, Resources, RestoreReport, SNAPSHOT_VERSION, Snapshot,
};
use registry_support::{fixture, worker};

fn db_meta() -> Metadata {
    Metadata::new(Kind::Service)
        .with_capability("sql")
        .with_capability("kv")
        .with_health(Health::Degraded)
        .with_resources(Resources {
            load: 0.25,
            cpu: 1.5,
            memory: 512.0,
        })
        .with_node("node-7")
        .with_label("zone", "eu")
        .with_ttl(Duration::from_millis(1500))
}

#[tokio::test]
async fn a_snapshot_round_trips_through_json_and_restores_services() {
    let f = fixture();
    let w = worker("w", &f.bus).await;
    f.registry
        .register_agent("w", &w, Metadata::new(Kind::Agent).with_capability("work"))
        .unwrap();
    f.registry.register("db", db_meta()).unwrap();
    f.registry
        .register("leader", Metadata::new(Kind::Coordinator))
        .unwrap();

    let snapshot = f.registry.snapshot();
    assert_eq!(snapshot.version, SNAPSHOT_VERSION);
    let names: Vec<_> = snapshot.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["db", "leader", "w"]);
    let json = serde_json::to_string(&snapshot).unwrap();
    assert!(json.contains(r#""ttl_ms":1500"#), "{json}");
    let back: Snapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(back, snapshot);

    let target = fixture();
    target.clock.advance(Duration::from_secs(100));
    let report = target.registry.restore(&back).unwrap();
    assert_eq!(
        report,
        RestoreReport {
            restored: vec!["db".into(), "leader".into()],
            awaiting_agents: vec!["w".into()],
            already_present: vec![],
        }
    );
    let db = target.registry.entry("db").unwrap();
    assert_eq!(db.metadata(), &db_meta());
    assert_eq!(db.since_heartbeat(), Duration::ZERO, "heartbeat restarts");
    assert_eq!(target.registry.by_capability("kv").len(), 1);
    // The agent's name is free for it to register itself once respawned.
    assert!(!target.registry.contains("w"));
    let respawned = worker("w", &target.bus).await;
    target
        .registry
        .register_agent("w", &respawned, back.entries[2].metadata.clone())
        .unwrap();

    // Restoring again skips names already present.
    let again = target.registry.restore(&back).unwrap();
    assert_eq!(again.already_present, ["db", "leader"]);
    assert!(again.restored.is_empty());

    w.shutdown(StopReason::Normal).await;
    respawned.shutdown(StopReason::Normal).await;
}

#[test]
fn a_bad_snapshot_is_refused_whole() {
    let f = fixture();
    let mut snapshot = Snapshot {
        version: SNAPSHOT_VERSION + 1,
        entries: vec![],
    };
    let err = f.registry.restore(&snapshot).unwrap_err();
    assert!(err.is(ErrorCode::INVALID_INPUT));
    assert_eq!(err.context_value("field"), Some("version"));

    let json = r#"{"version":1,"entries":[
        {"name":"ok","agent":false,"metadata":{"kind":"service"}},
        {"name":"bad","agent":false,"metadata":{"kind":"service","resources":{"load":-1}}}
    ]}"#;
    snapshot = serde_json::from_str(json).unwrap();
    let err = f.registry.restore(&snapshot).unwrap_err();
    assert!(err.is(ErrorCode::INVALID_INPUT));
    assert_eq!(err.context_value("field"), Some("resources.load"));
    assert_eq!(err.context_value("index"), Some("1"));
    assert_eq!(err.context_value("name"), Some("bad"));
    assert!(f.registry.is_empty(), "nothing restored");

    let unknown =
        r#"{"version":1,"entries":[{"name":"x","agent":false,"metadata":{"kind":"robot"}}]}"#;
    assert!(serde_json::from_str::<Snapshot>(unknown).is_err());
}
