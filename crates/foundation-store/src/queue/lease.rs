//! Leasing tasks to workers, and everything a lease holder may do: heartbeat, complete, fail,
//! release.

use std::time::Duration;

use foundation_core::error::{Error, ErrorCode, Result};
use serde::Serialize;

use super::queues::unknown_queue;
use super::task::{Backoff, Lease, LeasedTask, TASK_COLUMNS, Task, check_name};
use super::telemetry::{LeasesExpired, TaskDeadLettered};
use super::{TaskQueue, topic};
use crate::error::translate;
use crate::signal::pg_notify;
use crate::sql::{Columns, with_pool};

/// How often a store handle's fetches look for expired leases of one queue, in ms.
const LEASE_SWEEP_INTERVAL_MS: i64 = 1_000;

/// The most tasks one fetch may lease.
pub const MAX_FETCH: usize = 1_000;
/// The longest error text kept per failed attempt, in bytes; longer ones are cut.
pub const MAX_ERROR_LEN: usize = 8 * 1024;

/// What a worker reports when an attempt failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// What went wrong (kept in the task's attempt history).
    pub error: String,
    /// Whether another attempt may help. `false` sends the task to the dead-letter queue now.
    pub retryable: bool,
    /// Retry after this long instead of the task's backoff (e.g. a rate limit's `retry_after`).
    pub retry_after: Option<Duration>,
}

impl Failure {
    /// A retryable failure with the task's own backoff.
    pub fn retry(error: impl Into<String>) -> Failure {
        Failure {
            error: error.into(),
            retryable: true,
            retry_after: None,
        }
    }

    /// A failure no retry can fix: the task goes to the dead-letter queue now.
    pub fn discard(error: impl Into<String>) -> Failure {
        Failure {
            error: error.into(),
            retryable: false,
            retry_after: None,
        }
    }

    /// The failure of a Foundation error: retryable as the error says, after its
    /// `retry_after` when it has one.
    pub fn from_error(err: &Error) -> Failure {
        Failure {
            error: err.to_string(),
            retryable: err.is_retryable(),
            retry_after: err.retry_after(),
        }
    }
}

/// What [`TaskQueue::fail`] did with the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum FailureOutcome {
    /// It will run again at `run_at_ms`.
    Retrying {
        /// When (ms since the Unix epoch).
        run_at_ms: i64,
    },
    /// It is in the dead-letter queue.
    Dead,
}

