//! Config version history (`foundation_config_versions`): every applied change of a named
//! config, stored with its version, author, time, reason, layers and diff.
//!
//! Versions of one name go 1, 2, 3, … without gaps. Appending is a single `INSERT` that adds
//! version `expected_latest + 1` only if `expected_latest` is still the newest one; the
//! primary key `(name, version)` makes two writers that expected the same latest collide, so
//! across any number of nodes exactly one of them wins and the other gets `STORE_CONFLICT`
//! with nothing written. A rollback is simply a new version whose layers are an old one's.
//!
//! Layers and diff are any JSON values; together their JSON text must fit in the store's
//! payload limit ([`StoreOptions::max_payload_bytes`](crate::StoreOptions::max_payload_bytes)).

use foundation_core::error::{Error, ErrorCode, Result};
use serde_json::Value;

use crate::error::{translate, version_conflict};
use crate::payload;
use crate::sql::with_pool;
use crate::{MAX_NAME_LEN, Store};

/// The longest author accepted, in bytes.
pub const MAX_AUTHOR_LEN: usize = 255;

/// The longest reason accepted, in bytes.
pub const MAX_REASON_LEN: usize = 4096;

/// The most versions one [`ConfigVersions::list`] call returns.
pub const MAX_VERSIONS_LIST: usize = 1_000;

/// One stored version of a config.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigVersion {
    /// The config's name.
    pub name: String,
    /// The version: 1 for the first change of this name, one more for each later one.
    pub version: u64,
    /// Who applied the change.
    pub author: String,
    /// Why it was applied.
    pub reason: String,
    /// When it was stored, in milliseconds since the Unix epoch ([`Store::now_ms`]).
    pub created_at_ms: i64,
    /// The config's layers as applied.
    pub layers: Value,
    /// What changed from the previous version.
    pub diff: Value,
}

/// What a new version records besides its name and number; see [`ConfigVersions::append`].
#[derive(Debug, Clone, Copy)]
pub struct NewConfigVersion<'a> {
    /// Who applies the change (at most [`MAX_AUTHOR_LEN`] bytes).
    pub author: &'a str,
    /// Why (at most [`MAX_REASON_LEN`] bytes).
    pub reason: &'a str,
    /// The config's layers as applied.
    pub layers: &'a Value,
    /// What changed from the previous version.
    pub diff: &'a Value,
}

/// The config version history in a [`Store`]; get one with [`Store::config_versions`]. Cheap
/// to clone.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use foundation_core::error::ErrorCode;
/// use foundation_store::{NewConfigVersion, Store};
/// use serde_json::json;
///
/// let store = Store::open("sqlite::memory:").await.unwrap();
/// let history = store.config_versions();
/// let layers = json!([{"source": "file", "values": {"port": 8080}}]);
/// let diff = json!({"port": [null, 8080]});
/// let change = |reason| NewConfigVersion {
///     author: "ops@example.com",
///     reason,
///     layers: &layers,
///     diff: &diff,
/// };
///
/// assert_eq!(history.append("app", None, change("first deploy")).await.unwrap(), 1);
/// // A writer that did not see version 1 loses, and writes nothing.
/// let err = history.append("app", None, change("stale")).await.unwrap_err();
/// assert_eq!(err.code(), ErrorCode::STORE_CONFLICT);
/// assert_eq!(history.append("app", Some(1), change("tuning")).await.unwrap(), 2);
///
/// let latest = history.latest("app").await.unwrap().unwrap();
/// assert_eq!((latest.version, latest.reason.as_str()), (2, "tuning"));
/// let newest_first = history.list("app", None, 10).await.unwrap();
/// assert_eq!(newest_first.iter().map(|v| v.version).collect::<Vec<_>>(), [2, 1]);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct ConfigVersions {
    store: Store,
}

impl Store {
    /// The config version history kept in this store.
    pub fn config_versions(&self) -> ConfigVersions {
        ConfigVersions {
            store: self.clone(),
        }
    }
}

/// A stored row: name, version, author, reason, created_at, layers, diff.
type Row = (String, i64, String, String, i64, String, String);

const COLUMNS: &str = "name, version, author, reason, created_at, layers, diff";

impl ConfigVersions {
    /// Appends version `expected_latest + 1` (1 when `expected_latest` is `None`) of `name`,
    /// if `expected_latest` is still the newest version (`None`: there is none yet), and
    /// returns it.
    ///
    /// One `INSERT`, committed (and, on SQLite, fsynced) before this returns. Errors:
    /// `STORE_CONFLICT` when another writer appended first, with context `name`, `expected`
    /// and `actual` (the newest version now, `none` for none); nothing is written.
    /// `INVALID_INPUT` naming the field (`name`, `author`, `reason`, `expected_latest`) and
    /// `STORE_PAYLOAD_TOO_LARGE` (field `layers`, `diff` or `layers_and_diff`) for bad input,
    /// also writing nothing; the store's errors (`STORE_UNAVAILABLE`, …).
    pub async fn append(
        &self,
        name: &str,
        expected_latest: Option<u64>,
        new: NewConfigVersion<'_>,
    ) -> Result<u64> {
        check_name(name)?;
        check_len("author", new.author, MAX_AUTHOR_LEN)?;
        check_len("reason", new.reason, MAX_REASON_LEN)?;
        // The next version must fit the column too, so the latest can be at most i64::MAX - 1.
        let expected = match expected_latest {
            None => 0,
            Some(v) => to_column("expected_latest", v, i64::MAX - 1)?,
        };
        let max = self.store.shared.max_payload_bytes;
        let encode = |field, value| {
            payload::encode(field, value, false, max).map_err(|e| e.with_context("name", name))
        };
        let layers = encode("layers", new.layers)?;
        let diff = encode("diff", new.diff)?;
        payload::check_size("layers_and_diff", layers.len() + diff.len(), max)
            .map_err(|e| e.with_context("name", name))?;
        let now = self.store.now_ms();
        let written = with_pool!(&self.store.backend, |pool, _d| {
            sqlx::query(
                "INSERT INTO foundation_config_versions \
                 (name, version, author, reason, created_at, layers, diff) \
                 SELECT $1, $2 + 1, $3, $4, $5, $6, $7 \
                 WHERE (SELECT COALESCE(MAX(version), 0) FROM foundation_config_versions \
                        WHERE name = $1) = $2 \
                 ON CONFLICT (name, version) DO NOTHING",
            )
            .bind(name)
            .bind(expected)
            .bind(new.author)
            .bind(new.reason)
            .bind(now)
            .bind(&layers)
            .bind(&diff)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })
        .map_err(|e| translate(e, "append config version").with_context("name", name))?;
        if written == 0 {
            return Err(self.conflict(name, expected_latest).await);
        }
        Ok(expected_latest.map_or(1, |v| v + 1))
    }

