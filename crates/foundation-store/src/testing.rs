//! Test support (feature `testing`): run one test body against every backend.
//!
//! [`Target`] is a fresh database: an SQLite file in its own temp directory, always, and a
//! private schema on the PostgreSQL server named by `FOUNDATION_TEST_POSTGRES_URL`, when that
//! is set (otherwise the PostgreSQL half says it is skipped and passes).
//! [`on_each_backend!`](crate::on_each_backend) turns `async fn NAME(&Target)` bodies into a
//! `sqlite::NAME` and a `postgres::NAME` test each.

use std::path::PathBuf;

use sqlx::Connection;

use crate::{StoreOptions, StoreUrl};

/// The environment variable naming the PostgreSQL server tests may use.
pub const POSTGRES_ENV: &str = "FOUNDATION_TEST_POSTGRES_URL";

/// One fresh database a test runs against.
pub enum Target {
    /// A fresh SQLite file in its own temp directory (removed with the value).
    Sqlite {
        /// The directory holding the file.
        dir: tempfile::TempDir,
        /// The database file.
        path: PathBuf,
    },
    /// A fresh schema on the PostgreSQL server, dropped by [`Target::cleanup`].
    Postgres {
        /// The server's URL.
        url: String,
        /// The private schema.
        schema: String,
    },
}

impl Target {
    /// A fresh SQLite file.
    pub fn sqlite() -> Target {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("store.db");
        Target::Sqlite { dir, path }
    }

    /// A fresh PostgreSQL schema; `None` (after saying so) when no server is configured.
    pub fn postgres() -> Option<Target> {
        let Ok(url) = std::env::var(POSTGRES_ENV) else {
            eprintln!("{POSTGRES_ENV} is unset: the PostgreSQL half of this test is skipped");
            return None;
        };
        let schema = format!("fs_test_{:016x}", rand::random::<u64>());
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

    /// The store URL and PostgreSQL schema another process needs to open this target.
    pub fn url_and_schema(&self) -> (String, Option<&str>) {
        match self {
            Target::Sqlite { path, .. } => (format!("sqlite://{}", path.display()), None),
            Target::Postgres { url, schema } => (url.clone(), Some(schema.as_str())),
        }
    }

    /// Runs `sql` directly on the database (as another program would) and returns the first
    /// column of the first row, if any, as text.
    pub async fn raw(&self, sql: &str) -> Option<String> {
        self.raw_strings(sql).await.into_iter().next()
    }

    /// Runs `sql` directly on the database and returns the first column of every row as text.
    pub async fn raw_strings(&self, sql: &str) -> Vec<String> {
        match self {
            Target::Sqlite { path, .. } => {
                let url = format!("sqlite://{}", path.display());
                let mut conn = sqlx::SqliteConnection::connect(&url)
                    .await
                    .expect("raw connect");
                let out = sqlx::query_scalar(sql)
                    .fetch_all(&mut conn)
                    .await
                    .expect("raw sql");
                conn.close().await.expect("raw close");
                out
            }
            Target::Postgres { url, schema } => {
                let mut conn = sqlx::PgConnection::connect(url).await.expect("raw connect");
                sqlx::raw_sql(&format!("SET search_path TO {schema}"))
                    .execute(&mut conn)
                    .await
                    .expect("search_path");
                let out = sqlx::query_scalar(sql)
                    .fetch_all(&mut conn)
                    .await
                    .expect("raw sql");
                conn.close().await.expect("raw close");
                out
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

/// Generates, for each named `async fn NAME(&Target)` in scope, a test `sqlite::NAME` and a
/// test `postgres::NAME` (which passes, saying so, when no PostgreSQL server is configured).
#[macro_export]
macro_rules! on_each_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let target = $crate::testing::Target::sqlite();
                    super::$name(&target).await;
                    target.cleanup().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(target) = $crate::testing::Target::postgres() else {
                        return;
                    };
                    super::$name(&target).await;
                    target.cleanup().await;
                }
            )*
        }
    };
}

/// The environment variables a crash-test child reads: the store URL, the PostgreSQL schema
/// (when there is one) and the number to start counting from.
pub const CHILD_URL_ENV: &str = "FOUNDATION_CRASH_CHILD_URL";
/// See [`CHILD_URL_ENV`].
pub const CHILD_SCHEMA_ENV: &str = "FOUNDATION_CRASH_CHILD_SCHEMA";
/// See [`CHILD_URL_ENV`].
pub const CHILD_START_ENV: &str = "FOUNDATION_CRASH_CHILD_START";

/// What a crash-test child was started with, read from its environment; `None` outside a
/// child (so the ignored child test does nothing when run by hand).
pub fn child_args() -> Option<(String, Option<String>, u64)> {
    let url = std::env::var(CHILD_URL_ENV).ok()?;
    let schema = std::env::var(CHILD_SCHEMA_ENV).ok();
    let start = std::env::var(CHILD_START_ENV).ok()?.parse().ok()?;
    Some((url, schema, start))
}

/// Runs `body` with the child's store options and starting number on a current-thread
/// runtime, when this process is a crash-test child; returns at once otherwise (so the ignored
/// child test does nothing when run by hand).
pub fn run_child<F, Fut>(body: F)
where
    F: FnOnce(StoreOptions, u64) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Some((url, schema, start)) = child_args() else {
        return;
    };
    let mut options = StoreOptions::new(StoreUrl::parse(&url).expect("child store url"));
    if let Some(schema) = schema {
        options = options.postgres_schema(schema);
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("child runtime")
        .block_on(body(options, start));
}

/// Runs the ignored test `child` of the current test binary as a child process `rounds`
/// times against `target`, each time from the number after the last one it acknowledged
/// (lines `ACK n` on its stdout), and `kill -9`s it after a random 10 to 99 acknowledgements.
/// Returns one past the highest acknowledged number.
pub fn kill_child_repeatedly(child: &str, target: &Target, rounds: usize) -> u64 {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let (url, schema) = target.url_and_schema();
    let mut next = 0u64;
    for _ in 0..rounds {
        let mut command = Command::new(std::env::current_exe().expect("test binary"));
        command
            .args(["--exact", child, "--ignored", "--nocapture"])
            .env(CHILD_URL_ENV, &url)
            .env(CHILD_START_ENV, next.to_string())
            .env_remove(CHILD_SCHEMA_ENV)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(schema) = schema {
            command.env(CHILD_SCHEMA_ENV, schema);
        }
        let mut process = command.spawn().expect("start child");
        let kill_after = 10 + rand::random::<u64>() % 90;
        let mut acked = 0;
        let stdout = BufReader::new(process.stdout.take().expect("stdout"));
        for line in stdout.lines() {
            let line = line.expect("child output");
            if let Some(n) = line.strip_prefix("ACK ") {
                next = n.parse::<u64>().expect("ACK n") + 1;
                acked += 1;
                if acked == kill_after {
                    break;
                }
            }
        }
        assert_eq!(acked, kill_after, "the child stopped acknowledging early");
        process.kill().expect("kill -9 the child"); // SIGKILL: no destructors, no flushing.
        process.wait().expect("reap the child");
    }
    next
}
