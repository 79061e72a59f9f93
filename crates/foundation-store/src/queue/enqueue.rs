//! Enqueueing one task or a batch, atomically.

use std::collections::BTreeSet;

use foundation_core::error::{Error, ErrorCode, Result};
use foundation_core::trace::TraceContext;

use super::task::NewTask;
use super::{TaskId, TaskQueue, topic};
use crate::error::translate;
use crate::payload;
use crate::signal::pg_notify;
use crate::sql::{Columns, with_pool};

/// Rows per `INSERT` statement (11 parameters each, under both backends' parameter limits).
const ROWS_PER_INSERT: usize = 500;

/// A task checked and encoded for its row.
struct Row {
    queue: String,
    priority: i64,
    payload: String,
    run_at: i64,
    max_attempts: i64,
    timeout_ms: Option<i64>,
    backoff: String,
    unique_key: Option<String>,
    tags: String,
    trace_context: Option<String>,
}

/// Why a batch could not be inserted whole.
enum Refused {
    Duplicate {
        key: String,
        queue: String,
        index: usize,
    },
    Database(sqlx::Error),
}

impl From<sqlx::Error> for Refused {
    fn from(err: sqlx::Error) -> Refused {
        Refused::Database(err)
    }
}

impl TaskQueue {
    /// Enqueues one task and returns its id once the row is committed.
    ///
    /// Errors: `INVALID_INPUT` naming the field (payload not a JSON object, priority, attempts,
    /// timeout, names); `STORE_PAYLOAD_TOO_LARGE`; `NOT_FOUND` for an undeclared queue;
    /// `TASK_DUPLICATE` when another task holds its unique key (context `existing_id`).
    pub async fn enqueue(&self, task: NewTask) -> Result<TaskId> {
        let ids = self.enqueue_batch(vec![task]).await?;
        Ok(ids[0])
    }

    /// Enqueues all of `tasks` in one transaction, or none of them: any bad task, undeclared
    /// queue or taken unique key refuses the whole batch (the error's `index` context names the
    /// task). Returns the ids in the order given.
    ///
    /// A task that carries no `trace_context` of its own is given the `traceparent` of the
    /// [`TraceContext`] current at the call, if any, so its handler continues the enqueuer's
    /// trace.
    pub async fn enqueue_batch(&self, tasks: Vec<NewTask>) -> Result<Vec<TaskId>> {
        let now = self.store.now_ms();
        let traceparent = TraceContext::with_current(|current| current.map(ToString::to_string));
        let rows = tasks
            .iter()
            .enumerate()
            .map(|(index, task)| {
                self.encode(task, now, traceparent.as_deref())
                    .map_err(|e| e.with_context("index", index))
            })
            .collect::<Result<Vec<Row>>>()?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let queues: BTreeSet<&str> = rows.iter().map(|r| r.queue.as_str()).collect();
        let outcome = with_pool!(&self.store.backend, |pool, dialect| {
            async {
                // An undeclared queue fails the insert's foreign key (the error path below
                // names it), so the common case costs no extra query.
                let mut tx = pool.begin_with(dialect.begin_write).await?;
                let mut ids = Vec::with_capacity(rows.len());
                for (number, chunk) in rows.chunks(ROWS_PER_INSERT).enumerate() {
                    let sql = insert_sql(chunk.len());
                    let mut query = sqlx::query(&sql);
                    for row in chunk {
                        query = query
                            .bind(row.queue.as_str())
                            .bind(row.priority)
                            .bind(row.payload.as_str())
                            .bind(row.run_at)
                            .bind(row.max_attempts)
                            .bind(row.timeout_ms)
                            .bind(row.backoff.as_str())
                            .bind(row.unique_key.as_deref())
                            .bind(row.tags.as_str())
                            .bind(row.trace_context.as_deref())
                            .bind(now);
                    }
                    let returned = query.fetch_all(&mut *tx).await?;
                    if returned.len() < chunk.len() {
                        let inserted: Vec<Option<String>> = returned
                            .iter()
                            .map(|r| r.opt_text("unique_key").ok().flatten())
                            .collect();
                        return Err(refused_row(chunk, number * ROWS_PER_INSERT, &inserted));
                    }
                    for row in &returned {
                        ids.push(
                            row.int("id")
                                .map_err(|_| Refused::Database(sqlx::Error::RowNotFound))?,
                        );
                    }
                }
                for queue in &queues {
                    pg_notify!(&mut tx, dialect, topic(queue)).await?;
                }
                tx.commit().await?;
                ids.sort_unstable();
                Ok(ids)
            }
            .await
        });
        match outcome {
            Ok(ids) => {
                for queue in &queues {
                    self.store.wake(&topic(queue));
                }
                tracing::debug!(target: "foundation.queue.enqueued", count = ids.len());
                Ok(ids)
            }
            Err(Refused::Database(e))
                if e.as_database_error().map(|d| d.kind())
                    == Some(sqlx::error::ErrorKind::ForeignKeyViolation) =>
            {
                for queue in &queues {
                    self.queue(queue).await?;
                }
                Err(translate(e, "enqueue"))
            }
            Err(Refused::Duplicate { key, queue, index }) => Err(self
                .duplicate(&queue, &key)
                .await
                .with_context("index", index)),
            Err(Refused::Database(e)) => Err(translate(e, "enqueue")),
        }
    }

