//! Declaring queues, their settings, pausing and resuming.

use foundation_core::error::{Error, Result};
use serde::{Deserialize, Serialize};

use super::task::check_name;
use super::{TaskQueue, topic};
use crate::error::translate;
use crate::signal::pg_notify;
use crate::sql::{Columns, with_pool};

/// The most tasks of one queue that may run at once across all workers.
pub const MAX_CONCURRENCY: u32 = 100_000;

/// How a queue runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueSettings {
    /// The most tasks of this queue running at once across all workers and nodes; `None` =
    /// no limit beyond each worker's own.
    #[serde(default)]
    pub concurrency: Option<u32>,
}

impl QueueSettings {
    /// Limits the queue to `limit` running tasks across all workers.
    pub fn concurrency(limit: u32) -> QueueSettings {
        QueueSettings {
            concurrency: Some(limit),
        }
    }

    fn validate(&self) -> Result<()> {
        if let Some(limit) = self.concurrency
            && !(1..=MAX_CONCURRENCY).contains(&limit)
        {
            return Err(Error::invalid_input(
                "concurrency",
                format_args!("must be 1 to {MAX_CONCURRENCY}, got {limit}"),
            ));
        }
        Ok(())
    }
}

/// A declared queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueInfo {
    /// Its name.
    pub name: String,
    /// Whether fetches are paused.
    pub paused: bool,
    /// Its settings.
    pub settings: QueueSettings,
}

impl TaskQueue {
    /// Declares `queue` (or updates its settings, keeping its paused state). Idempotent.
    pub async fn declare(&self, queue: &str, settings: QueueSettings) -> Result<()> {
        check_name("queue", queue)?;
        settings.validate()?;
        let now = self.store.now_ms();
        let concurrency = settings.concurrency.map(i64::from);
        with_pool!(&self.store.backend, |pool, _dialect| {
            sqlx::query(
                "INSERT INTO foundation_queues (name, paused, concurrency, created_at) \
                 VALUES ($1, 0, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET concurrency = excluded.concurrency",
            )
            .bind(queue)
            .bind(concurrency)
            .bind(now)
            .execute(pool)
            .await
            .map(drop)
        })
        .map_err(|e| translate(e, "declare queue").with_context("queue", queue))?;
        // A raised limit may let waiting workers take more.
        self.store.wake(&topic(queue));
        Ok(())
    }

    /// Every declared queue, by name.
    pub async fn queues(&self) -> Result<Vec<QueueInfo>> {
        let rows = with_pool!(&self.store.backend, |pool, _dialect| {
            let rows = sqlx::query(
                "SELECT name, paused, concurrency FROM foundation_queues ORDER BY name",
            )
            .fetch_all(pool)
            .await
            .map_err(|e| translate(e, "list queues"))?;
            rows.iter().map(queue_info).collect::<Result<Vec<_>>>()
        })?;
        Ok(rows)
    }

    /// One declared queue; `NOT_FOUND` when it was never declared.
    pub async fn queue(&self, queue: &str) -> Result<QueueInfo> {
        check_name("queue", queue)?;
        with_pool!(&self.store.backend, |pool, _dialect| {
            let row = sqlx::query(
                "SELECT name, paused, concurrency FROM foundation_queues WHERE name = $1",
            )
            .bind(queue)
            .fetch_optional(pool)
            .await
            .map_err(|e| translate(e, "read queue").with_context("queue", queue))?;
            match row {
                Some(row) => queue_info(&row),
                None => Err(unknown_queue(queue)),
            }
        })
    }

    /// Stops handing out the queue's tasks (running ones finish); enqueues still succeed.
    pub async fn pause(&self, queue: &str) -> Result<()> {
        self.set_paused(queue, true).await
    }

    /// Hands out the queue's tasks again and wakes its workers.
    pub async fn resume(&self, queue: &str) -> Result<()> {
        self.set_paused(queue, false).await?;
        self.store.wake(&topic(queue));
        Ok(())
    }

    async fn set_paused(&self, queue: &str, paused: bool) -> Result<()> {
        check_name("queue", queue)?;
        let changed = with_pool!(&self.store.backend, |pool, dialect| {
            async {
                let mut tx = pool.begin_with(dialect.begin_write).await?;
                let changed =
                    sqlx::query("UPDATE foundation_queues SET paused = $1 WHERE name = $2")
                        .bind(i64::from(paused))
                        .bind(queue)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                pg_notify!(&mut tx, dialect, topic(queue)).await?;
                tx.commit().await?;
                Ok::<u64, sqlx::Error>(changed)
            }
            .await
        })
        .map_err(|e| translate(e, "pause queue").with_context("queue", queue))?;
        if changed == 0 {
            return Err(unknown_queue(queue));
        }
        Ok(())
    }
}

fn queue_info(row: &impl Columns) -> Result<QueueInfo> {
    Ok(QueueInfo {
        name: row.text("name")?,
        paused: row.int("paused")? != 0,
        settings: QueueSettings {
            concurrency: row
                .opt_int("concurrency")?
                .map(|c| u32::try_from(c).unwrap_or(u32::MAX)),
        },
    })
}

/// `NOT_FOUND` naming a queue that was never declared.
pub(crate) fn unknown_queue(queue: &str) -> Error {
    Error::not_found("queue", queue).with_context("hint", "declare the queue first")
}
