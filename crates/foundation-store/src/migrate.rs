//! Versioned schema migrations, one list per backend, applied when a store opens.
//!
//! Each migration is an SQL file embedded at build time
//! (`migrations/{sqlite,postgres}/NNNN_name.sql`). The versions applied are recorded in
//! `foundation_schema_version`. Opening:
//!
//! 1. reads the recorded version without taking any lock; if it equals [`SCHEMA_VERSION`] the
//!    store is ready (a read-only database opens this way);
//! 2. if it is newer than this build knows, refuses with `STORE_SCHEMA_TOO_NEW` and writes
//!    nothing;
//! 3. otherwise takes the write lock (SQLite `BEGIN IMMEDIATE`; PostgreSQL a transaction holding
//!    an advisory lock, so concurrent opens from several nodes apply each migration once),
//!    reads the version again and applies the missing migrations in that one transaction.

use foundation_core::error::{Error, ErrorCode, Result};

use crate::backend::Backend;
use crate::error::translate;

struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

/// Both backends' migration lists from one table of `(version, name, file stem)`: each
/// backend has its own SQL file per migration under `migrations/{sqlite,postgres}/`.
macro_rules! migrations {
    ($($version:literal $name:literal $file:literal),* $(,)?) => {
        const SQLITE: &[Migration] = &[$(Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../migrations/sqlite/", $file, ".sql")),
        }),*];
        const POSTGRES: &[Migration] = &[$(Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../migrations/postgres/", $file, ".sql")),
        }),*];
    };
}

migrations! {
    1 "base" "0001_base",
    2 "queue" "0002_queue",
    3 "events" "0003_events",
    4 "agent_state" "0004_agent_state",
    5 "config_versions" "0005_config_versions",
}

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: u32 = 5;

/// Brings the schema up to [`SCHEMA_VERSION`]; see the module docs.
pub(crate) async fn migrate(
    backend: &Backend,
    read_only: bool,
    postgres_schema: Option<&str>,
) -> Result<()> {
    let current = current_version(backend).await?;
    if check(current)? {
        return Ok(());
    }
    if read_only {
        return Err(Error::new(
            ErrorCode::STORE_READ_ONLY,
            format!(
                "database is at schema version {current} and needs version {SCHEMA_VERSION}, \
                 but it was opened read-only"
            ),
        )
        .with_context("schema_version", current));
    }
    match backend {
        Backend::Sqlite(pool) => {
            let mut tx = pool
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map_err(|e| translate(e, "begin migration"))?;
            let current = sqlite_version(&mut tx).await?;
            apply::<sqlx::Sqlite>(
                &mut tx,
                SQLITE,
                current,
                "INSERT INTO foundation_schema_version (version, name) VALUES (?, ?)",
            )
            .await?;
            tx.commit()
                .await
                .map_err(|e| translate(e, "commit migration"))
        }
        Backend::Postgres(pool) => {
            let mut tx = pool
                .begin()
                .await
                .map_err(|e| translate(e, "begin migration"))?;
            let schema = postgres_schema.unwrap_or("");
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                .bind(format!("foundation-store migrate {schema}"))
                .execute(&mut *tx)
                .await
                .map_err(|e| translate(e, "lock migration"))?;
            if !schema.is_empty() {
                sqlx::raw_sql(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| translate(e, "create schema"))?;
            }
            let current = postgres_version(&mut tx).await?;
            apply::<sqlx::Postgres>(
                &mut tx,
                POSTGRES,
                current,
                "INSERT INTO foundation_schema_version (version, name) VALUES ($1, $2)",
            )
            .await?;
            tx.commit()
                .await
                .map_err(|e| translate(e, "commit migration"))
        }
    }
}

/// Applies the migrations of `list` newer than `current` on `conn` (inside the caller's
/// transaction), recording each with `record` (an insert of version and name).
async fn apply<DB: sqlx::Database>(
    conn: &mut DB::Connection,
    list: &[Migration],
    current: i64,
    record: &'static str,
) -> Result<()>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    if check(current)? {
        return Ok(());
    }
    for m in list.iter().filter(|m| m.version > current) {
        sqlx::raw_sql(m.sql)
            .execute(&mut *conn)
            .await
            .map_err(|e| translate(e, "apply migration").with_context("version", m.version))?;
        sqlx::query(record)
            .bind(m.version)
            .bind(m.name.to_owned())
            .execute(&mut *conn)
            .await
            .map_err(|e| translate(e, "record migration"))?;
    }
    Ok(())
}

/// `Ok(true)` when `current` is up to date, `Ok(false)` when migrations are due, an error when
/// the database is newer than this build.
fn check(current: i64) -> Result<bool> {
    let known = i64::from(SCHEMA_VERSION);
    if current > known {
        return Err(Error::new(
            ErrorCode::STORE_SCHEMA_TOO_NEW,
            format!(
                "database schema version {current} is newer than this build supports \
                 ({SCHEMA_VERSION}); upgrade Foundation, the database was not changed"
            ),
        )
        .with_context("schema_version", current)
        .with_context("supported_version", SCHEMA_VERSION));
    }
    Ok(current == known)
}

/// The recorded schema version; 0 for a database never migrated.
pub(crate) async fn current_version(backend: &Backend) -> Result<i64> {
    match backend {
        Backend::Sqlite(pool) => {
            let mut conn = pool
                .acquire()
                .await
                .map_err(|e| translate(e, "read schema version"))?;
            sqlite_version(&mut conn).await
        }
        Backend::Postgres(pool) => {
            let mut conn = pool
                .acquire()
                .await
                .map_err(|e| translate(e, "read schema version"))?;
            postgres_version(&mut conn).await
        }
    }
}

async fn sqlite_version(conn: &mut sqlx::SqliteConnection) -> Result<i64> {
    let exists: Option<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'foundation_schema_version'",
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| translate(e, "read schema version"))?;
    if exists.is_none() {
        return Ok(0);
    }
    sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM foundation_schema_version")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| translate(e, "read schema version"))
}

async fn postgres_version(conn: &mut sqlx::PgConnection) -> Result<i64> {
    let exists: Option<String> =
        sqlx::query_scalar("SELECT to_regclass('foundation_schema_version')::text")
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| translate(e, "read schema version"))?;
    if exists.is_none() {
        return Ok(0);
    }
    sqlx::query_scalar("SELECT COALESCE(MAX(version), 0)::BIGINT FROM foundation_schema_version")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| translate(e, "read schema version"))
}
