//! Persistent agent state (`foundation_agent_state`): one JSON value per key, guarded by a
//! version for optimistic concurrency.
//!
//! Every write is a single compare-and-set statement: it names the version the writer last
//! saw and succeeds only if the row is still at that version, so two writers that loaded the
//! same version cannot both win; the loser gets `STATE_VERSION_CONFLICT` and nothing of its
//! write is stored. Versions start at 1 and go up by one per save.
//!
//! A state is any JSON value (an object, but also a number, an array, `null`, …), so any
//! serde type can be stored as is; its JSON text must fit in the store's payload limit
//! ([`StoreOptions::max_payload_bytes`](crate::StoreOptions::max_payload_bytes)).

use foundation_core::error::{Error, ErrorCode, Result};
use serde_json::Value;

use crate::Store;
use crate::error::{translate, version_conflict};
use crate::payload;
use crate::sql::with_pool;

/// The longest state key accepted, in bytes.
pub const MAX_STATE_KEY_LEN: usize = 255;

/// A stored state and the version it is at.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned {
    /// The version: 1 after the first save, one more after each later save.
    pub version: u64,
    /// The state as saved.
    pub state: Value,
    /// When it was saved, in milliseconds since the Unix epoch ([`Store::now_ms`]).
    pub updated_at_ms: i64,
}

/// Versioned agent state in a [`Store`]; get one with [`Store::agent_state`]. Cheap to clone.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use foundation_core::error::ErrorCode;
/// use foundation_store::Store;
/// use serde_json::json;
///
/// let store = Store::open("sqlite::memory:").await.unwrap();
/// let states = store.agent_state();
///
/// let v1 = states.save("counter/1", None, &json!({"n": 1})).await.unwrap();
/// assert_eq!(v1, 1);
/// let loaded = states.load("counter/1").await.unwrap().unwrap();
/// assert_eq!((loaded.version, loaded.state), (1, json!({"n": 1})));
///
/// // A writer that still believes the key is new loses.
/// let err = states.save("counter/1", None, &json!({"n": 7})).await.unwrap_err();
/// assert_eq!(err.code(), ErrorCode::STATE_VERSION_CONFLICT);
/// assert_eq!(states.save("counter/1", Some(v1), &json!({"n": 2})).await.unwrap(), 2);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct StateStore {
    store: Store,
}

impl Store {
    /// The agent state kept in this store.
    pub fn agent_state(&self) -> StateStore {
        StateStore {
            store: self.clone(),
        }
    }
}

impl StateStore {
    /// The state stored under `key` and its version; `None` when there is none.
    ///
    /// Errors: `INVALID_INPUT` (field `key`) for an empty key or one over
    /// [`MAX_STATE_KEY_LEN`] bytes; `STORE_CORRUPT` when the stored text is not JSON; the
    /// store's errors (`STORE_UNAVAILABLE`, …).
    pub async fn load(&self, key: &str) -> Result<Option<Versioned>> {
        check_key(key)?;
        let row: Option<(i64, String, i64)> = with_pool!(&self.store.backend, |pool, _d| {
            sqlx::query_as(
                "SELECT version, state, updated_at FROM foundation_agent_state WHERE key = $1",
            )
            .bind(key)
            .fetch_optional(pool)
            .await
        })
        .map_err(|e| translate(e, "load agent state").with_context("key", key))?;
        let Some((version, text, updated_at_ms)) = row else {
            return Ok(None);
        };
        let state = payload::decode("state", &text).map_err(|e| e.with_context("key", key))?;
        Ok(Some(Versioned {
            version: stored_version(version),
            state,
            updated_at_ms,
        }))
    }

