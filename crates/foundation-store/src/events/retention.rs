//! Retention: removing a stream's old events (truncate) or all of them (delete).

use foundation_core::error::{Error, Result};

use super::{EventStore, check_name, to_db};
use crate::error::translate;
use crate::sql::with_pool;

impl EventStore {
    /// Removes `stream`'s events with a version below `before` and returns how many were
    /// removed. The stream keeps its version, so appends continue where they were; reads start
    /// at `before`. Truncating to a version at or below an earlier truncation removes nothing.
    /// `before` may be at most the stream's version + 1 (which removes every event).
    ///
    /// Errors: `NOT_FOUND` for a stream never written or deleted; `INVALID_INPUT` (field
    /// `before`) past the stream's end.
    pub async fn truncate_stream(&self, stream: &str, before: u64) -> Result<u64> {
        check_name("stream", stream)?;
        let before_db = to_db("before", before)?;
        let operation = "truncate stream";
        let fail = |e| translate(e, operation).with_context("stream", stream);
        let removed = with_pool!(&self.store.backend, |pool, dialect| {
            let mut tx = pool.begin_with(dialect.begin_write).await.map_err(fail)?;
            // Lock the stream row so an append cannot add a version in between.
            let lock_stream = format!(
                "SELECT version, deleted FROM foundation_event_streams WHERE stream = $1{}",
                dialect.for_update
            );
            let row: Option<(i64, i64)> = sqlx::query_as(&lock_stream)
                .bind(stream)
                .fetch_optional(&mut *tx)
                .await
                .map_err(fail)?;
            let version = match row {
                Some((version, 0)) => version,
                _ => {
                    tx.rollback().await.map_err(fail)?;
                    return Err(self
                        .require_stream(stream)
                        .await
                        .err()
                        .unwrap_or_else(|| Error::not_found("stream", stream)));
                }
            };
            if before_db > version + 1 {
                return Err(Error::invalid_input(
                    "before",
                    format_args!(
                        "{before} is past the end of stream \"{stream}\" (at version {version})"
                    ),
                ));
            }
            let removed =
                sqlx::query("DELETE FROM foundation_events WHERE stream = $1 AND version < $2")
                    .bind(stream)
                    .bind(before_db)
                    .execute(&mut *tx)
                    .await
                    .map_err(fail)?
                    .rows_affected();
            sqlx::query(
                "UPDATE foundation_event_streams SET truncated_before = $2 \
                 WHERE stream = $1 AND truncated_before < $2",
            )
            .bind(stream)
            .bind(before_db)
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
            tx.commit().await.map_err(fail)?;
            removed
        });
        tracing::info!(
            target: "foundation.store.events_stream_truncated",
            stream,
            before,
            removed,
            "stream truncated"
        );
        Ok(removed)
    }

    /// Deletes `stream`: removes all its events and leaves a tombstone. Afterwards reading it
    /// fails with `NOT_FOUND` (context `deleted` = `true`), appending to it with
    /// `STORE_CONFLICT`, and its events are gone from `read_all`, queries and subscriptions
    /// (whose positions skip them). Returns how many events were removed.
    ///
    /// `NOT_FOUND` for a stream never written or already deleted.
    pub async fn delete_stream(&self, stream: &str) -> Result<u64> {
        check_name("stream", stream)?;
        let fail = |e| translate(e, "delete stream").with_context("stream", stream);
        let removed = with_pool!(&self.store.backend, |pool, dialect| {
            let mut tx = pool.begin_with(dialect.begin_write).await.map_err(fail)?;
            let marked = sqlx::query(
                "UPDATE foundation_event_streams SET deleted = 1 WHERE stream = $1 AND deleted = 0",
            )
            .bind(stream)
            .execute(&mut *tx)
            .await
            .map_err(fail)?
            .rows_affected();
            if marked == 0 {
                tx.rollback().await.map_err(fail)?;
                return Err(self
                    .require_stream(stream)
                    .await
                    .err()
                    .unwrap_or_else(|| Error::not_found("stream", stream)));
            }
            let removed = sqlx::query("DELETE FROM foundation_events WHERE stream = $1")
                .bind(stream)
                .execute(&mut *tx)
                .await
                .map_err(fail)?
                .rows_affected();
            tx.commit().await.map_err(fail)?;
            removed
        });
        tracing::info!(
            target: "foundation.store.events_stream_deleted",
            stream,
            removed,
            "stream deleted"
        );
        Ok(removed)
    }
}
