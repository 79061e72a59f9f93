//! Where a store lives: [`StoreUrl`], parsed from `sqlite://…`, `sqlite::memory:` or
//! `postgres://…`.
//!
//! Parsing checks the shape only; nothing is opened. Every malformed or unknown URL is an
//! `INVALID_CONFIG` error whose `field` context is `url`. A PostgreSQL URL may carry a password,
//! so neither `Debug` nor error messages ever print it.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use foundation_core::error::{Error, Result};
use sqlx::postgres::PgConnectOptions;

/// The default store: an SQLite file in the working directory.
pub const DEFAULT_URL: &str = "sqlite://./foundation.db";

/// A parsed store location.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// An SQLite database file; created if missing unless `read_only`.
    Sqlite {
        /// Path of the database file.
        path: PathBuf,
        /// Opened with `?mode=ro`: reads only, nothing is created or migrated.
        read_only: bool,
    },
    /// A private in-memory SQLite database, gone when the store closes.
    SqliteMemory,
    /// A PostgreSQL server (`postgres://` or `postgresql://`).
    Postgres(String),
}

impl StoreUrl {
    /// Parses a store URL.
    ///
    /// Accepted: `sqlite://PATH` with an optional `?mode=ro` or `?mode=rwc` (the default),
    /// `sqlite::memory:`, and `postgres://…` / `postgresql://…` in libpq URL form.
    pub fn parse(url: &str) -> Result<StoreUrl> {
        let url = url.trim();
        if url == "sqlite::memory:" {
            return Ok(StoreUrl::SqliteMemory);
        }
        if let Some(rest) = url.strip_prefix("sqlite://") {
            return parse_sqlite(rest);
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // The parser's message can quote the URL, password included: keep only the fact.
            PgConnectOptions::from_str(url).map_err(|_| {
                Error::invalid_config("url", "not a valid postgres:// URL")
                    .with_context("scheme", "postgres")
            })?;
            return Ok(StoreUrl::Postgres(url.to_owned()));
        }
        let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
        Err(Error::invalid_config(
            "url",
            format_args!(
                "unknown scheme \"{scheme}\"; expected sqlite://PATH, sqlite::memory: or postgres://…"
            ),
        )
        .with_context("scheme", scheme))
    }
}

fn parse_sqlite(rest: &str) -> Result<StoreUrl> {
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() {
        return Err(Error::invalid_config(
            "url",
            "sqlite:// URL has no file path",
        ));
    }
    let read_only = match query {
        "" | "mode=rwc" => false,
        "mode=ro" => true,
        other => {
            return Err(Error::invalid_config(
                "url",
                format_args!("unsupported sqlite option \"{other}\"; expected mode=ro or mode=rwc"),
            ));
        }
    };
    Ok(StoreUrl::Sqlite {
        path: PathBuf::from(path),
        read_only,
    })
}

impl Default for StoreUrl {
    fn default() -> StoreUrl {
        StoreUrl::Sqlite {
            path: PathBuf::from("./foundation.db"),
            read_only: false,
        }
    }
}

impl FromStr for StoreUrl {
    type Err = Error;

    fn from_str(s: &str) -> Result<StoreUrl> {
        StoreUrl::parse(s)
    }
}

impl fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreUrl::Sqlite { path, read_only } => f
                .debug_struct("Sqlite")
                .field("path", path)
                .field("read_only", read_only)
                .finish(),
            StoreUrl::SqliteMemory => f.write_str("SqliteMemory"),
            StoreUrl::Postgres(_) => f.write_str("Postgres(<redacted>)"),
        }
    }
}
