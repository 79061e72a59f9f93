//! Writing a query once for both backends.
//!
//! Every statement uses PostgreSQL's `$1, $2, …` placeholders, which sqlx also accepts for
//! SQLite (as numbered parameters), and only types both backends decode the same way: `i64`
//! (`INTEGER` / `BIGINT`), `String` (`TEXT`, JSON is stored as text), `Option` of those. Times
//! are `i64` milliseconds since the Unix epoch. The few places where the dialects differ
//! (taking the write lock, row locks) read them from the [`Dialect`] that [`with_pool!`] binds.

/// What differs between the two SQL dialects.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dialect {
    /// The statement that opens a write transaction: SQLite takes the database's write lock
    /// up front (`BEGIN IMMEDIATE`), so a transaction never fails to upgrade a read lock;
    /// PostgreSQL locks rows as it goes.
    pub(crate) begin_write: &'static str,
    /// Appended to a `SELECT` that picks rows to lease: PostgreSQL skips rows another
    /// transaction holds (`FOR UPDATE SKIP LOCKED`); SQLite already holds the whole database.
    pub(crate) skip_locked: &'static str,
    /// Appended to a `SELECT` that must lock the row it reads until commit. PostgreSQL takes
    /// `FOR NO KEY UPDATE`, which still lets other transactions insert rows that reference it
    /// (their foreign-key check only needs `FOR KEY SHARE`).
    pub(crate) for_update: &'static str,
    /// Whether this is PostgreSQL (for the statements only it has, such as `pg_notify`).
    pub(crate) postgres: bool,
}

/// SQLite's dialect.
pub(crate) const SQLITE: Dialect = Dialect {
    begin_write: "BEGIN IMMEDIATE",
    skip_locked: "",
    for_update: "",
    postgres: false,
};

/// PostgreSQL's dialect.
pub(crate) const POSTGRES: Dialect = Dialect {
    begin_write: "BEGIN",
    skip_locked: " FOR UPDATE SKIP LOCKED",
    for_update: " FOR NO KEY UPDATE",
    postgres: true,
};

/// Runs `$body` once per backend with `$pool` bound to that backend's sqlx pool and
/// `$dialect` to its [`Dialect`]; the body is written once and compiled for each.
///
/// ```ignore
/// let n: i64 = with_pool!(&store.backend, |pool, _dialect| {
///     sqlx::query_scalar("SELECT count(*) FROM foundation_meta").fetch_one(pool).await
/// })
/// .map_err(|e| translate(e, "count meta"))?;
/// ```
macro_rules! with_pool {
    ($backend:expr, |$pool:ident, $dialect:ident| $body:expr) => {
        match $backend {
            $crate::backend::Backend::Sqlite($pool) => {
                #[allow(unused_variables)]
                let $dialect = $crate::sql::SQLITE;
                $body
            }
            $crate::backend::Backend::Postgres($pool) => {
                #[allow(unused_variables)]
                let $dialect = $crate::sql::POSTGRES;
                $body
            }
        }
    };
}

pub(crate) use with_pool;

/// Typed column reads that work on rows of either backend, with sqlx errors translated.
pub(crate) trait Columns {
    /// An `INTEGER` / `BIGINT` column.
    fn int(&self, column: &str) -> foundation_core::error::Result<i64>;
    /// A nullable `INTEGER` / `BIGINT` column.
    fn opt_int(&self, column: &str) -> foundation_core::error::Result<Option<i64>>;
    /// A `TEXT` column.
    fn text(&self, column: &str) -> foundation_core::error::Result<String>;
    /// A nullable `TEXT` column.
    fn opt_text(&self, column: &str) -> foundation_core::error::Result<Option<String>>;
}

macro_rules! impl_columns {
    ($row:ty) => {
        impl Columns for $row {
            fn int(&self, column: &str) -> foundation_core::error::Result<i64> {
                sqlx::Row::try_get(self, column)
                    .map_err(|e| crate::error::translate(e, "read column"))
            }
            fn opt_int(&self, column: &str) -> foundation_core::error::Result<Option<i64>> {
                sqlx::Row::try_get(self, column)
                    .map_err(|e| crate::error::translate(e, "read column"))
            }
            fn text(&self, column: &str) -> foundation_core::error::Result<String> {
                sqlx::Row::try_get(self, column)
                    .map_err(|e| crate::error::translate(e, "read column"))
            }
            fn opt_text(&self, column: &str) -> foundation_core::error::Result<Option<String>> {
                sqlx::Row::try_get(self, column)
                    .map_err(|e| crate::error::translate(e, "read column"))
            }
        }
    };
}

impl_columns!(sqlx::sqlite::SqliteRow);
impl_columns!(sqlx::postgres::PgRow);
