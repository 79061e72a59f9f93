//! The dead-letter queue: tasks that failed their last attempt, with every attempt's error.

use foundation_core::error::{Error, Result};
use serde::{Deserialize, Serialize};

use super::task::{TASK_COLUMNS, Task, TaskDetails, check_name};
use super::{TaskId, TaskQueue, topic};
use crate::error::translate;
use crate::signal::pg_notify;
use crate::sql::with_pool;

/// The most dead letters one listing returns.
pub const MAX_LIST: u32 = 1_000;

/// Which dead letters to list, requeue or discard. Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetterFilter {
    /// Only this queue's.
    #[serde(default)]
    pub queue: Option<String>,
    /// Only tasks carrying this tag.
    #[serde(default)]
    pub tag: Option<String>,
    /// Only tasks that died at or after this time (ms since the Unix epoch).
    #[serde(default)]
    pub died_after_ms: Option<i64>,
    /// Only tasks with an id above this one (for paging).
    #[serde(default)]
    pub after_id: Option<TaskId>,
    /// At most this many (listing only; default and cap [`MAX_LIST`]).
    #[serde(default)]
    pub limit: Option<u32>,
}

impl DeadLetterFilter {
    /// Dead letters of one queue.
    pub fn queue(queue: impl Into<String>) -> DeadLetterFilter {
        DeadLetterFilter {
            queue: Some(queue.into()),
            ..DeadLetterFilter::default()
        }
    }

    fn validate(&self) -> Result<()> {
        if let Some(queue) = &self.queue {
            check_name("queue", queue)?;
        }
        if let Some(tag) = &self.tag {
            check_name("tag", tag)?;
        }
        if let Some(limit) = self.limit
            && !(1..=MAX_LIST).contains(&limit)
        {
            return Err(Error::invalid_input(
                "limit",
                format_args!("must be 1 to {MAX_LIST}, got {limit}"),
            ));
        }
        Ok(())
    }

    /// The `WHERE` clause (parameters `$1`…`$4`) and its binds.
    fn clause(&self) -> (&'static str, [Option<String>; 2], [Option<i64>; 2]) {
        (
            "state = 'dead' AND ($1 IS NULL OR queue = $1) \
             AND ($2 IS NULL OR REPLACE(tags, $2, '') <> tags) \
             AND ($3 IS NULL OR finished_at >= $3) AND ($4 IS NULL OR id > $4)",
            [
                self.queue.clone(),
                self.tag.as_deref().map(|t| format!("\"{t}\"")),
            ],
            [self.died_after_ms, self.after_id],
        )
    }
}

