//! Support shared by the benchmarks in `benches/`: the stores they measure.

use foundation_store::{SqliteDurability, Store, StoreOptions, StoreUrl};
use sqlx::Connection;

/// One store a benchmark runs against, and what to clean up after it.
pub struct BenchStore {
    /// The label in benchmark ids: `sqlite` (`synchronous=FULL`), `sqlite_normal`
    /// (`synchronous=NORMAL`) or `postgres`.
    pub name: &'static str,
    /// The open store.
    pub store: Store,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

/// The stores to measure: a fresh SQLite file with each durability level, and PostgreSQL (a
/// private schema) when `FOUNDATION_TEST_POSTGRES_URL` is set.
pub async fn bench_stores() -> Vec<BenchStore> {
    let mut out = Vec::new();
    for (name, durability) in [
        ("sqlite", SqliteDurability::Full),
        ("sqlite_normal", SqliteDurability::Normal),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = StoreUrl::Sqlite {
            path: dir.path().join("bench.db"),
            read_only: false,
        };
        let store = StoreOptions::new(url)
            .sqlite_durability(durability)
            .open()
            .await
            .expect("open sqlite");
        out.push(BenchStore {
            name,
            store,
            _dir: Some(dir),
            postgres: None,
        });
    }
    match std::env::var("FOUNDATION_TEST_POSTGRES_URL") {
        Ok(url) => {
            let schema = format!("fb_bench_{:016x}", rand::random::<u64>());
            let store = StoreOptions::new(StoreUrl::parse(&url).expect("postgres url"))
                .postgres_schema(schema.clone())
                .max_connections(16)
                .open()
                .await
                .expect("open postgres");
            out.push(BenchStore {
                name: "postgres",
                store,
                _dir: None,
                postgres: Some((url, schema)),
            });
        }
        Err(_) => eprintln!("FOUNDATION_TEST_POSTGRES_URL is unset: PostgreSQL is not measured"),
    }
    out
}

impl BenchStore {
    /// Closes the store and drops the PostgreSQL schema (the SQLite temp dir goes with it).
    pub async fn cleanup(self) {
        self.store.close().await;
        if let Some((url, schema)) = self.postgres {
            let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
            sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .execute(&mut conn)
                .await
                .expect("drop schema");
        }
    }
}
