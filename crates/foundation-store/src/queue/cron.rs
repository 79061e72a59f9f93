//! Recurring tasks: a cron expression and a task template, enqueued once per tick.
//!
//! Any number of drivers (every worker calls [`TaskQueue::enqueue_due`] as it polls) may see a
//! tick at once; each tick's task carries the unique key `cron:NAME:TICK_MS`, so the database
//! lets exactly one of them in while that task is kept (waiting, running, or completed until
//! pruned). A driver that read the schedule before it moved on and only enqueues after that
//! tick's task died or was pruned could enqueue the tick a second time; keep the retention
//! longer than a poll interval. The schedule's next tick only moves forward after its task is
//! in, so a driver that dies in between leaves the tick to the next one. Ticks missed while no
//! driver ran are not caught up: only the latest due tick is enqueued.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use croner::Cron;
use foundation_core::error::{Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};

use super::task::{NewTask, check_name};
use super::{TaskId, TaskQueue};
use crate::error::translate;
use crate::sql::{Columns, with_pool};

/// A recurring task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CronSchedule {
    /// The schedule's name, unique in the store.
    pub name: String,
    /// A cron expression in UTC: five fields (minute granularity) or six (with seconds first),
    /// with ranges, steps, lists, names, `L`, `W`, `#` and the `@hourly`-style aliases.
    pub expression: String,
    /// The task enqueued at each tick (its queue must be declared; its unique key is replaced
    /// by the tick's).
    pub task: NewTask,
}

impl CronSchedule {
    /// A schedule named `name` enqueueing `task` at each tick of `expression`.
    pub fn new(name: impl Into<String>, expression: impl Into<String>, task: NewTask) -> Self {
        CronSchedule {
            name: name.into(),
            expression: expression.into(),
            task,
        }
    }

    fn parse(&self) -> Result<Cron> {
        Cron::from_str(&self.expression).map_err(|e| {
            Error::invalid_input(
                "expression",
                format_args!("{:?} is not a cron expression: {e}", self.expression),
            )
        })
    }
}

impl TaskQueue {
    /// Adds or replaces the schedule `schedule.name`; its first tick is the first one after
    /// now. Errors: `INVALID_INPUT` for a bad expression or task, `NOT_FOUND` for an
    /// undeclared queue.
    pub async fn schedule(&self, schedule: CronSchedule) -> Result<()> {
        check_name("name", &schedule.name)?;
        schedule.task.validate()?;
        let cron = schedule.parse()?;
        self.queue(&schedule.task.queue).await?;
        let next = next_tick(&cron, self.store.now_ms(), false)?;
        let template = serde_json::to_string(&schedule)
            .map_err(|e| Error::invalid_input("task", "cannot be encoded").with_source(e))?;
        crate::payload::check_size("task", template.len(), self.store.shared.max_payload_bytes)?;
        with_pool!(&self.store.backend, |pool, _dialect| {
            sqlx::query(
                "INSERT INTO foundation_cron (name, queue, schedule, template, next_run_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET \
                 queue = excluded.queue, schedule = excluded.schedule, \
                 template = excluded.template, next_run_at = excluded.next_run_at",
            )
            .bind(schedule.name.as_str())
            .bind(schedule.task.queue.as_str())
            .bind(schedule.expression.as_str())
            .bind(template)
            .bind(next)
            .execute(pool)
            .await
            .map(drop)
        })
        .map_err(|e| translate(e, "schedule").with_context("name", schedule.name.as_str()))
    }

    /// Removes the schedule `name`; `NOT_FOUND` when there is none. Tasks it enqueued stay.
    pub async fn unschedule(&self, name: &str) -> Result<()> {
        check_name("name", name)?;
        let deleted = with_pool!(&self.store.backend, |pool, _dialect| {
            sqlx::query("DELETE FROM foundation_cron WHERE name = $1")
                .bind(name)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(|e| translate(e, "unschedule").with_context("name", name))?;
        if deleted == 0 {
            return Err(Error::not_found("schedule", name));
        }
        Ok(())
    }

    /// Every schedule, by name, with its next tick (ms since the Unix epoch).
    pub async fn schedules(&self) -> Result<Vec<(CronSchedule, i64)>> {
        let rows = self
            .cron_rows(
                "SELECT template, next_run_at FROM foundation_cron ORDER BY name",
                None,
            )
            .await?;
        Ok(rows)
    }

    /// Enqueues the task of every schedule whose tick has come, once per tick across all
    /// drivers, and returns the ids this call enqueued.
    pub async fn enqueue_due(&self) -> Result<Vec<TaskId>> {
        let now = self.store.now_ms();
        let due = self
            .cron_rows(
                "SELECT template, next_run_at FROM foundation_cron WHERE next_run_at <= $1 \
                 ORDER BY name",
                Some(now),
            )
            .await?;
        let mut enqueued = Vec::new();
        for (schedule, next_run_at) in due {
            let cron = schedule.parse()?;
            // The latest tick that has come (at least the stored one).
            let tick = previous_tick(&cron, now).map_or(next_run_at, |t| t.max(next_run_at));
            let task = NewTask {
                unique_key: Some(format!("cron:{}:{tick}", schedule.name)),
                ..schedule.task.clone()
            };
            match self.enqueue(task).await {
                Ok(id) => enqueued.push(id),
                Err(e) if e.code() == ErrorCode::TASK_DUPLICATE => {}
                Err(e) => return Err(e.with_context("schedule", schedule.name.as_str())),
            }
            let next = next_tick(&cron, now, false)?;
            with_pool!(&self.store.backend, |pool, _dialect| {
                sqlx::query(
                    "UPDATE foundation_cron SET next_run_at = $3 \
                     WHERE name = $1 AND next_run_at = $2",
                )
                .bind(schedule.name.as_str())
                .bind(next_run_at)
                .bind(next)
                .execute(pool)
                .await
                .map(drop)
            })
            .map_err(|e| translate(e, "advance schedule"))?;
        }
        Ok(enqueued)
    }

    async fn cron_rows(&self, sql: &str, now: Option<i64>) -> Result<Vec<(CronSchedule, i64)>> {
        with_pool!(&self.store.backend, |pool, _dialect| {
            let rows = sqlx::query(sql)
                .bind(now)
                .fetch_all(pool)
                .await
                .map_err(|e| translate(e, "read schedules"))?;
            rows.iter()
                .map(|row| {
                    let schedule: CronSchedule = serde_json::from_str(&row.text("template")?)
                        .map_err(|e| {
                            Error::new(ErrorCode::STORE_CORRUPT, "stored schedule does not parse")
                                .with_source(e)
                        })?;
                    Ok((schedule, row.int("next_run_at")?))
                })
                .collect()
        })
    }
}

fn to_datetime(ms: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| Error::invalid_input("time", format_args!("{ms} ms is out of range")))
}

/// The first tick after `ms` (or at it, when `inclusive`), in ms since the Unix epoch.
fn next_tick(cron: &Cron, ms: i64, inclusive: bool) -> Result<i64> {
    cron.find_next_occurrence(&to_datetime(ms)?, inclusive)
        .map(|t| t.timestamp_millis())
        .map_err(|e| Error::invalid_input("expression", format_args!("has no next tick: {e}")))
}

/// The last tick at or before `ms`.
fn previous_tick(cron: &Cron, ms: i64) -> Option<i64> {
    cron.find_previous_occurrence(&to_datetime(ms).ok()?, true)
        .ok()
        .map(|t| t.timestamp_millis())
}