impl TaskQueue {
    /// Dead letters matching `filter`, oldest id first, each with all its attempt errors.
    pub async fn dead_letters(&self, filter: &DeadLetterFilter) -> Result<Vec<TaskDetails>> {
        filter.validate()?;
        let (clause, [queue, tag], [after, after_id]) = filter.clause();
        let limit = i64::from(filter.limit.unwrap_or(MAX_LIST));
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM foundation_tasks WHERE {clause} ORDER BY id LIMIT $5"
        );
        let tasks = with_pool!(&self.store.backend, |pool, _dialect| {
            let rows = sqlx::query(&sql)
                .bind(queue)
                .bind(tag)
                .bind(after)
                .bind(after_id)
                .bind(limit)
                .fetch_all(pool)
                .await
                .map_err(|e| translate(e, "list dead letters"))?;
            rows.iter().map(Task::from_row).collect::<Result<Vec<_>>>()
        })?;
        let ids: Vec<TaskId> = tasks.iter().map(|t| t.id).collect();
        let errors = self.attempt_errors(&ids).await?;
        Ok(tasks
            .into_iter()
            .zip(errors)
            .map(|(task, errors)| TaskDetails { task, errors })
            .collect())
    }

    /// Puts one dead task back in its queue to run now with a fresh set of attempts (its error
    /// history is kept). `NOT_FOUND` when no dead task has this id; `TASK_DUPLICATE` when
    /// another task has taken its unique key meanwhile.
    pub async fn requeue(&self, id: TaskId) -> Result<()> {
        let task = self.task(id).await?;
        if task.state != super::TaskState::Dead {
            return Err(
                Error::not_found("dead task", id).with_context("state", task.state.as_str())
            );
        }
        let filter = DeadLetterFilter {
            queue: Some(task.queue.clone()),
            after_id: Some(id - 1),
            ..DeadLetterFilter::default()
        };
        let moved = self.requeue_matching(&filter, Some(id)).await?;
        if moved == 0 {
            let key = task.unique_key.unwrap_or_default();
            return Err(self.duplicate(&task.queue, &key).await);
        }
        Ok(())
    }

    /// Requeues every dead task matching `filter` (its `limit` is ignored) and returns how many
    /// moved. Tasks whose unique key another task now holds stay dead.
    pub async fn requeue_where(&self, filter: &DeadLetterFilter) -> Result<u64> {
        filter.validate()?;
        self.requeue_matching(filter, None).await
    }

    async fn requeue_matching(
        &self,
        filter: &DeadLetterFilter,
        only: Option<TaskId>,
    ) -> Result<u64> {
        let (clause, [queue, tag], [after, after_id]) = filter.clause();
        let now = self.store.now_ms();
        let sql = format!(
            "UPDATE foundation_tasks SET state = 'available', attempt = 0, run_at = $6, \
             finished_at = NULL WHERE {clause} AND ($5 IS NULL OR id = $5) \
             AND (unique_key IS NULL OR NOT EXISTS (SELECT 1 FROM foundation_tasks live \
             WHERE live.queue = foundation_tasks.queue \
             AND live.unique_key = foundation_tasks.unique_key \
             AND live.state IN ('available', 'running', 'completed'))) \
             AND ($5 IS NOT NULL OR unique_key IS NULL OR id = (SELECT MIN(d.id) \
             FROM foundation_tasks d WHERE d.queue = foundation_tasks.queue \
             AND d.unique_key = foundation_tasks.unique_key AND d.state = 'dead')) \
             RETURNING queue"
        );
        // On PostgreSQL an enqueue of the same key committing meanwhile makes the UPDATE hit
        // the unique index; run it again: the new statement's snapshot sees that task, so the
        // NOT EXISTS leaves the dead one alone.
        let mut tries = 0;
        let queues = loop {
            tries += 1;
            let outcome = self
                .requeue_once(
                    &sql,
                    [queue.clone(), tag.clone()],
                    [after, after_id],
                    only,
                    now,
                )
                .await;
            match outcome {
                Err(e)
                    if tries < 3
                        && e.as_database_error().map(|d| d.kind())
                            == Some(sqlx::error::ErrorKind::UniqueViolation) =>
                {
                    continue;
                }
                other => break other.map_err(|e| translate(e, "requeue dead letters"))?,
            }
        };
        for queue in &queues.1 {
            self.store.wake(&topic(queue));
        }
        Ok(queues.0 as u64)
    }

    async fn requeue_once(
        &self,
        sql: &str,
        [queue, tag]: [Option<String>; 2],
        [after, after_id]: [Option<i64>; 2],
        only: Option<TaskId>,
        now: i64,
    ) -> std::result::Result<(usize, Vec<String>), sqlx::Error> {
        with_pool!(&self.store.backend, |pool, dialect| {
            async {
                let mut tx = pool.begin_with(dialect.begin_write).await?;
                let queues: Vec<String> = sqlx::query_scalar(sql)
                    .bind(queue)
                    .bind(tag)
                    .bind(after)
                    .bind(after_id)
                    .bind(only)
                    .bind(now)
                    .fetch_all(&mut *tx)
                    .await?;
                let mut distinct = queues.clone();
                distinct.sort();
                distinct.dedup();
                for queue in &distinct {
                    pg_notify!(&mut tx, dialect, topic(queue)).await?;
                }
                tx.commit().await?;
                Ok::<_, sqlx::Error>((queues.len(), distinct))
            }
            .await
        })
    }

    /// Deletes one dead task and its history. `NOT_FOUND` when no dead task has this id.
    pub async fn discard(&self, id: TaskId) -> Result<()> {
        let deleted = with_pool!(&self.store.backend, |pool, _dialect| {
            sqlx::query("DELETE FROM foundation_tasks WHERE id = $1 AND state = 'dead'")
                .bind(id)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(|e| translate(e, "discard dead letter").with_context("task_id", id))?;
        if deleted == 0 {
            return Err(Error::not_found("dead task", id));
        }
        Ok(())
    }

    /// Deletes every dead task matching `filter` (its `limit` is ignored); returns how many.
    pub async fn discard_where(&self, filter: &DeadLetterFilter) -> Result<u64> {
        filter.validate()?;
        let (clause, [queue, tag], [after, after_id]) = filter.clause();
        let sql = format!("DELETE FROM foundation_tasks WHERE {clause}");
        with_pool!(&self.store.backend, |pool, _dialect| {
            sqlx::query(&sql)
                .bind(queue)
                .bind(tag)
                .bind(after)
                .bind(after_id)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(|e| translate(e, "discard dead letters"))
    }
}
