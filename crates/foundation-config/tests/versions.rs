//! Stored versions, history, rollback, restarts and several nodes, on SQLite and PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use foundation_config::{
    Applied, Attribution, Config, ConfigService, LayerSet, Live, Schema, Secrets, Value,
};
use foundation_core::{ErrorCode, Validate, Validator};
use foundation_store::on_each_backend;
use foundation_store::testing::Target;
use foundation_store::{Store, StoreOptions, StoreUrl};
use serde::{Deserialize, Serialize};

on_each_backend!(
    every_change_is_a_version_with_author_reason_and_a_redacted_diff,
    rollback_is_a_new_version_with_the_old_values,
    unknown_and_invalid_rollbacks_keep_the_running_config,
    overrides_survive_a_restart_without_a_new_version,
    files_changed_while_stopped_make_a_new_version,
    two_nodes_share_one_history,
    a_follower_adopts_other_nodes_versions,
);

#[derive(Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
struct Db {
    host: String,
    port: u16,
    password: String,
}

impl Validate for Db {
    fn validate_into(&self, v: &mut Validator) {
        v.range("port", f64::from(self.port), 1.0, 65535.0);
    }
}

const FILE: &str = "[db]\nhost = 'a'\nport = 5432\npassword = 'hunter22'\n";

fn config_from(text: &str) -> Config {
    let layers = LayerSet::new().toml_str("app.toml", text.to_string());
    let schema = Schema::new().validated::<Db>("db");
    Config::load(schema, Secrets::default(), layers)
        .unwrap()
        .0
        .with_name("app")
}

fn by(author: &str) -> Attribution {
    Attribution::new(author, format!("because {author} said so"))
}

async fn open(t: &Target, text: &str) -> ConfigService {
    let store = t.options().open().await.unwrap();
    ConfigService::open(config_from(text), &store)
        .await
        .unwrap()
}

/// Sets `path` through the service, as `author`; it must succeed.
async fn set(service: &ConfigService, path: &str, value: Value, author: &str) -> Applied {
    service.set(path, value, by(author)).await.unwrap()
}

fn worker_port(service: &ConfigService) -> u16 {
    service
        .config()
        .get_for::<Db>("worker-1", "db")
        .unwrap()
        .port
}

fn port(service: &ConfigService) -> u16 {
    service.config().get::<Db>("db").unwrap().port
}

async fn every_change_is_a_version_with_author_reason_and_a_redacted_diff(t: &Target) {
    let service = open(t, FILE).await;
    assert_eq!(service.config().version(), 1);
    let first = service.version(1).await.unwrap();
    assert_eq!(first.author, "foundation");
    let password = first
        .changes
        .iter()
        .find(|c| c.path == "db.password")
        .unwrap();
    assert_eq!(password.after.as_deref(), Some("\"***\""));

    let applied = set(&service, "db.port", Value::Integer(6432), "ada").await;
    assert_eq!(applied.version, 2);
    assert_eq!(port(&service), 6432);
    set(&service, "db.password", Value::from("swordfish"), "bob").await;

    let history = service.history(None, 10).await.unwrap();
    let numbers: Vec<u64> = history.iter().map(|v| v.version).collect();
    assert_eq!(numbers, [3, 2, 1]);
    let v2 = &history[1];
    assert_eq!(
        (v2.author.as_str(), v2.reason.as_str()),
        ("ada", "because ada said so")
    );
    assert_eq!(v2.changes.len(), 1);
    assert_eq!(v2.changes[0].path, "db.port");
    assert_eq!(v2.changes[0].before.as_deref(), Some("5432"));
    assert_eq!(v2.changes[0].after.as_deref(), Some("6432"));
    assert!(v2.created_at_ms > 0);
    let v3 = &history[0];
    assert_eq!(v3.changes[0].path, "db.password");
    assert_eq!(v3.changes[0].before.as_deref(), Some("\"***\""));
    assert_eq!(v3.changes[0].after.as_deref(), Some("\"***\""));
    let shown = format!("{history:?}");
    assert!(
        !shown.contains("hunter22") && !shown.contains("swordfish"),
        "{shown}"
    );

    assert_eq!(service.history(Some(3), 1).await.unwrap()[0].version, 2);

    // A no-op is not a version; a refused change is not a version.
    let same = set(&service, "db.port", Value::Integer(6432), "ada").await;
    assert_eq!((same.version, same.changes.len()), (3, 0));
    let err = service
        .set("db.port", Value::Integer(0), by("eve"))
        .await
        .unwrap_err();
    assert!(err.is(ErrorCode::INVALID_CONFIG));
    assert_eq!(service.config().version(), 3);
    assert_eq!(service.history(None, 10).await.unwrap().len(), 3);

    // The config itself refuses changes that would not be stored.
    let err = service.config().set("db.port", 1).unwrap_err();
    assert!(err.is(ErrorCode::INVALID_INPUT));
    assert!(err.message().contains("ConfigService"), "{}", err.message());
}