    /// Checks and encodes `task`; `traceparent` is the current trace context's, used when the
    /// task has none of its own.
    fn encode(&self, task: &NewTask, now: i64, traceparent: Option<&str>) -> Result<Row> {
        task.validate()?;
        let payload = payload::encode(
            "payload",
            &task.payload,
            true,
            self.store.shared.max_payload_bytes,
        )?;
        let run_at = match (task.run_at_ms, task.delay) {
            (Some(at), _) => at,
            (None, Some(delay)) => now.saturating_add(Self::duration_ms(delay)),
            (None, None) => now,
        };
        Ok(Row {
            queue: task.queue.clone(),
            priority: i64::from(task.priority),
            payload,
            run_at,
            max_attempts: i64::from(task.max_attempts),
            timeout_ms: task.timeout.map(Self::duration_ms),
            backoff: serde_json::to_string(&task.backoff)
                .map_err(|e| Error::invalid_input("backoff", "cannot be encoded").with_source(e))?,
            unique_key: task.unique_key.clone(),
            tags: serde_json::to_string(&task.tags)
                .map_err(|e| Error::invalid_input("tags", "cannot be encoded").with_source(e))?,
            trace_context: task
                .trace_context
                .clone()
                .or_else(|| traceparent.map(str::to_string)),
        })
    }

    /// `TASK_DUPLICATE` for `key`, naming the task that holds it when it can be read.
    pub(super) async fn duplicate(&self, queue: &str, key: &str) -> Error {
        let existing: Option<i64> = with_pool!(&self.store.backend, |pool, _dialect| {
            sqlx::query_scalar(
                "SELECT id FROM foundation_tasks WHERE queue = $1 AND unique_key = $2 \
                 AND state IN ('available', 'running', 'completed')",
            )
            .bind(queue)
            .bind(key)
            .fetch_optional(pool)
            .await
            .ok()
            .flatten()
        });
        let mut err = Error::new(
            ErrorCode::TASK_DUPLICATE,
            format!("queue \"{queue}\" already has a task with unique key \"{key}\""),
        )
        .with_context("queue", queue)
        .with_context("unique_key", key);
        if let Some(id) = existing {
            err = err.with_context("existing_id", id);
        }
        err
    }
}

/// The first row of `chunk` whose unique key was not inserted (taken by another task, or by
/// an earlier row of the same batch).
fn refused_row(chunk: &[Row], offset: usize, inserted: &[Option<String>]) -> Refused {
    let count = |key: &Option<String>, rows: &mut dyn Iterator<Item = &Option<String>>| {
        rows.filter(|k| *k == key).count()
    };
    let mut seen: Vec<&Option<String>> = Vec::new();
    for (at, row) in chunk
        .iter()
        .enumerate()
        .filter(|(_, r)| r.unique_key.is_some())
    {
        seen.push(&row.unique_key);
        let wanted = count(&row.unique_key, &mut seen.iter().copied());
        let got = count(&row.unique_key, &mut inserted.iter());
        if wanted > got {
            return Refused::Duplicate {
                key: row.unique_key.clone().unwrap_or_default(),
                queue: row.queue.clone(),
                index: offset + at,
            };
        }
    }
    Refused::Database(sqlx::Error::RowNotFound)
}

/// `INSERT … VALUES (…), (…) ON CONFLICT DO NOTHING RETURNING id, unique_key` for `rows` rows.
fn insert_sql(rows: usize) -> String {
    const COLUMNS: usize = 11;
    let mut sql = String::from(
        "INSERT INTO foundation_tasks (queue, priority, payload, run_at, max_attempts, \
         timeout_ms, backoff, unique_key, tags, trace_context, enqueued_at, state) VALUES ",
    );
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..COLUMNS {
            sql.push_str(&format!("${}, ", row * COLUMNS + column + 1));
        }
        sql.push_str("'available')");
    }
    sql.push_str(
        " ON CONFLICT (queue, unique_key) \
         WHERE unique_key IS NOT NULL AND state IN ('available', 'running', 'completed') \
         DO NOTHING RETURNING id, unique_key",
    );
    sql
}
