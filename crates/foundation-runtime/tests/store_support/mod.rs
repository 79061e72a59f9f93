//! Stores for the tests of persistent agents and queue workers: SQLite (a temp file) always,
//! PostgreSQL (a private schema) when `FOUNDATION_TEST_POSTGRES_URL` is set.

#![allow(dead_code)] // Each test binary uses its own part of this.

use std::hash::{BuildHasher, RandomState};
use std::path::PathBuf;

use foundation_store::{StoreOptions, StoreUrl};
use sqlx::Connection;

/// The environment variable naming the PostgreSQL server the tests may use.
pub const POSTGRES_ENV: &str = "FOUNDATION_TEST_POSTGRES_URL";

/// One backend a test runs against.
pub enum Target {
    /// A fresh SQLite file in its own temp directory.
    Sqlite {
        _dir: tempfile::TempDir,
        path: PathBuf,
    },
    /// A fresh schema on the PostgreSQL server, dropped by [`Target::cleanup`].
    Postgres { url: String, schema: String },
}

/// A random 64-bit number (for schema names and random test points).
pub fn random_u64() -> u64 {
    RandomState::new().hash_one(std::time::SystemTime::now())
}

impl Target {
    pub fn sqlite() -> Target {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("store.db");
        Target::Sqlite { _dir: dir, path }
    }

    /// `None` (after saying so) when no PostgreSQL server is configured.
    pub fn postgres() -> Option<Target> {
        let Ok(url) = std::env::var(POSTGRES_ENV) else {
            eprintln!("{POSTGRES_ENV} is unset: the PostgreSQL half of this test is skipped");
            return None;
        };
        let schema = format!("fr_test_{:016x}", random_u64());
        Some(Target::Postgres { url, schema })
    }

    /// Options opening this target's database.
    pub fn options(&self) -> StoreOptions {
        match self {
            Target::Sqlite { path, .. } => StoreOptions::new(StoreUrl::Sqlite {
                path: path.clone(),
                read_only: false,
            }),
            Target::Postgres { url, schema } => {
                StoreOptions::new(StoreUrl::parse(url).expect("postgres url"))
                    .postgres_schema(schema.clone())
            }
        }
    }

    /// The store URL and PostgreSQL schema a child process needs to open this target.
    pub fn url_and_schema(&self) -> (String, Option<&str>) {
        match self {
            Target::Sqlite { path, .. } => (format!("sqlite://{}", path.display()), None),
            Target::Postgres { url, schema } => (url.clone(), Some(schema.as_str())),
        }
    }

    /// Runs `sql` directly on the database (as another program would) and returns the first
    /// column of every row as text.
    pub async fn raw_strings(&self, sql: &str) -> Vec<String> {
        match self {
            Target::Sqlite { path, .. } => {
                let url = format!("sqlite://{}", path.display());
                let mut conn = sqlx::SqliteConnection::connect(&url)
                    .await
                    .expect("connect");
                sqlx::query_scalar(sql)
                    .fetch_all(&mut conn)
                    .await
                    .expect("raw sql")
            }
            Target::Postgres { url, schema } => {
                let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
                sqlx::raw_sql(&format!("SET search_path TO {schema}"))
                    .execute(&mut conn)
                    .await
                    .expect("search_path");
                sqlx::query_scalar(sql)
                    .fetch_all(&mut conn)
                    .await
                    .expect("raw sql")
            }
        }
    }

    /// Drops the PostgreSQL schema; the SQLite temp dir goes with the value.
    pub async fn cleanup(self) {
        if let Target::Postgres { url, schema } = &self {
            let mut conn = sqlx::PgConnection::connect(url).await.expect("raw connect");
            sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .execute(&mut conn)
                .await
                .expect("drop schema");
        }
    }
}

/// Generates, for each named `async fn NAME(&Target)` in the calling file, a test
/// `sqlite::NAME` and a test `postgres::NAME`.
#[macro_export]
macro_rules! on_each_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let target = $crate::store_support::Target::sqlite();
                    super::$name(&target).await;
                    target.cleanup().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(target) = $crate::store_support::Target::postgres() else {
                        return;
                    };
                    super::$name(&target).await;
                    target.cleanup().await;
                }
            )*
        }
    };
}