    /// Saves `state` under `key` if the stored version is `expected_version` (`None`: no
    /// state may be stored yet) and returns the new version.
    ///
    /// One compare-and-set statement, committed (and, on SQLite, fsynced) before this
    /// returns. Errors: `STATE_VERSION_CONFLICT` when another writer got there first, with
    /// context `key`, `expected` and `actual` (`none` for no state); nothing is written.
    /// `INVALID_INPUT` (field `key` or `expected_version`) and `STORE_PAYLOAD_TOO_LARGE`
    /// (field `state`) for bad input, also writing nothing; the store's errors.
    pub async fn save(
        &self,
        key: &str,
        expected_version: Option<u64>,
        state: &Value,
    ) -> Result<u64> {
        check_key(key)?;
        let expected = expected_version.map(to_column).transpose()?;
        let text = payload::encode("state", state, false, self.store.shared.max_payload_bytes)
            .map_err(|e| e.with_context("key", key))?;
        let now = self.store.now_ms();
        let written = with_pool!(&self.store.backend, |pool, _d| {
            match expected {
                None => {
                    sqlx::query(
                        "INSERT INTO foundation_agent_state (key, version, state, updated_at) \
                         VALUES ($1, 1, $2, $3) ON CONFLICT (key) DO NOTHING",
                    )
                    .bind(key)
                    .bind(&text)
                    .bind(now)
                    .execute(pool)
                    .await
                }
                Some(expected) => {
                    sqlx::query(
                        "UPDATE foundation_agent_state \
                         SET version = version + 1, state = $3, updated_at = $4 \
                         WHERE key = $1 AND version = $2",
                    )
                    .bind(key)
                    .bind(expected)
                    .bind(&text)
                    .bind(now)
                    .execute(pool)
                    .await
                }
            }
            .map(|done| done.rows_affected())
        })
        .map_err(|e| translate(e, "save agent state").with_context("key", key))?;
        if written == 0 {
            return Err(self.conflict(key, expected_version).await);
        }
        Ok(expected_version.map_or(1, |v| v + 1))
    }

    /// Deletes the state under `key` if it is at `expected_version`.
    ///
    /// Errors: `STATE_VERSION_CONFLICT` (context `key`, `expected`, `actual`) when it is at
    /// another version or absent; `INVALID_INPUT` for a bad key or version; the store's errors.
    pub async fn delete(&self, key: &str, expected_version: u64) -> Result<()> {
        check_key(key)?;
        let expected = to_column(expected_version)?;
        let deleted = with_pool!(&self.store.backend, |pool, _d| {
            sqlx::query("DELETE FROM foundation_agent_state WHERE key = $1 AND version = $2")
                .bind(key)
                .bind(expected)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })
        .map_err(|e| translate(e, "delete agent state").with_context("key", key))?;
        if deleted == 0 {
            return Err(self.conflict(key, Some(expected_version)).await);
        }
        Ok(())
    }

    /// The keys that start with `prefix` (all keys for `""`), in the database's text order.
    pub async fn keys(&self, prefix: &str) -> Result<Vec<String>> {
        if prefix.len() > MAX_STATE_KEY_LEN {
            return Err(Error::invalid_input(
                "prefix",
                format_args!(
                    "must be at most {MAX_STATE_KEY_LEN} bytes, got {}",
                    prefix.len()
                ),
            ));
        }
        with_pool!(&self.store.backend, |pool, _d| {
            sqlx::query_scalar(
                "SELECT key FROM foundation_agent_state \
                 WHERE substr(key, 1, length($1)) = $1 ORDER BY key",
            )
            .bind(prefix)
            .fetch_all(pool)
            .await
        })
        .map_err(|e| translate(e, "list agent state keys").with_context("prefix", prefix))
    }

    /// The conflict error for a write to `key` that expected `expected` and changed nothing,
    /// naming the version found now (best effort: if reading it fails, `unknown`).
    async fn conflict(&self, key: &str, expected: Option<u64>) -> Error {
        let found = self.load(key).await.map(|v| v.map(|v| v.version));
        version_conflict(
            ErrorCode::STATE_VERSION_CONFLICT,
            format!("state `{key}`"),
            "key",
            key,
            expected,
            found,
        )
    }
}

fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > MAX_STATE_KEY_LEN {
        return Err(Error::invalid_input(
            "key",
            format_args!("must be 1 to {MAX_STATE_KEY_LEN} bytes, got {}", key.len()),
        ));
    }
    Ok(())
}

/// A version as stored (`BIGINT`); larger than any version a save can produce is refused.
fn to_column(version: u64) -> Result<i64> {
    i64::try_from(version).map_err(|_| {
        Error::invalid_input(
            "expected_version",
            format_args!("must be at most {}, got {version}", i64::MAX),
        )
    })
}

/// A stored version (only ever written as 1 or one more than a stored one, so positive).
fn stored_version(version: i64) -> u64 {
    u64::try_from(version).unwrap_or(0)
}
