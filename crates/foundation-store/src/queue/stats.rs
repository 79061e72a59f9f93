//! Counts for the monitor, and pruning of finished tasks.

use std::time::Duration;

use foundation_core::error::Result;
use serde::Serialize;

use super::TaskQueue;
use super::task::check_name;
use crate::error::translate;
use crate::sql::{Columns, with_pool};

/// The window over which [`QueueStats::completed_last_minute`] counts.
const THROUGHPUT_WINDOW_MS: i64 = 60_000;

/// How one queue is doing, as the monitor and health checks read it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct QueueStats {
    /// Runnable now.
    pub available: u64,
    /// Waiting for a later `run_at` (scheduled, or retrying after backoff).
    pub scheduled: u64,
    /// Leased by a worker.
    pub running: u64,
    /// Completed and not yet pruned.
    pub completed: u64,
    /// Cancelled and not yet pruned.
    pub cancelled: u64,
    /// In the dead-letter queue.
    pub dead: u64,
    /// How long the longest-waiting runnable task has been runnable, in milliseconds (0 when
    /// none is).
    pub oldest_available_age_ms: u64,
    /// Tasks completed in the last 60 seconds.
    pub completed_last_minute: u64,
    /// Whether the queue is paused.
    pub paused: bool,
}

impl QueueStats {
    /// Completions per second over the last minute.
    pub fn throughput_per_second(&self) -> f64 {
        self.completed_last_minute as f64 / 60.0
    }
}

impl TaskQueue {
    /// Counts by state, the oldest runnable task's age and the last minute's throughput for
    /// `queue`. `NOT_FOUND` for an undeclared queue.
    pub async fn stats(&self, queue: &str) -> Result<QueueStats> {
        check_name("queue", queue)?;
        let paused = self.queue(queue).await.map(|q| q.paused)?;
        let now = self.store.now_ms();
        let mut stats = with_pool!(&self.store.backend, |pool, _dialect| {
            async {
                let mut stats = QueueStats::default();
                let rows = sqlx::query(
                    "SELECT state, CAST(CASE WHEN state = 'available' AND run_at > $2 THEN 1 ELSE 0 \
                     END AS BIGINT) AS later, COUNT(*) AS n FROM foundation_tasks WHERE queue = $1 \
                     GROUP BY state, later",
                )
                .bind(queue)
                .bind(now)
                .fetch_all(pool)
                .await
                .map_err(|e| translate(e, "queue stats"))?;
                for row in &rows {
                    let n = u64::try_from(row.int("n")?).unwrap_or(0);
                    let later = row.int("later")? != 0;
                    match (row.text("state")?.as_str(), later) {
                        ("available", false) => stats.available += n,
                        ("available", true) => stats.scheduled += n,
                        ("running", _) => stats.running += n,
                        ("completed", _) => stats.completed += n,
                        ("cancelled", _) => stats.cancelled += n,
                        ("dead", _) => stats.dead += n,
                        _ => {}
                    }
                }
                let oldest: Option<i64> = sqlx::query_scalar(
                    "SELECT MIN(run_at) FROM foundation_tasks \
                     WHERE queue = $1 AND state = 'available' AND run_at <= $2",
                )
                .bind(queue)
                .bind(now)
                .fetch_one(pool)
                .await
                .map_err(|e| translate(e, "queue stats"))?;
                stats.oldest_available_age_ms =
                    oldest.map_or(0, |at| u64::try_from(now - at).unwrap_or(0));
                let recent: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM foundation_tasks \
                     WHERE state = 'completed' AND finished_at >= $2 AND queue = $1",
                )
                .bind(queue)
                .bind(now - THROUGHPUT_WINDOW_MS)
                .fetch_one(pool)
                .await
                .map_err(|e| translate(e, "queue stats"))?;
                stats.completed_last_minute = u64::try_from(recent).unwrap_or(0);
                Ok::<_, foundation_core::Error>(stats)
            }
            .await
        })
        .map_err(|e| e.with_context("queue", queue))?;
        stats.paused = paused;
        Ok(stats)
    }

    /// When the next waiting task of `queue` becomes runnable (ms since the Unix epoch), or
    /// `None` when nothing waits. Workers sleep until then.
    pub async fn next_run_at(&self, queue: &str) -> Result<Option<i64>> {
        check_name("queue", queue)?;
        with_pool!(&self.store.backend, |pool, _dialect| {
            sqlx::query_scalar(
                "SELECT MIN(run_at) FROM foundation_tasks WHERE queue = $1 AND state = 'available'",
            )
            .bind(queue)
            .fetch_one(pool)
            .await
        })
        .map_err(|e| translate(e, "next run").with_context("queue", queue))
    }

    /// Deletes completed and cancelled tasks (with their histories) that finished more than
    /// `older_than` ago; returns how many. Dead letters stay until discarded. A pruned
    /// completed task frees its unique key.
    pub async fn prune(&self, older_than: Duration) -> Result<u64> {
        let cutoff = self
            .store
            .now_ms()
            .saturating_sub(Self::duration_ms(older_than));
        with_pool!(&self.store.backend, |pool, _dialect| {
            sqlx::query(
                "DELETE FROM foundation_tasks \
                 WHERE state IN ('completed', 'cancelled') AND finished_at < $1",
            )
            .bind(cutoff)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(|e| translate(e, "prune tasks"))
    }
}
