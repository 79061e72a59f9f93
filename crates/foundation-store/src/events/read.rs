//! Reading events back: one stream forward or backward, everything after a position, and
//! queries by type, time range, correlation id and agent id. Every path decodes the stored
//! JSON and applies the upcasters.

use foundation_core::error::{Error, ErrorCode, Result};

use super::{Direction, EventQuery, EventStore, RecordedEvent, check_limit, check_name, to_db};
use crate::error::translate;
use crate::payload;
use crate::sql::with_pool;

/// The columns every read selects, in the order of [`Row`].
const COLUMNS: &str = "position, event_id, stream, version, event_type, schema_version, data, \
                       metadata, correlation_id, causation_id, agent_id, recorded_at";

/// One stored event row, in [`COLUMNS`] order.
type Row = (
    i64,
    String,
    String,
    i64,
    String,
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
);

/// A value bound to a dynamically built query.
enum Bind {
    Int(i64),
    Text(String),
}

impl EventStore {
    /// Reads up to `limit` events of `stream` in `direction`, starting at version `from`
    /// (inclusive): forward from `from` up, backward from `from` down. Versions start at 0;
    /// to read backward from the newest event pass `u64::MAX`. Events removed by
    /// [`truncate_stream`](EventStore::truncate_stream) are not returned; a read past either
    /// end returns what there is (possibly nothing).
    ///
    /// Errors: `NOT_FOUND` (context `stream`) when the stream was never written, or was
    /// deleted (context `deleted` = `true`); `INVALID_INPUT` for a bad stream name or a limit
    /// outside 1 to [`MAX_READ_LIMIT`](crate::MAX_READ_LIMIT).
    pub async fn read_stream(
        &self,
        stream: &str,
        direction: Direction,
        from: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        check_name("stream", stream)?;
        check_limit(limit)?;
        self.require_stream(stream).await?;
        let from = i64::try_from(from).unwrap_or(i64::MAX);
        let sql = match direction {
            Direction::Forward => format!(
                "SELECT {COLUMNS} FROM foundation_events WHERE stream = $1 AND version >= $2 \
                 ORDER BY version LIMIT $3"
            ),
            Direction::Backward => format!(
                "SELECT {COLUMNS} FROM foundation_events WHERE stream = $1 AND version <= $2 \
                 ORDER BY version DESC LIMIT $3"
            ),
        };
        self.fetch(
            &sql,
            vec![
                Bind::Text(stream.to_owned()),
                Bind::Int(from),
                Bind::Int(limit_db(limit)),
            ],
            "read stream",
        )
        .await
    }

    /// The version of `stream`'s last event, `None` when the stream was never written.
    /// Truncation keeps the version; `NOT_FOUND` (context `deleted`) when it was deleted.
    pub async fn stream_version(&self, stream: &str) -> Result<Option<u64>> {
        check_name("stream", stream)?;
        match self.stream_row(stream).await? {
            None => Ok(None),
            Some((_, deleted)) if deleted != 0 => Err(deleted_error(stream)),
            Some((version, _)) => Ok(u64::try_from(version).ok()),
        }
    }

    /// Reads up to `limit` events of every stream with a global position greater than
    /// `after`, oldest first: pass 0 to start at the beginning, or the last position you
    /// processed to continue (replay from a position). Positions of removed events are skipped.
    ///
    /// `INVALID_INPUT` for a limit outside 1 to [`MAX_READ_LIMIT`](crate::MAX_READ_LIMIT).
    pub async fn read_all(&self, after: u64, limit: usize) -> Result<Vec<RecordedEvent>> {
        check_limit(limit)?;
        let sql = format!(
            "SELECT {COLUMNS} FROM foundation_events WHERE position > $1 ORDER BY position LIMIT $2"
        );
        self.fetch(
            &sql,
            vec![
                Bind::Int(to_db("after", after)?),
                Bind::Int(limit_db(limit)),
            ],
            "read all events",
        )
        .await
    }

    /// The global position of the last event appended (0 before the first one).
    pub async fn head_position(&self) -> Result<u64> {
        let head: i64 = with_pool!(&self.store.backend, |pool, _dialect| {
            sqlx::query_scalar("SELECT position FROM foundation_event_head WHERE id = 1")
                .fetch_one(pool)
                .await
        })
        .map_err(|e| translate(e, "read event head"))?;
        Ok(u64::try_from(head).unwrap_or_default())
    }

