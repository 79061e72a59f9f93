//! Behaviour every backend shares, run on SQLite and (when configured) PostgreSQL.

use foundation_core::error::ErrorCode;
use foundation_store::on_each_backend;
use foundation_store::testing::Target;
use foundation_store::{SCHEMA_VERSION, Store};

on_each_backend!(
    open_migrates_and_data_survives_reopen,
    meta_reports_missing_conflicting_and_invalid_keys,
    newer_schema_is_refused_and_left_untouched,
    concurrent_opens_apply_each_migration_once,
    closed_store_is_unavailable_and_not_retryable,
);

async fn open_migrates_and_data_survives_reopen(t: &Target) {
    let store = t.options().open().await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), SCHEMA_VERSION);
    store.put_meta("node_id", "n-1").await.unwrap();
    store.close().await;

    let store = t.options().open().await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), SCHEMA_VERSION);
    assert_eq!(store.meta("node_id").await.unwrap(), "n-1");
    store.close().await;
    let rows = t
        .raw("SELECT CAST(COUNT(*) AS TEXT) FROM foundation_schema_version")
        .await;
    assert_eq!(rows.as_deref(), Some(SCHEMA_VERSION.to_string().as_str()));
}

async fn meta_reports_missing_conflicting_and_invalid_keys(t: &Target) {
    let store = t.options().open().await.unwrap();

    let err = store.meta("absent").await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::NOT_FOUND);
    assert_eq!(err.context_value("key"), Some("absent"));

    store.insert_meta("k", "first").await.unwrap();
    let err = store.insert_meta("k", "second").await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::STORE_CONFLICT);
    assert_eq!(err.context_value("operation"), Some("write meta"));
    assert_eq!(err.context_value("key"), Some("k"));
    assert!(
        std::error::Error::source(&err).is_some(),
        "sqlx error kept as the source"
    );
    assert_eq!(
        store.meta("k").await.unwrap(),
        "first",
        "a refused insert changes nothing"
    );

    store.put_meta("k", "replaced").await.unwrap();
    assert_eq!(store.meta("k").await.unwrap(), "replaced");

    let err = store.put_meta("", "v").await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::INVALID_INPUT);
    assert_eq!(err.context_value("field"), Some("key"));
    let err = store.meta(&"x".repeat(256)).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::INVALID_INPUT);
    store.close().await;
}

async fn newer_schema_is_refused_and_left_untouched(t: &Target) {
    let store = t.options().open().await.unwrap();
    store.put_meta("keep", "me").await.unwrap();
    store.close().await;
    t.raw("INSERT INTO foundation_schema_version (version, name) VALUES (999, 'from the future')")
        .await;

    let err = t.options().open().await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::STORE_SCHEMA_TOO_NEW);
    assert_eq!(err.context_value("schema_version"), Some("999"));
    assert!(!err.is_retryable());

    let rows = t
        .raw("SELECT CAST(COUNT(*) AS TEXT) FROM foundation_schema_version")
        .await;
    assert_eq!(
        rows.as_deref(),
        Some((SCHEMA_VERSION + 1).to_string().as_str())
    );
    let kept = t
        .raw("SELECT value FROM foundation_meta WHERE key = 'keep'")
        .await;
    assert_eq!(kept.as_deref(), Some("me"));
}

async fn concurrent_opens_apply_each_migration_once(t: &Target) {
    let (a, b, c, d) = tokio::join!(
        t.options().open(),
        t.options().open(),
        t.options().open(),
        t.options().open()
    );
    for store in [a, b, c, d] {
        let store: Store = store.unwrap();
        assert_eq!(store.schema_version().await.unwrap(), SCHEMA_VERSION);
        store.close().await;
    }
    let rows = t
        .raw("SELECT CAST(COUNT(*) AS TEXT) FROM foundation_schema_version")
        .await;
    assert_eq!(rows.as_deref(), Some(SCHEMA_VERSION.to_string().as_str()));
}

async fn closed_store_is_unavailable_and_not_retryable(t: &Target) {
    let store = t.options().open().await.unwrap();
    store.close().await;
    let err = store.put_meta("k", "v").await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::STORE_UNAVAILABLE);
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn sqlite_file_is_created_in_wal_mode() {
    let t = Target::sqlite();
    let store = t.options().open().await.unwrap();
    assert_eq!(t.raw("PRAGMA journal_mode").await.as_deref(), Some("wal"));
    store.close().await;
}