async fn rollback_is_a_new_version_with_the_old_values(t: &Target) {
    let service = open(t, FILE).await;
    set(&service, "db.port", Value::Integer(1), "a").await;
    set(&service, "db.host", Value::from("b"), "a").await;
    service
        .set_for("worker-1", "db.port", Value::Integer(7), by("a"))
        .await
        .unwrap();
    assert_eq!(service.config().version(), 4);

    let applied = service.rollback(2, by("ops")).await.unwrap();
    assert_eq!(applied.version, 5);
    let db: Db = service.config().get("db").unwrap();
    assert_eq!((db.host.as_str(), db.port), ("a", 1));
    assert_eq!(worker_port(&service), 1);
    let v5 = service.version(5).await.unwrap();
    assert_eq!(v5.author, "ops");
    assert!(v5.changes.iter().any(|c| c.path == "db.host"));
    assert!(
        v5.changes
            .iter()
            .any(|c| c.agent.as_deref() == Some("worker-1")),
        "{:?}",
        v5.changes
    );

    // Rolling back to the rollback's source again is a no-op; rolling forward works too.
    let again = service.rollback(2, by("ops")).await.unwrap();
    assert_eq!(again.version, 5);
    service.rollback(4, by("ops")).await.unwrap();
    assert_eq!(worker_port(&service), 7);
}

async fn unknown_and_invalid_rollbacks_keep_the_running_config(t: &Target) {
    let service = open(t, FILE).await;
    set(&service, "db.port", Value::Integer(2), "a").await;
    let err = service.rollback(99, by("ops")).await.unwrap_err();
    assert!(err.is(ErrorCode::NOT_FOUND));
    assert_eq!(err.context_value("field"), Some("version"));
    let err = service.unset("db.host", by("ops")).await.unwrap_err();
    assert!(err.is(ErrorCode::NOT_FOUND));
    assert_eq!(port(&service), 2);
    assert_eq!(service.config().version(), 2);
}

async fn overrides_survive_a_restart_without_a_new_version(t: &Target) {
    {
        let service = open(t, FILE).await;
        set(&service, "db.port", Value::Integer(6000), "a").await;
        service
            .set_for("w", "db.host", Value::from("w-host"), by("a"))
            .await
            .unwrap();
    }
    let service = open(t, FILE).await;
    assert_eq!(service.config().version(), 3);
    assert_eq!(port(&service), 6000);
    assert_eq!(
        service.config().get_for::<Db>("w", "db").unwrap().host,
        "w-host"
    );
    assert_eq!(service.history(None, 10).await.unwrap().len(), 3);
}

async fn files_changed_while_stopped_make_a_new_version(t: &Target) {
    open(t, FILE).await;
    let service = open(t, &FILE.replace("host = 'a'", "host = 'z'")).await;
    assert_eq!(service.config().version(), 2);
    let v2 = service.version(2).await.unwrap();
    assert_eq!(v2.reason, "files or environment changed");
    assert_eq!(v2.changes[0].path, "db.host");
}

