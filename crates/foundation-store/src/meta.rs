//! Store-wide key/value metadata (`foundation_meta`): small settings such as a node's identity.

use foundation_core::error::{Error, Result};

use crate::Store;
use crate::backend::Backend;
use crate::error::translate;

/// The longest metadata key accepted, in bytes.
const MAX_KEY_LEN: usize = 255;

fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(Error::invalid_input(
            "key",
            format_args!("must be 1 to {MAX_KEY_LEN} bytes, got {}", key.len()),
        ));
    }
    Ok(())
}

impl Store {
    /// The value stored under `key`; `NOT_FOUND` when there is none.
    pub async fn meta(&self, key: &str) -> Result<String> {
        check_key(key)?;
        let found: Option<String> = match &self.backend {
            Backend::Sqlite(pool) => {
                sqlx::query_scalar("SELECT value FROM foundation_meta WHERE key = ?")
                    .bind(key)
                    .fetch_optional(pool)
                    .await
            }
            Backend::Postgres(pool) => {
                sqlx::query_scalar("SELECT value FROM foundation_meta WHERE key = $1")
                    .bind(key)
                    .fetch_optional(pool)
                    .await
            }
        }
        .map_err(|e| translate(e, "read meta").with_context("key", key))?;
        found.ok_or_else(|| Error::not_found("key", key))
    }

    /// Stores `value` under `key`, replacing any previous value.
    pub async fn put_meta(&self, key: &str, value: &str) -> Result<()> {
        self.write_meta(
            key,
            value,
            "INSERT INTO foundation_meta (key, value) VALUES (?, ?) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            "INSERT INTO foundation_meta (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .await
    }

    /// Stores `value` under a new `key`; `STORE_CONFLICT` when the key already exists.
    pub async fn insert_meta(&self, key: &str, value: &str) -> Result<()> {
        self.write_meta(
            key,
            value,
            "INSERT INTO foundation_meta (key, value) VALUES (?, ?)",
            "INSERT INTO foundation_meta (key, value) VALUES ($1, $2)",
        )
        .await
    }

    async fn write_meta(
        &self,
        key: &str,
        value: &str,
        sqlite_sql: &'static str,
        postgres_sql: &'static str,
    ) -> Result<()> {
        check_key(key)?;
        match &self.backend {
            Backend::Sqlite(pool) => sqlx::query(sqlite_sql)
                .bind(key)
                .bind(value)
                .execute(pool)
                .await
                .map(drop),
            Backend::Postgres(pool) => sqlx::query(postgres_sql)
                .bind(key)
                .bind(value)
                .execute(pool)
                .await
                .map(drop),
        }
        .map_err(|e| translate(e, "write meta").with_context("key", key))
    }
}
