//! Appending events: validation, the expected-version check and gapless position assignment,
//! all in one write transaction.

use std::collections::HashSet;
use std::fmt::Write as _;

use foundation_core::error::{Error, ErrorCode, Result};

use super::{
    AppendResult, EventStore, ExpectedVersion, MAX_READ_LIMIT, NewEvent, TOPIC, check_name,
};
use crate::error::translate;
use crate::payload;
use crate::signal::CHANNEL;
use crate::sql::with_pool;

const OPERATION: &str = "append events";

/// Events per `INSERT` statement (12 parameters each, well under both backends' limits).
const INSERT_CHUNK: usize = 500;

/// An event checked and encoded for storage.
struct Encoded {
    id: String,
    event_type: String,
    schema_version: i64,
    data: String,
    metadata: String,
    correlation_id: Option<String>,
    causation_id: Option<String>,
    agent_id: Option<String>,
}

/// Checks one event and encodes its JSON; `max_bytes` bounds data and metadata separately.
fn encode(event: NewEvent, max_bytes: usize) -> Result<Encoded> {
    check_name("event_type", &event.event_type)?;
    if event.schema_version == 0 {
        return Err(Error::invalid_input(
            "schema_version",
            "must be at least 1, got 0",
        ));
    }
    let data = payload::encode("data", &event.data, true, max_bytes)?;
    let metadata = payload::encode("metadata", &event.metadata, true, max_bytes)?;
    let id = match event.id {
        Some(id) => {
            check_name("id", &id)?;
            id
        }
        None => format!("{:032x}", rand::random::<u128>()),
    };
    for (field, value) in [
        ("correlation_id", &event.correlation_id),
        ("causation_id", &event.causation_id),
        ("agent_id", &event.agent_id),
    ] {
        if let Some(value) = value {
            check_name(field, value)?;
        }
    }
    Ok(Encoded {
        id,
        event_type: event.event_type,
        schema_version: i64::from(event.schema_version),
        data,
        metadata,
        correlation_id: event.correlation_id,
        causation_id: event.causation_id,
        agent_id: event.agent_id,
    })
}

/// The stream's last version if the append may go ahead, else the refusal.
/// `row` is the stream's (version, deleted) row, if it has one.
fn check_expected(
    stream: &str,
    expected: ExpectedVersion,
    row: Option<(i64, i64)>,
) -> Result<Option<i64>> {
    let current = match row {
        Some((_, deleted)) if deleted != 0 => {
            return Err(Error::new(
                ErrorCode::STORE_CONFLICT,
                format!("stream \"{stream}\" was deleted; its name cannot be appended to again"),
            )
            .with_context("stream", stream)
            .with_context("deleted", true));
        }
        Some((version, _)) => Some(version),
        None => None,
    };
    let ok = match (expected, current) {
        (ExpectedVersion::Any, _) => true,
        (ExpectedVersion::NoStream, current) => current.is_none(),
        (ExpectedVersion::StreamExists, current) => current.is_some(),
        (ExpectedVersion::Exact(want), Some(have)) => i64::try_from(want) == Ok(have),
        (ExpectedVersion::Exact(_), None) => false,
    };
    if ok {
        return Ok(current);
    }
    let actual = current.map_or_else(|| "no stream".to_owned(), |v| v.to_string());
    Err(Error::new(
        ErrorCode::EVENT_WRONG_EXPECTED_VERSION,
        format!(
            "stream \"{stream}\": expected version {expected}, but the stream is at {actual}; \
             nothing was appended"
        ),
    )
    .with_context("stream", stream)
    .with_context("expected", expected)
    .with_context("actual", actual))
}

/// `INSERT INTO foundation_events … VALUES (…), (…)` for `rows` events.
fn insert_sql(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO foundation_events (position, event_id, stream, version, event_type, \
         schema_version, data, metadata, correlation_id, causation_id, agent_id, recorded_at) \
         VALUES ",
    );
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for col in 0..12 {
            if col > 0 {
                sql.push_str(", ");
            }
            let _ = write!(sql, "${}", row * 12 + col + 1);
        }
        sql.push(')');
    }
    sql
}