async fn two_nodes_share_one_history(t: &Target) {
    let a = open(t, FILE).await;
    let b = open(t, FILE).await;
    assert_eq!(
        b.config().version(),
        1,
        "the second node found the same config"
    );
    a.set("db.port", Value::Integer(1111), by("a"))
        .await
        .unwrap();
    // B has not seen version 2: its change adopts it first, then lands as version 3.
    let applied = b.set("db.host", Value::from("b"), by("b")).await.unwrap();
    assert_eq!(applied.version, 3);
    let db: Db = b.config().get("db").unwrap();
    assert_eq!((db.host.as_str(), db.port), ("b", 1111));
    let refreshed = a.refresh().await.unwrap().expect("a was behind");
    assert_eq!(refreshed.version, 3);
    assert_eq!(a.config().get::<Db>("db").unwrap().host, "b");
    assert!(a.refresh().await.unwrap().is_none());
}

#[tokio::test]
async fn a_read_only_or_closed_store_refuses_the_change_and_keeps_the_config() {
    let target = Target::sqlite();
    let Target::Sqlite { path, .. } = &target else {
        unreachable!()
    };
    open(&target, FILE).await;
    let url = StoreUrl::Sqlite {
        path: path.clone(),
        read_only: true,
    };
    let store = StoreOptions::new(url).open().await.unwrap();
    let service = ConfigService::open(config_from(FILE), &store)
        .await
        .unwrap();
    let err = service
        .set("db.port", Value::Integer(2), by("a"))
        .await
        .unwrap_err();
    assert!(err.is(ErrorCode::STORE_READ_ONLY), "{err}");
    assert_eq!(port(&service), 5432);
    assert_eq!(service.config().version(), 1);

    let store = Store::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let service = ConfigService::open(config_from(FILE), &store)
        .await
        .unwrap();
    store.close().await;
    let err = service
        .set("db.port", Value::Integer(2), by("a"))
        .await
        .unwrap_err();
    assert!(err.is(ErrorCode::STORE_UNAVAILABLE), "{err}");
    assert_eq!(port(&service), 5432);
}

async fn a_follower_adopts_other_nodes_versions(t: &Target) {
    let a = open(t, FILE).await;
    let b = Arc::new(open(t, FILE).await);
    let db: Live<Db> = b.config().live("db").unwrap();
    let mut rx = db.subscribe();
    let _follower = b.follow(Duration::from_millis(20));
    a.set("db.port", Value::Integer(2222), by("a"))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(20), rx.changed())
        .await
        .expect("b did not follow within 20 s")
        .unwrap();
    assert_eq!(db.load().port, 2222);
    assert_eq!(b.config().version(), 2);
}

#[tokio::test]
async fn stored_overrides_a_new_schema_refuses_are_dropped_with_a_version_saying_why() {
    let target = Target::sqlite();
    let store = target.options().open().await.unwrap();
    let loose = Config::load(
        Schema::new(),
        Secrets::default(),
        LayerSet::new().toml_str("app.toml", FILE),
    )
    .unwrap()
    .0
    .with_name("app");
    let service = ConfigService::open(loose, &store).await.unwrap();
    set(&service, "db.port", Value::Integer(0), "a").await;
    drop(service);

    let service = ConfigService::open(config_from(FILE), &store)
        .await
        .unwrap();
    assert_eq!(port(&service), 5432);
    assert_eq!(service.config().version(), 3);
    let v3 = service.version(3).await.unwrap();
    assert!(
        v3.reason.starts_with("stored overrides refused"),
        "{}",
        v3.reason
    );
    assert!(v3.reason.contains("db.port"), "{}", v3.reason);
    let err = service.rollback(2, by("ops")).await.unwrap_err();
    assert!(err.is(ErrorCode::INVALID_CONFIG));
    assert_eq!(port(&service), 5432);
}