impl TaskQueue {
    /// Leases up to `max` runnable tasks of `queue` to `worker` for `lease`, highest priority
    /// first, then earliest `run_at`, then enqueue order. Returns none when the queue is paused
    /// or at its concurrency limit. Tasks whose lease expired are first handed back (their
    /// attempt counts as failed), so a dead worker's tasks run again; a store handle looks for
    /// them at most once a second per queue.
    ///
    /// Errors: `NOT_FOUND` for an undeclared queue; `INVALID_INPUT` for a zero `max`, one over
    /// [`MAX_FETCH`], a zero lease or a bad worker name.
    pub async fn fetch(
        &self,
        queue: &str,
        worker: &str,
        max: usize,
        lease: Duration,
    ) -> Result<Vec<LeasedTask>> {
        check_name("queue", queue)?;
        check_name("worker", worker)?;
        if max == 0 || max > MAX_FETCH {
            return Err(Error::invalid_input(
                "max",
                format_args!("must be 1 to {MAX_FETCH}, got {max}"),
            ));
        }
        if lease.is_zero() {
            return Err(Error::invalid_input("lease", "must be longer than zero"));
        }
        let now = self.store.now_ms();
        let expires = now.saturating_add(Self::duration_ms(lease));
        let token = new_token();
        let rescued = if self.lease_sweep_due(queue, now) {
            self.rescue_expired(queue, now).await?
        } else {
            0
        };
        let fetched = with_pool!(&self.store.backend, |pool, dialect| {
            async {
                let mut tx = pool.begin_with(dialect.begin_write).await?;
                let settings_sql = |lock: &str| {
                    format!("SELECT paused, concurrency FROM foundation_queues WHERE name = $1{lock}")
                };
                let Some(mut settings) = sqlx::query(&settings_sql(""))
                    .bind(queue)
                    .fetch_optional(&mut *tx)
                    .await?
                else {
                    return Ok(None);
                };
                // A concurrency limit is counted across all fetchers: they take turns on the
                // queue's row. Without a limit, fetchers never wait for each other.
                if dialect.postgres && settings.opt_int("concurrency").unwrap_or(None).is_some() {
                    settings = sqlx::query(&settings_sql(dialect.for_update))
                        .bind(queue)
                        .fetch_one(&mut *tx)
                        .await?;
                }
                let paused = settings.int("paused").unwrap_or(0) != 0;
                let limit = settings.opt_int("concurrency").unwrap_or(None);
                let mut room = i64::try_from(max).unwrap_or(i64::MAX);
                if paused {
                    room = 0;
                } else if let Some(limit) = limit {
                    let running: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM foundation_tasks \
                         WHERE queue = $1 AND state = 'running'",
                    )
                    .bind(queue)
                    .fetch_one(&mut *tx)
                    .await?;
                    room = room.min(limit - running).max(0);
                }
                if room == 0 {
                    tx.commit().await?;
                    return Ok(Some(Vec::new()));
                }
                let sql = format!(
                    "UPDATE foundation_tasks SET state = 'running', attempt = attempt + 1, \
                     lease_token = $1, lease_owner = $2, lease_expires_at = $3, started_at = $4 \
                     WHERE id IN (SELECT id FROM foundation_tasks \
                     WHERE queue = $5 AND state = 'available' AND run_at <= $4 \
                     ORDER BY priority, run_at, id LIMIT $6{}) \
                     RETURNING {TASK_COLUMNS}",
                    dialect.skip_locked
                );
                let rows = sqlx::query(&sql)
                    .bind(token.as_str())
                    .bind(worker)
                    .bind(expires)
                    .bind(now)
                    .bind(queue)
                    .bind(room)
                    .fetch_all(&mut *tx)
                    .await?;
                // A row that does not decode goes to the dead-letter queue in this same
                // transaction instead of failing the fetch after commit (which would strand the
                // rest of the batch, leased to nobody, and pick the bad row again next time).
                let mut tasks = Vec::with_capacity(rows.len());
                for row in &rows {
                    match Task::from_row(row) {
                        Ok(task) => tasks.push(task),
                        Err(err) => {
                            let id = row.int("id").unwrap_or(-1);
                            tracing::error!(target: "foundation.queue.corrupt_task", task_id = id, "{err}");
                            sqlx::query(
                                "INSERT INTO foundation_task_attempts \
                                 (task_id, attempt, error, worker, failed_at) \
                                 SELECT id, attempt, $2, $3, $4 FROM foundation_tasks WHERE id = $1",
                            )
                            .bind(id)
                            .bind(err.to_string())
                            .bind(worker)
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                            sqlx::query(
                                "UPDATE foundation_tasks SET state = 'dead', finished_at = $2, \
                                 lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL \
                                 WHERE id = $1",
                            )
                            .bind(id)
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                        }
                    }
                }
                tx.commit().await?;
                Ok::<_, sqlx::Error>(Some(tasks))
            }
            .await
        })
        .map_err(|e| translate(e, "fetch tasks").with_context("queue", queue))?;
        let Some(tasks) = fetched else {
            return Err(unknown_queue(queue));
        };
        let mut tasks = tasks;
        tasks.sort_by_key(|t| (t.priority, t.run_at_ms, t.id));
        if rescued > 0 {
            tracing::info!(target: "foundation.queue.leases_expired", queue, rescued);
            self.store.shared.bus.emit(LeasesExpired {
                queue: queue.to_owned(),
                count: rescued,
            });
        }
        Ok(tasks
            .into_iter()
            .map(|task| LeasedTask {
                lease: Lease {
                    task_id: task.id,
                    token: token.clone(),
                    owner: worker.to_owned(),
                    expires_at_ms: expires,
                },
                task,
            })
            .collect())
    }

    /// Whether `fetch` should look for expired leases of `queue` now: at most once per
    /// [`LEASE_SWEEP_INTERVAL_MS`] per store handle, so a busy worker's fetches do not each pay
    /// an extra query. A dead worker's task is handed on that much later at most.
    fn lease_sweep_due(&self, queue: &str, now: i64) -> bool {
        let mut sweeps = self
            .store
            .shared
            .lease_sweeps
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match sweeps.get_mut(queue) {
            Some(last) if (*last..*last + LEASE_SWEEP_INTERVAL_MS).contains(&now) => false,
            Some(last) => {
                *last = now;
                true
            }
            None => {
                sweeps.insert(queue.to_owned(), now);
                true
            }
        }
    }

    /// Hands back the tasks of `queue` whose lease expired before `now`: each expired attempt
    /// is recorded as failed, then the task is available again, or dead after its last attempt.
    async fn rescue_expired(&self, queue: &str, now: i64) -> Result<usize> {
        with_pool!(&self.store.backend, |pool, dialect| {
            async {
                // Cheap check first: most fetches find nothing to rescue and take no write lock.
                let any: Option<i64> = sqlx::query_scalar(
                    "SELECT id FROM foundation_tasks WHERE queue = $1 AND state = 'running' \
                     AND lease_expires_at < $2 LIMIT 1",
                )
                .bind(queue)
                .bind(now)
                .fetch_optional(pool)
                .await?;
                if any.is_none() {
                    return Ok(0);
                }
                let mut tx = pool.begin_with(dialect.begin_write).await?;
                let sql = format!(
                    "SELECT id, attempt, max_attempts, backoff, lease_owner FROM foundation_tasks \
                     WHERE queue = $1 AND state = 'running' AND lease_expires_at < $2{}",
                    dialect.skip_locked
                );
                let expired = sqlx::query(&sql)
                    .bind(queue)
                    .bind(now)
                    .fetch_all(&mut *tx)
                    .await?;
                for row in &expired {
                    let (Ok(id), Ok(attempt), Ok(max)) =
                        (row.int("id"), row.int("attempt"), row.int("max_attempts"))
                    else {
                        continue;
                    };
                    let owner = row.opt_text("lease_owner").unwrap_or(None);
                    let error = format!(
                        "lease expired: worker {} stopped heartbeating",
                        owner.as_deref().unwrap_or("?")
                    );
                    sqlx::query(
                        "INSERT INTO foundation_task_attempts \
                         (task_id, attempt, error, worker, failed_at) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(id)
                    .bind(attempt)
                    .bind(error)
                    .bind(owner)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    let dead = attempt >= max;
                    sqlx::query(
                        "UPDATE foundation_tasks SET state = $2, run_at = $3, finished_at = $4, \
                         lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL \
                         WHERE id = $1",
                    )
                    .bind(id)
                    .bind(if dead { "dead" } else { "available" })
                    .bind(now)
                    .bind(dead.then_some(now))
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok::<usize, sqlx::Error>(expired.len())
            }
            .await
        })
        .map_err(|e| translate(e, "rescue expired leases").with_context("queue", queue))
    }

    /// Extends `lease` to `extend` from now. `TASK_LEASE_LOST` when the caller no longer holds
    /// it (expired and handed on, or the task was cancelled); then it must stop the work.
    pub async fn heartbeat(&self, lease: &Lease, extend: Duration) -> Result<Lease> {
        if extend.is_zero() {
            return Err(Error::invalid_input("extend", "must be longer than zero"));
        }
        let expires = self
            .store
            .now_ms()
            .saturating_add(Self::duration_ms(extend));
        let changed = with_pool!(&self.store.backend, |pool, _dialect| {
            sqlx::query(
                "UPDATE foundation_tasks SET lease_expires_at = $3 \
                 WHERE id = $1 AND lease_token = $2 AND state = 'running'",
            )
            .bind(lease.task_id)
            .bind(lease.token.as_str())
            .bind(expires)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(|e| translate(e, "heartbeat").with_context("task_id", lease.task_id))?;
        if changed == 0 {
            return Err(lease_lost(lease));
        }
        Ok(Lease {
            expires_at_ms: expires,
            ..lease.clone()
        })
    }

    /// Marks the leased task completed. `TASK_LEASE_LOST` when the caller no longer holds it.
    pub async fn complete(&self, lease: &Lease) -> Result<()> {
        let now = self.store.now_ms();
        let changed = with_pool!(&self.store.backend, |pool, _dialect| {
            sqlx::query(
                "UPDATE foundation_tasks SET state = 'completed', finished_at = $3, \
                 lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL \
                 WHERE id = $1 AND lease_token = $2 AND state = 'running'",
            )
            .bind(lease.task_id)
            .bind(lease.token.as_str())
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(|e| translate(e, "complete task").with_context("task_id", lease.task_id))?;
        if changed == 0 {
            return Err(lease_lost(lease));
        }
        Ok(())
    }

    /// Records a failed attempt: the task runs again after its backoff (or the failure's
    /// `retry_after`), or goes to the dead-letter queue after its last attempt or when the
    /// failure is not retryable. `TASK_LEASE_LOST` when the caller no longer holds it.
    pub async fn fail(&self, lease: &Lease, failure: Failure) -> Result<FailureOutcome> {
        let now = self.store.now_ms();
        let mut error = failure.error;
        if error.len() > MAX_ERROR_LEN {
            let mut cut = MAX_ERROR_LEN;
            while !error.is_char_boundary(cut) {
                cut -= 1;
            }
            error.truncate(cut);
        }
        let outcome = with_pool!(&self.store.backend, |pool, dialect| {
            async {
                let mut tx = pool.begin_with(dialect.begin_write).await?;
                let sql = format!(
                    "SELECT queue, attempt, max_attempts, backoff FROM foundation_tasks \
                     WHERE id = $1 AND lease_token = $2 AND state = 'running'{}",
                    dialect.for_update
                );
                let Some(row) = sqlx::query(&sql)
                    .bind(lease.task_id)
                    .bind(lease.token.as_str())
                    .fetch_optional(&mut *tx)
                    .await?
                else {
                    return Ok(None);
                };
                let attempt = row.int("attempt").unwrap_or(i64::MAX);
                let max = row.int("max_attempts").unwrap_or(0);
                let backoff: Backoff = row
                    .text("backoff")
                    .ok()
                    .and_then(|b| serde_json::from_str(&b).ok())
                    .unwrap_or_default();
                sqlx::query(
                    "INSERT INTO foundation_task_attempts \
                     (task_id, attempt, error, worker, failed_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(lease.task_id)
                .bind(attempt)
                .bind(error.as_str())
                .bind(lease.owner.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let queue: String = row.text("queue").unwrap_or_default();
                let outcome = if !failure.retryable || attempt >= max {
                    FailureOutcome::Dead
                } else {
                    let delay = failure.retry_after.unwrap_or_else(|| {
                        backoff.delay(u32::try_from(attempt).unwrap_or(u32::MAX))
                    });
                    FailureOutcome::Retrying {
                        run_at_ms: now.saturating_add(Self::duration_ms(delay)),
                    }
                };
                let (state, run_at, finished) = match outcome {
                    FailureOutcome::Dead => ("dead", now, Some(now)),
                    FailureOutcome::Retrying { run_at_ms } => ("available", run_at_ms, None),
                };
                sqlx::query(
                    "UPDATE foundation_tasks SET state = $2, run_at = $3, finished_at = $4, \
                     lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL \
                     WHERE id = $1",
                )
                .bind(lease.task_id)
                .bind(state)
                .bind(run_at)
                .bind(finished)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(Some((outcome, queue, attempt)))
            }
            .await
        })
        .map_err(|e| translate(e, "fail task").with_context("task_id", lease.task_id))?;
        let (outcome, queue, attempts) = outcome.ok_or_else(|| lease_lost(lease))?;
        if outcome == FailureOutcome::Dead {
            tracing::warn!(
                target: "foundation.queue.dead_lettered",
                task_id = lease.task_id,
                error = %error
            );
            self.store.shared.bus.emit(TaskDeadLettered {
                queue,
                task_id: lease.task_id,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                error,
            });
        }
        Ok(outcome)
    }

    /// Gives the leased task back without counting the attempt, to run again now (a worker
    /// shutting down before it started or finished the work). `TASK_LEASE_LOST` when the caller
    /// no longer holds it.
    pub async fn release(&self, lease: &Lease) -> Result<()> {
        let now = self.store.now_ms();
        let queue = with_pool!(&self.store.backend, |pool, dialect| {
            async {
                let mut tx = pool.begin_with(dialect.begin_write).await?;
                let queue: Option<String> = sqlx::query_scalar(
                    "UPDATE foundation_tasks SET state = 'available', attempt = attempt - 1, \
                     run_at = $3, lease_token = NULL, lease_owner = NULL, \
                     lease_expires_at = NULL \
                     WHERE id = $1 AND lease_token = $2 AND state = 'running' RETURNING queue",
                )
                .bind(lease.task_id)
                .bind(lease.token.as_str())
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(queue) = &queue {
                    pg_notify!(&mut tx, dialect, topic(queue)).await?;
                }
                tx.commit().await?;
                Ok::<_, sqlx::Error>(queue)
            }
            .await
        })
        .map_err(|e| translate(e, "release task").with_context("task_id", lease.task_id))?;
        let queue = queue.ok_or_else(|| lease_lost(lease))?;
        self.store.wake(&topic(&queue));
        Ok(())
    }
}

/// A fresh random lease token (128 bits, hex).
fn new_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn lease_lost(lease: &Lease) -> Error {
    Error::new(
        ErrorCode::TASK_LEASE_LOST,
        format!(
            "worker {} no longer holds the lease on task {}",
            lease.owner, lease.task_id
        ),
    )
    .with_context("task_id", lease.task_id)
    .with_context("worker", lease.owner.as_str())
}