    /// The newest version of `name`; `None` when it has none.
    ///
    /// Errors: `INVALID_INPUT` (field `name`); `STORE_CORRUPT` when the stored layers or diff
    /// are not JSON; the store's errors.
    pub async fn latest(&self, name: &str) -> Result<Option<ConfigVersion>> {
        Ok(self.list(name, None, 1).await?.pop())
    }

    /// Version `version` of `name`; `None` when there is no such version.
    ///
    /// Errors: `INVALID_INPUT` (field `name`, or `version` for 0 or over `i64::MAX`);
    /// `STORE_CORRUPT` when the stored layers or diff are not JSON; the store's errors.
    pub async fn get(&self, name: &str, version: u64) -> Result<Option<ConfigVersion>> {
        check_name(name)?;
        let version = to_column("version", version, i64::MAX)?;
        let row: Option<Row> = with_pool!(&self.store.backend, |pool, _d| {
            sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM foundation_config_versions \
                 WHERE name = $1 AND version = $2"
            ))
            .bind(name)
            .bind(version)
            .fetch_optional(pool)
            .await
        })
        .map_err(|e| translate(e, "get config version").with_context("name", name))?;
        row.map(decode).transpose()
    }

    /// The versions of `name`, newest first: those strictly below `before` when given (pass
    /// the last version of one page to get the next), at most `limit` of them.
    ///
    /// Errors: `INVALID_INPUT` (field `name`, `limit` outside 1 to [`MAX_VERSIONS_LIST`], or
    /// `before` over `i64::MAX`); `STORE_CORRUPT` when stored layers or diff are not JSON; the
    /// store's errors.
    pub async fn list(
        &self,
        name: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<ConfigVersion>> {
        check_name(name)?;
        if !(1..=MAX_VERSIONS_LIST).contains(&limit) {
            return Err(Error::invalid_input(
                "limit",
                format_args!("must be 1 to {MAX_VERSIONS_LIST}, got {limit}"),
            ));
        }
        let before = before
            .map(|v| {
                i64::try_from(v).map_err(|_| {
                    Error::invalid_input(
                        "before",
                        format_args!("must be at most {}, got {v}", i64::MAX),
                    )
                })
            })
            .transpose()?;
        // At most MAX_VERSIONS_LIST, so it fits.
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<Row> = with_pool!(&self.store.backend, |pool, _d| {
            sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM foundation_config_versions \
                 WHERE name = $1 AND ($2 IS NULL OR version < $2) \
                 ORDER BY version DESC LIMIT $3"
            ))
            .bind(name)
            .bind(before)
            .bind(limit)
            .fetch_all(pool)
            .await
        })
        .map_err(|e| translate(e, "list config versions").with_context("name", name))?;
        rows.into_iter().map(decode).collect()
    }

    /// The conflict error for an append to `name` that expected `expected` as the newest
    /// version and wrote nothing, naming the newest found now (best effort: if reading it
    /// fails, `unknown`).
    async fn conflict(&self, name: &str, expected: Option<u64>) -> Error {
        let found = self.latest(name).await.map(|v| v.map(|v| v.version));
        version_conflict(
            ErrorCode::STORE_CONFLICT,
            format!("config `{name}`"),
            "name",
            name,
            expected,
            found,
        )
    }
}

fn decode(
    (name, version, author, reason, created_at_ms, layers, diff): Row,
) -> Result<ConfigVersion> {
    let with_row = |e: Error| {
        e.with_context("name", &name)
            .with_context("version", version)
    };
    let layers = payload::decode("layers", &layers).map_err(with_row)?;
    let diff = payload::decode("diff", &diff).map_err(with_row)?;
    Ok(ConfigVersion {
        // Only ever written as 1 or one more than a stored version, so positive.
        version: u64::try_from(version).unwrap_or(0),
        name,
        author,
        reason,
        created_at_ms,
        layers,
        diff,
    })
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(Error::invalid_input(
            "name",
            format_args!("must be 1 to {MAX_NAME_LEN} bytes, got {}", name.len()),
        ));
    }
    Ok(())
}

fn check_len(field: &'static str, text: &str, max: usize) -> Result<()> {
    if text.len() > max {
        return Err(Error::invalid_input(
            field,
            format_args!("must be at most {max} bytes, got {}", text.len()),
        ));
    }
    Ok(())
}

/// A version as stored (`BIGINT`), from 1 to `max`.
fn to_column(field: &'static str, version: u64, max: i64) -> Result<i64> {
    match i64::try_from(version) {
        Ok(v) if (1..=max).contains(&v) => Ok(v),
        _ => Err(Error::invalid_input(
            field,
            format_args!("must be 1 to {max}, got {version}"),
        )),
    }
}
