//! The two connection pools behind a [`Store`](crate::Store) and how each is opened.
//!
//! SQLite is one file in WAL mode. By default ([`SqliteDurability::Full`], `synchronous=FULL`)
//! every commit is fsynced to the WAL before it is acknowledged, so a write the caller was told
//! succeeded survives power loss. [`SqliteDurability::Normal`] (`synchronous=NORMAL`) syncs only
//! at checkpoints: an acknowledged write still survives the process being killed (`kill -9`:
//! the commit is in the operating system's page cache), but a power loss or kernel crash may
//! lose the last commits — never corrupt the file. It trades that for commits that do not wait
//! for the disk (on this project's CI disk an fsync alone takes milliseconds at p99).
//! `busy_timeout` lets a writer wait for another instead of failing at once, and foreign keys are
//! enforced. PostgreSQL is a pool whose connect timeout bounds how long opening may take when the
//! server is down.

use std::time::Duration;

use foundation_core::error::{Error, Result};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Executor};
use std::str::FromStr;

use crate::error::{SQLITE_BUSY, translate};
use crate::{StoreOptions, StoreUrl};

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// An embedded SQLite file (or in-memory database).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// What an acknowledged SQLite write survives. `Full` fsyncs every commit to the WAL before
/// it is acknowledged; `Normal` syncs only at checkpoints, so an acknowledged write survives
/// `kill -9` (it is in the operating system's page cache) but a power loss may lose the last
/// commits — never corrupt the file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum SqliteDurability {
    /// `synchronous=FULL`: each commit waits for the disk; survives power loss. The default.
    #[default]
    Full,
    /// `synchronous=NORMAL`: survives the process dying (`kill -9`), not a power loss or
    /// kernel crash, which may lose the last commits (the file stays consistent).
    Normal,
}

/// An open pool of one backend.
#[derive(Debug, Clone)]
pub(crate) enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Backend {
    pub(crate) fn kind(&self) -> BackendKind {
        match self {
            Backend::Sqlite(_) => BackendKind::Sqlite,
            Backend::Postgres(_) => BackendKind::Postgres,
        }
    }

    pub(crate) async fn connect(options: &StoreOptions) -> Result<Backend> {
        match &options.url {
            StoreUrl::Sqlite { path, read_only } => {
                let connect = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(!read_only)
                    .read_only(*read_only);
                open_sqlite(connect, options, options.max_connections).await
            }
            // One connection that never idles out: the memory database lives as long as it does.
            StoreUrl::SqliteMemory => {
                let connect = SqliteConnectOptions::from_str("sqlite::memory:")
                    .map_err(|e| translate(e, "open sqlite"))?;
                open_sqlite(connect, options, 1).await
            }
            StoreUrl::Postgres(url) => open_postgres(url, options).await,
        }
    }

    pub(crate) async fn close(&self) {
        match self {
            Backend::Sqlite(pool) => pool.close().await,
            Backend::Postgres(pool) => pool.close().await,
        }
    }
}

async fn open_sqlite(
    connect: SqliteConnectOptions,
    options: &StoreOptions,
    max_connections: u32,
) -> Result<Backend> {
    let connect = connect
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(match options.sqlite_durability {
            SqliteDurability::Full => SqliteSynchronous::Full,
            SqliteDurability::Normal => SqliteSynchronous::Normal,
        })
        .busy_timeout(options.busy_timeout)
        .foreign_keys(true)
        .disable_statement_logging();
    // Switching a new file to WAL needs an exclusive lock that SQLite's busy timeout does not
    // wait for, so two processes creating the same database at once can see SQLITE_BUSY here;
    // wait for the other as the busy timeout promises (WAL is permanent once set).
    let deadline = tokio::time::Instant::now() + options.busy_timeout;
    let mut pause = Duration::from_millis(2);
    loop {
        let opened = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .min_connections(u32::from(max_connections == 1))
            .idle_timeout(None::<Duration>)
            .max_lifetime(None::<Duration>)
            .acquire_timeout(options.connect_timeout)
            .connect_with(connect.clone())
            .await;
        match opened {
            Ok(pool) => return Ok(Backend::Sqlite(pool)),
            Err(e) if is_busy(&e) && tokio::time::Instant::now() + pause < deadline => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            Err(e) => return Err(translate(e, "open sqlite")),
        }
    }
}

/// Whether SQLite answered `SQLITE_BUSY` (another connection holds the lock).
fn is_busy(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|db| db.code())
        .and_then(|code| code.parse::<u32>().ok())
        .is_some_and(|code| code & 0xff == SQLITE_BUSY)
}

async fn open_postgres(url: &str, options: &StoreOptions) -> Result<Backend> {
    let connect = PgConnectOptions::from_str(url)
        .map_err(|_| Error::invalid_config("url", "not a valid postgres:// URL"))?
        .disable_statement_logging();
    let schema = options.postgres_schema.clone();
    let pool = PgPoolOptions::new()
        .max_connections(options.max_connections)
        .acquire_timeout(options.connect_timeout)
        .after_connect(move |conn, _meta| {
            let schema = schema.clone();
            Box::pin(async move {
                if let Some(schema) = schema {
                    // The name was checked to be a plain identifier, so quoting is enough.
                    conn.execute(format!("SET search_path TO \"{schema}\"").as_str())
                        .await?;
                }
                Ok(())
            })
        })
        .connect_with(connect)
        .await
        .map_err(|e| translate(e, "open postgres"))?;
    Ok(Backend::Postgres(pool))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn synchronous(durability: Option<SqliteDurability>) -> i64 {
        let dir = tempfile::tempdir().unwrap();
        let url = StoreUrl::Sqlite {
            path: dir.path().join("d.db"),
            read_only: false,
        };
        let mut options = StoreOptions::new(url);
        if let Some(durability) = durability {
            options = options.sqlite_durability(durability);
        }
        let Backend::Sqlite(pool) = Backend::connect(&options).await.unwrap() else {
            unreachable!("an sqlite url opens sqlite")
        };
        let level = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        level
    }

    #[tokio::test]
    async fn durability_sets_the_sqlite_sync_level() {
        // SQLite's levels: 1 = NORMAL, 2 = FULL.
        assert_eq!(synchronous(None).await, 2, "FULL is the default");
        assert_eq!(synchronous(Some(SqliteDurability::Full)).await, 2);
        assert_eq!(synchronous(Some(SqliteDurability::Normal)).await, 1);
    }
}
