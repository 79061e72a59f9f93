//! Translation of sqlx errors into Foundation's [`Error`] at the store boundary.
//!
//! Every sqlx error leaves this crate as an [`Error`] with a store code, an `operation` context
//! naming what was being done, and the sqlx error kept as the source (never as the type).
//! SQLite reports extended result codes, so the primary code is the low byte; PostgreSQL
//! reports SQLSTATEs.

use foundation_core::error::{Error, ErrorCode, Result};
use sqlx::error::{DatabaseError, ErrorKind};

// SQLite primary result codes (https://www.sqlite.org/rescode.html).
pub(crate) const SQLITE_BUSY: u32 = 5;
const SQLITE_LOCKED: u32 = 6;
const SQLITE_READONLY: u32 = 8;
const SQLITE_IOERR: u32 = 10;
const SQLITE_CORRUPT: u32 = 11;
const SQLITE_FULL: u32 = 13;
const SQLITE_CANTOPEN: u32 = 14;
const SQLITE_NOTADB: u32 = 26;

/// Turns a sqlx error met during `operation` into a Foundation [`Error`].
pub(crate) fn translate(err: sqlx::Error, operation: &'static str) -> Error {
    let (code, what, retryable) = match &err {
        sqlx::Error::RowNotFound => (ErrorCode::NOT_FOUND, "no such row".to_owned(), None),
        sqlx::Error::Database(db) => classify_database(db.as_ref()),
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::WorkerCrashed => (
            ErrorCode::STORE_UNAVAILABLE,
            format!("database unreachable: {err}"),
            None,
        ),
        sqlx::Error::PoolClosed => (
            ErrorCode::STORE_UNAVAILABLE,
            "the store is closed".to_owned(),
            Some(false),
        ),
        sqlx::Error::Configuration(_) => (
            ErrorCode::INVALID_CONFIG,
            "invalid store configuration".to_owned(),
            None,
        ),
        _ => (
            ErrorCode::STORE_FAILED,
            "unexpected database error".to_owned(),
            None,
        ),
    };
    let mut out =
        Error::new(code, format!("{operation}: {what}")).with_context("operation", operation);
    if let Some(retryable) = retryable {
        out = out.with_retryable(retryable);
    }
    out.with_source(err)
}

/// A compare-and-set conflict: the `subject` (`state \`k\``) `key`ed by `key_name` was
/// expected at version `expected` but `found` (read after the failed write; best effort) says
/// otherwise. Context `key_name`, `expected` and `actual`, versions as text: `none` for no
/// version, `unknown` when reading it failed.
pub(crate) fn version_conflict(
    code: ErrorCode,
    subject: String,
    key_name: &'static str,
    key: &str,
    expected: Option<u64>,
    found: Result<Option<u64>>,
) -> Error {
    let actual = match found {
        Ok(Some(version)) => version.to_string(),
        Ok(None) => "none".to_owned(),
        Err(_) => "unknown".to_owned(),
    };
    let expected = expected.map_or_else(|| "none".to_owned(), |v| v.to_string());
    Error::new(
        code,
        format!(
            "{subject} is at version {actual}, not the expected {expected}: another writer got \
             there first"
        ),
    )
    .with_context(key_name, key)
    .with_context("expected", expected)
    .with_context("actual", actual)
}

fn classify_database(db: &dyn DatabaseError) -> (ErrorCode, String, Option<bool>) {
    let message = db.message().to_owned();
    match db.kind() {
        ErrorKind::UniqueViolation | ErrorKind::ForeignKeyViolation => {
            return (ErrorCode::STORE_CONFLICT, message, None);
        }
        ErrorKind::NotNullViolation | ErrorKind::CheckViolation => {
            return (ErrorCode::INVALID_INPUT, message, None);
        }
        _ => {}
    }
    let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
    let classified = if let Ok(extended) = code.parse::<u32>() {
        sqlite_code(extended & 0xff)
    } else {
        postgres_code(&code)
    };
    match classified {
        Some((code, retryable)) => (code, message, retryable),
        None => (ErrorCode::STORE_FAILED, message, None),
    }
}

fn sqlite_code(primary: u32) -> Option<(ErrorCode, Option<bool>)> {
    Some(match primary {
        SQLITE_BUSY | SQLITE_LOCKED => (ErrorCode::STORE_UNAVAILABLE, None),
        SQLITE_CANTOPEN | SQLITE_IOERR => (ErrorCode::STORE_UNAVAILABLE, Some(false)),
        SQLITE_READONLY => (ErrorCode::STORE_READ_ONLY, None),
        SQLITE_FULL => (ErrorCode::STORE_DISK_FULL, None),
        SQLITE_CORRUPT | SQLITE_NOTADB => (ErrorCode::STORE_CORRUPT, None),
        _ => return None,
    })
}

fn postgres_code(sqlstate: &str) -> Option<(ErrorCode, Option<bool>)> {
    Some(match sqlstate {
        // Serialization failure and deadlock: the same write may succeed when retried.
        "40001" | "40P01" => (ErrorCode::STORE_CONFLICT, Some(true)),
        "25006" => (ErrorCode::STORE_READ_ONLY, None),
        "53100" => (ErrorCode::STORE_DISK_FULL, None),
        "XX001" | "XX002" => (ErrorCode::STORE_CORRUPT, None),
        // Too many connections, shutting down, cannot connect now.
        "53300" | "57P01" | "57P02" | "57P03" => (ErrorCode::STORE_UNAVAILABLE, None),
        s if s.starts_with("08") => (ErrorCode::STORE_UNAVAILABLE, None),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_primary_codes_map_to_store_codes() {
        let code = |c| sqlite_code(c).map(|(code, _)| code);
        assert_eq!(code(SQLITE_BUSY), Some(ErrorCode::STORE_UNAVAILABLE));
        assert_eq!(code(SQLITE_READONLY), Some(ErrorCode::STORE_READ_ONLY));
        assert_eq!(code(SQLITE_FULL), Some(ErrorCode::STORE_DISK_FULL));
        assert_eq!(code(SQLITE_CORRUPT), Some(ErrorCode::STORE_CORRUPT));
        assert_eq!(code(SQLITE_NOTADB), Some(ErrorCode::STORE_CORRUPT));
        assert_eq!(code(1), None, "SQLITE_ERROR stays a generic store failure");
    }

    #[test]
    fn postgres_sqlstates_map_to_store_codes() {
        let code = |s| postgres_code(s).map(|(code, _)| code);
        assert_eq!(code("53100"), Some(ErrorCode::STORE_DISK_FULL));
        assert_eq!(code("25006"), Some(ErrorCode::STORE_READ_ONLY));
        assert_eq!(code("08006"), Some(ErrorCode::STORE_UNAVAILABLE));
        assert_eq!(code("XX001"), Some(ErrorCode::STORE_CORRUPT));
        assert_eq!(
            postgres_code("40001"),
            Some((ErrorCode::STORE_CONFLICT, Some(true)))
        );
        assert_eq!(code("42601"), None);
    }

    #[test]
    fn row_not_found_is_not_found_with_the_operation() {
        let err = translate(sqlx::Error::RowNotFound, "read thing");
        assert_eq!(err.code(), ErrorCode::NOT_FOUND);
        assert_eq!(err.context_value("operation"), Some("read thing"));
        assert!(std::error::Error::source(&err).is_some());
    }
}
