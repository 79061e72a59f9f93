//! Reading one task back, with its attempt history, and cancelling it.

use foundation_core::error::{Error, Result};

use super::task::{AttemptError, TASK_COLUMNS, Task, TaskDetails, TaskState};
use super::{TaskId, TaskQueue};
use crate::error::translate;
use crate::sql::{Columns, with_pool};

impl TaskQueue {
    /// The task with `id`; `NOT_FOUND` when there is none (never enqueued, pruned or
    /// discarded).
    pub async fn task(&self, id: TaskId) -> Result<Task> {
        let sql = format!("SELECT {TASK_COLUMNS} FROM foundation_tasks WHERE id = $1");
        with_pool!(&self.store.backend, |pool, _dialect| {
            let row = sqlx::query(&sql)
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(|e| translate(e, "read task").with_context("task_id", id))?;
            match row {
                Some(row) => Task::from_row(&row),
                None => Err(Error::not_found("task", id)),
            }
        })
    }

    /// The task with `id` and the errors of all its failed attempts, oldest first.
    pub async fn details(&self, id: TaskId) -> Result<TaskDetails> {
        let task = self.task(id).await?;
        let errors = self.attempt_errors(&[id]).await?.pop().unwrap_or_default();
        Ok(TaskDetails { task, errors })
    }

    /// The attempt errors of each task in `ids`, in the same order.
    pub(crate) async fn attempt_errors(&self, ids: &[TaskId]) -> Result<Vec<Vec<AttemptError>>> {
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            let errors = with_pool!(&self.store.backend, |pool, _dialect| {
                let rows = sqlx::query(
                    "SELECT attempt, error, worker, failed_at FROM foundation_task_attempts \
                     WHERE task_id = $1 ORDER BY id",
                )
                .bind(id)
                .fetch_all(pool)
                .await
                .map_err(|e| translate(e, "read attempt errors").with_context("task_id", id))?;
                rows.iter()
                    .map(|row| {
                        Ok(AttemptError {
                            attempt: u32::try_from(row.int("attempt")?).unwrap_or(0),
                            error: row.text("error")?,
                            worker: row.opt_text("worker")?,
                            failed_at_ms: row.int("failed_at")?,
                        })
                    })
                    .collect::<Result<Vec<_>>>()
            })?;
            out.push(errors);
        }
        Ok(out)
    }

    /// Cancels a waiting or running task and returns its state afterwards: `Cancelled`, or the
    /// final state it had already reached (completed, dead, cancelled), which is left alone. A
    /// running task's worker finds out at its next heartbeat or completion (`TASK_LEASE_LOST`).
    pub async fn cancel(&self, id: TaskId) -> Result<TaskState> {
        let now = self.store.now_ms();
        let changed = with_pool!(&self.store.backend, |pool, _dialect| {
            sqlx::query(
                "UPDATE foundation_tasks SET state = 'cancelled', finished_at = $2, \
                 lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL \
                 WHERE id = $1 AND state IN ('available', 'running')",
            )
            .bind(id)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(|e| translate(e, "cancel task").with_context("task_id", id))?;
        if changed > 0 {
            return Ok(TaskState::Cancelled);
        }
        Ok(self.task(id).await?.state)
    }
}
