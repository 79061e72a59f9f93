//! Bad URLs, bad options, bad files and unreachable servers: each gets a clear, structured
//! error, quickly, and stored data is never changed.

use std::path::PathBuf;
use std::time::Duration;

use foundation_core::error::ErrorCode;
use foundation_store::{DEFAULT_URL, Store, StoreOptions, StoreUrl};

fn db_url(path: &std::path::Path, query: &str) -> String {
    format!("sqlite://{}{query}", path.display())
}

#[test]
fn malformed_and_unknown_urls_are_invalid_config_naming_url() {
    for url in [
        "",
        "foundation.db",
        "mysql://localhost/db",
        "sqlite://",
        "sqlite://x.db?mode=bogus",
        "postgres://u:secret@host:notaport/db",
    ] {
        let err = StoreUrl::parse(url).unwrap_err();
        assert_eq!(err.code(), ErrorCode::INVALID_CONFIG, "{url:?}");
        assert_eq!(err.context_value("field"), Some("url"), "{url:?}");
        assert!(
            !err.message().contains("secret"),
            "password leaked: {}",
            err.message()
        );
    }
    let err = StoreUrl::parse("mysql://localhost/db").unwrap_err();
    assert_eq!(err.context_value("scheme"), Some("mysql"));
}

#[test]
fn urls_parse_to_their_backend_and_postgres_passwords_stay_hidden() {
    assert_eq!(StoreUrl::parse(DEFAULT_URL).unwrap(), StoreUrl::default());
    assert_eq!(
        StoreUrl::parse("sqlite::memory:").unwrap(),
        StoreUrl::SqliteMemory
    );
    assert_eq!(
        StoreUrl::parse("sqlite:///var/lib/f.db?mode=ro").unwrap(),
        StoreUrl::Sqlite {
            path: PathBuf::from("/var/lib/f.db"),
            read_only: true
        }
    );
    let pg = StoreUrl::parse("postgresql://u:secret@db:5432/f").unwrap();
    assert!(matches!(pg, StoreUrl::Postgres(_)));
    assert!(!format!("{pg:?}").contains("secret"));
}

#[tokio::test]
async fn bad_options_are_invalid_config_naming_the_field() {
    let cases = [
        (
            StoreOptions::new(StoreUrl::SqliteMemory).max_connections(0),
            "max_connections",
        ),
        (
            StoreOptions::new(StoreUrl::SqliteMemory).connect_timeout(Duration::ZERO),
            "connect_timeout",
        ),
        (
            StoreOptions::new(StoreUrl::SqliteMemory).postgres_schema("Bad; DROP"),
            "postgres_schema",
        ),
    ];
    for (options, field) in cases {
        let err = options.open().await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::INVALID_CONFIG, "{field}");
        assert_eq!(err.context_value("field"), Some(field));
    }
}

#[tokio::test]
async fn in_memory_store_works() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    store.put_meta("k", "v").await.unwrap();
    assert_eq!(store.meta("k").await.unwrap(), "v");
    store.close().await;
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_corrupt_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.db");
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7 + 3) as u8).collect();
    std::fs::write(&path, &garbage).unwrap();

    let err = Store::open(&db_url(&path, "")).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::STORE_CORRUPT, "{err:?}");
    assert!(err.context_value("operation").is_some());
    assert_eq!(std::fs::read(&path).unwrap(), garbage);
}

// Tests may run as root, where chmod 0444 does not stop writes; SQLite's `mode=ro` refuses them
// for every user, so the read-only cases use it.
#[tokio::test]
async fn a_read_only_database_reads_but_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ro.db");
    let store = Store::open(&db_url(&path, "")).await.unwrap();
    store.put_meta("k", "v").await.unwrap();
    store.close().await;

    let store = Store::open(&db_url(&path, "?mode=ro")).await.unwrap();
    assert_eq!(store.meta("k").await.unwrap(), "v");
    let err = store.put_meta("k", "w").await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::STORE_READ_ONLY, "{err:?}");
    assert_eq!(store.meta("k").await.unwrap(), "v");
    store.close().await;
}

#[tokio::test]
async fn a_read_only_database_that_needs_migrating_is_refused() {
    use sqlx::Connection;

    let dir = tempfile::tempdir().unwrap();
    // An empty file: a valid SQLite database that a read-only open cannot even switch to WAL.
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let err = Store::open(&db_url(&empty, "?mode=ro")).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::STORE_READ_ONLY, "{err:?}");
    assert_eq!(std::fs::read(&empty).unwrap(), b"");

    // A WAL database some other program wrote, never migrated by Foundation.
    let foreign = dir.path().join("foreign.db");
    let mut conn = sqlx::SqliteConnection::connect(&db_url(&foreign, "?mode=rwc"))
        .await
        .unwrap();
    sqlx::raw_sql("PRAGMA journal_mode = WAL; CREATE TABLE other (x INTEGER);")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let err = Store::open(&db_url(&foreign, "?mode=ro"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::STORE_READ_ONLY, "{err:?}");
    assert_eq!(err.context_value("schema_version"), Some("0"));
}

#[tokio::test]
async fn postgres_down_is_unavailable_and_retryable() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = StoreUrl::parse(&format!("postgres://postgres:pw@127.0.0.1:{port}/test")).unwrap();
    let open = StoreOptions::new(url)
        .connect_timeout(Duration::from_secs(2))
        .open();
    // A guard against hanging, not a timing assertion.
    let err = tokio::time::timeout(Duration::from_secs(60), open)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::STORE_UNAVAILABLE, "{err:?}");
    assert!(err.is_retryable());
    assert_eq!(err.context_value("operation"), Some("open postgres"));
    assert!(err.message().contains("unreachable"), "{}", err.message());
    assert!(!err.message().contains("pw"));
}