impl EventStore {
    /// Appends `events` to `stream` atomically: all of them or, on any error, none.
    ///
    /// `expected` is checked against the stream inside the write transaction. The events get
    /// consecutive stream versions (the stream's first event is version 0) and consecutive
    /// global positions, and the store's clock as their timestamp.
    ///
    /// Errors: `EVENT_WRONG_EXPECTED_VERSION` (context `stream`, `expected`, `actual`) when the
    /// stream is not at the expected version; `STORE_CONFLICT` when an event id is already
    /// stored (or repeated in the batch) or the stream was deleted; `INVALID_INPUT` naming the
    /// field for an empty or over-long stream name, event type or id, schema version 0, data or
    /// metadata that is not a JSON object, or zero or more than
    /// [`MAX_READ_LIMIT`](crate::MAX_READ_LIMIT) events; `STORE_PAYLOAD_TOO_LARGE` when data or
    /// metadata exceeds the store's payload limit.
    pub async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult> {
        check_name("stream", stream)?;
        if events.is_empty() || events.len() > MAX_READ_LIMIT {
            return Err(Error::invalid_input(
                "events",
                format_args!(
                    "must hold 1 to {MAX_READ_LIMIT} events, got {}",
                    events.len()
                ),
            ));
        }
        let max_bytes = self.store.shared.max_payload_bytes;
        let encoded = events
            .into_iter()
            .map(|event| encode(event, max_bytes))
            .collect::<Result<Vec<_>>>()?;
        let mut ids = HashSet::with_capacity(encoded.len());
        if let Some(dup) = encoded.iter().find(|e| !ids.insert(e.id.as_str())) {
            return Err(Error::new(
                ErrorCode::STORE_CONFLICT,
                format!("event id \"{}\" appears twice in one append", dup.id),
            )
            .with_context("stream", stream)
            .with_context("event_id", &dup.id));
        }
        let count = i64::try_from(encoded.len()).unwrap_or(i64::MAX);
        let now = self.store.now_ms();
        let fail = |e| translate(e, OPERATION).with_context("stream", stream);

        let (head, version) = with_pool!(&self.store.backend, |pool, dialect| {
            let mut tx = pool.begin_with(dialect.begin_write).await.map_err(fail)?;
            // Taking the head row's lock serializes appenders: positions are handed out in
            // commit order.
            let lock_head = format!(
                "SELECT position FROM foundation_event_head WHERE id = 1{}",
                dialect.for_update
            );
            let head: i64 = sqlx::query_scalar(&lock_head)
                .fetch_one(&mut *tx)
                .await
                .map_err(fail)?;
            // Lock the stream row too, so a concurrent delete or truncate is seen.
            let read_stream = format!(
                "SELECT version, deleted FROM foundation_event_streams WHERE stream = $1{}",
                dialect.for_update
            );
            let row: Option<(i64, i64)> = sqlx::query_as(&read_stream)
                .bind(stream)
                .fetch_optional(&mut *tx)
                .await
                .map_err(fail)?;
            let current = match check_expected(stream, expected, row) {
                Ok(current) => current,
                Err(refused) => {
                    tx.rollback().await.map_err(fail)?;
                    tracing::debug!(
                        target: "foundation.store.events_append_refused",
                        stream,
                        %expected,
                        reason = refused.message(),
                        "append refused"
                    );
                    return Err(refused);
                }
            };
            let first_version = current.map_or(0, |v| v + 1);

            let mut offset = 0_i64;
            for chunk in encoded.chunks(INSERT_CHUNK) {
                let sql = insert_sql(chunk.len());
                let mut insert = sqlx::query(&sql);
                for event in chunk {
                    offset += 1;
                    insert = insert
                        .bind(head + offset)
                        .bind(event.id.as_str())
                        .bind(stream)
                        .bind(first_version + offset - 1)
                        .bind(event.event_type.as_str())
                        .bind(event.schema_version)
                        .bind(event.data.as_str())
                        .bind(event.metadata.as_str())
                        .bind(event.correlation_id.as_deref())
                        .bind(event.causation_id.as_deref())
                        .bind(event.agent_id.as_deref())
                        .bind(now);
                }
                insert.execute(&mut *tx).await.map_err(fail)?;
            }
            let last_version = first_version + count - 1;
            sqlx::query(
                "INSERT INTO foundation_event_streams (stream, version) VALUES ($1, $2) \
                 ON CONFLICT (stream) DO UPDATE SET version = excluded.version",
            )
            .bind(stream)
            .bind(last_version)
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
            sqlx::query("UPDATE foundation_event_head SET position = $1 WHERE id = 1")
                .bind(head + count)
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
            if dialect.postgres {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(CHANNEL)
                    .bind(TOPIC)
                    .execute(&mut *tx)
                    .await
                    .map_err(fail)?;
            }
            tx.commit().await.map_err(fail)?;
            (head, last_version)
        });
        self.store.wake(TOPIC);
        let unsigned = |v: i64| u64::try_from(v).unwrap_or_default();
        Ok(AppendResult {
            first_position: unsigned(head + 1),
            last_position: unsigned(head + count),
            stream_version: unsigned(version),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_sql_numbers_every_placeholder_once() {
        let sql = insert_sql(2);
        assert!(sql.ends_with("($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12), ($13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)"), "{sql}");
    }

    #[test]
    fn expected_version_cases() {
        use ExpectedVersion::*;
        assert_eq!(check_expected("s", Any, None).unwrap(), None);
        assert_eq!(check_expected("s", NoStream, None).unwrap(), None);
        assert_eq!(
            check_expected("s", Exact(2), Some((2, 0))).unwrap(),
            Some(2)
        );
        let err = check_expected("s", Exact(1), Some((2, 0))).unwrap_err();
        assert_eq!(err.code(), ErrorCode::EVENT_WRONG_EXPECTED_VERSION);
        assert_eq!(err.context_value("expected"), Some("1"));
        assert_eq!(err.context_value("actual"), Some("2"));
        let err = check_expected("s", StreamExists, None).unwrap_err();
        assert_eq!(err.context_value("actual"), Some("no stream"));
        let err = check_expected("s", Any, Some((2, 1))).unwrap_err();
        assert_eq!(err.code(), ErrorCode::STORE_CONFLICT);
    }
}