    /// The events matching `query`, oldest first (see [`EventQuery`]).
    ///
    /// `INVALID_INPUT` naming the field for a limit outside 1 to
    /// [`MAX_READ_LIMIT`](crate::MAX_READ_LIMIT), an empty or over-long type or id, or a time
    /// range whose end is before its start.
    pub async fn query(&self, query: EventQuery) -> Result<Vec<RecordedEvent>> {
        check_limit(query.limit)?;
        let mut conditions = vec!["position > $1".to_owned()];
        let mut binds = vec![Bind::Int(to_db("after_position", query.after_position)?)];
        // Adds `column op $n` with the next placeholder number.
        let push =
            |condition: &str, bind: Bind, binds: &mut Vec<Bind>, conditions: &mut Vec<String>| {
                binds.push(bind);
                conditions.push(format!("{condition} ${}", binds.len()));
            };
        if !query.types.is_empty() {
            let mut placeholders = Vec::with_capacity(query.types.len());
            for event_type in &query.types {
                check_name("types", event_type)?;
                binds.push(Bind::Text(event_type.clone()));
                placeholders.push(format!("${}", binds.len()));
            }
            conditions.push(format!("event_type IN ({})", placeholders.join(", ")));
        }
        if let (Some(from), Some(to)) = (query.from_ms, query.to_ms) {
            if to < from {
                return Err(Error::invalid_input(
                    "time_range",
                    format_args!("ends ({to}) before it starts ({from})"),
                ));
            }
            push(
                "recorded_at >=",
                Bind::Int(from),
                &mut binds,
                &mut conditions,
            );
            push("recorded_at <", Bind::Int(to), &mut binds, &mut conditions);
        }
        if let Some(id) = query.correlation_id {
            check_name("correlation_id", &id)?;
            push(
                "correlation_id =",
                Bind::Text(id),
                &mut binds,
                &mut conditions,
            );
        }
        if let Some(id) = query.agent_id {
            check_name("agent_id", &id)?;
            push("agent_id =", Bind::Text(id), &mut binds, &mut conditions);
        }
        binds.push(Bind::Int(limit_db(query.limit)));
        let sql = format!(
            "SELECT {COLUMNS} FROM foundation_events WHERE {} ORDER BY position LIMIT ${}",
            conditions.join(" AND "),
            binds.len()
        );
        self.fetch(&sql, binds, "query events").await
    }

    /// Runs a `SELECT {COLUMNS}` with `binds`, decoding and upcasting each row.
    async fn fetch(
        &self,
        sql: &str,
        binds: Vec<Bind>,
        operation: &'static str,
    ) -> Result<Vec<RecordedEvent>> {
        let rows: Vec<Row> = with_pool!(&self.store.backend, |pool, _dialect| {
            let mut select = sqlx::query_as(sql);
            for bind in binds {
                select = match bind {
                    Bind::Int(v) => select.bind(v),
                    Bind::Text(v) => select.bind(v),
                };
            }
            select.fetch_all(pool).await
        })
        .map_err(|e| translate(e, operation))?;
        rows.into_iter()
            .map(|row| self.upcasters.apply(decode(row)?))
            .collect()
    }

    /// `NOT_FOUND` unless `stream` was written and not deleted.
    pub(super) async fn require_stream(&self, stream: &str) -> Result<i64> {
        match self.stream_row(stream).await? {
            None => Err(Error::not_found("stream", stream)),
            Some((_, deleted)) if deleted != 0 => Err(deleted_error(stream)),
            Some((version, _)) => Ok(version),
        }
    }

    /// The stream's (version, deleted) row.
    async fn stream_row(&self, stream: &str) -> Result<Option<(i64, i64)>> {
        with_pool!(&self.store.backend, |pool, _dialect| {
            sqlx::query_as(
                "SELECT version, deleted FROM foundation_event_streams WHERE stream = $1",
            )
            .bind(stream)
            .fetch_optional(pool)
            .await
        })
        .map_err(|e| translate(e, "read stream").with_context("stream", stream))
    }
}

/// The error for reading a deleted stream.
fn deleted_error(stream: &str) -> Error {
    Error::new(
        ErrorCode::NOT_FOUND,
        format!("stream \"{stream}\" was deleted"),
    )
    .with_context("stream", stream)
    .with_context("deleted", true)
}

fn limit_db(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// Turns a stored row into an event (before upcasting).
fn decode(row: Row) -> Result<RecordedEvent> {
    let (
        position,
        id,
        stream,
        version,
        event_type,
        schema_version,
        data,
        metadata,
        correlation_id,
        causation_id,
        agent_id,
        recorded_at_ms,
    ) = row;
    let corrupt = |field: &'static str| {
        Error::new(
            ErrorCode::STORE_CORRUPT,
            format!("stored event at position {position} has an out-of-range {field}"),
        )
        .with_context("position", position)
        .with_context("field", field)
    };
    Ok(RecordedEvent {
        position: u64::try_from(position).map_err(|_| corrupt("position"))?,
        id,
        stream,
        version: u64::try_from(version).map_err(|_| corrupt("version"))?,
        event_type,
        schema_version: u32::try_from(schema_version).map_err(|_| corrupt("schema_version"))?,
        data: payload::decode("data", &data)?,
        metadata: payload::decode("metadata", &metadata)?,
        correlation_id,
        causation_id,
        agent_id,
        recorded_at_ms,
    })
}
