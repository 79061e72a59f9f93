//! [`QueueCheck`]: a task queue's backlog, or how long its oldest runnable task has waited.

use std::time::Duration;

use foundation_core::{Error, Result, Validate, Validator};
use foundation_store::{QueueStats, TaskQueue};
use serde::{Deserialize, Serialize};

use super::{grade, validate_fail_not_below_warn};
use crate::health::check::{HealthCheck, Observation};

/// Thresholds of [`QueueCheck`]; each measurement reads its own pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueCheckConfig {
    /// Backlog: warn from this many runnable tasks (default 1,000; at least 1).
    pub warn_backlog: u64,
    /// Backlog: fail from this many (default none: never fail; not below `warn_backlog`).
    pub fail_backlog: Option<u64>,
    /// Oldest task: warn when the oldest runnable task has waited this long (default 60 s;
    /// above zero).
    #[serde(rename = "warn_oldest_age_ms", with = "foundation_core::millis")]
    pub warn_oldest_age: Duration,
    /// Oldest task: fail from this age (default none: never fail; not below
    /// `warn_oldest_age_ms`).
    #[serde(
        default,
        rename = "fail_oldest_age_ms",
        with = "foundation_core::millis::option"
    )]
    pub fail_oldest_age: Option<Duration>,
}

impl Default for QueueCheckConfig {
    fn default() -> Self {
        QueueCheckConfig {
            warn_backlog: 1_000,
            fail_backlog: None,
            warn_oldest_age: Duration::from_secs(60),
            fail_oldest_age: None,
        }
    }
}

impl Validate for QueueCheckConfig {
    fn validate_into(&self, v: &mut Validator) {
        v.at_least_one("warn_backlog", self.warn_backlog);
        validate_fail_not_below_warn(
            v,
            "warn_backlog",
            self.warn_backlog,
            "fail_backlog",
            self.fail_backlog,
        );
        v.positive_duration("warn_oldest_age_ms", self.warn_oldest_age);
        validate_fail_not_below_warn(
            v,
            "warn_oldest_age_ms",
            self.warn_oldest_age.as_millis(),
            "fail_oldest_age_ms",
            self.fail_oldest_age.map(|d| d.as_millis()),
        );
    }
}

/// What a [`QueueCheck`] measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueMeasure {
    /// `backlog`: tasks runnable now and not yet leased.
    Backlog,
    /// `oldestTaskAge`: how long the longest-waiting runnable task has waited, in ms.
    OldestTaskAge,
}

impl QueueMeasure {
    /// The measurement name in the check's key.
    pub const fn as_str(self) -> &'static str {
        match self {
            QueueMeasure::Backlog => "backlog",
            QueueMeasure::OldestTaskAge => "oldestTaskAge",
        }
    }
}

/// `queue.NAME:backlog` or `queue.NAME:oldestTaskAge`, from [`TaskQueue::stats`]; fails
/// with the store's error when the stats cannot be read (`NOT_FOUND` for an undeclared
/// queue). Register one of each to watch both.
#[derive(Debug)]
pub struct QueueCheck {
    tasks: TaskQueue,
    queue: String,
    component: String,
    measure: QueueMeasure,
    config: QueueCheckConfig,
}

impl QueueCheck {
    /// A check of `measure` for `queue`; `INVALID_CONFIG` naming the field (`queue` when the
    /// name is empty).
    pub fn new(
        tasks: TaskQueue,
        queue: &str,
        measure: QueueMeasure,
        config: QueueCheckConfig,
    ) -> Result<QueueCheck> {
        if queue.trim().is_empty() {
            return Err(Error::invalid_config("queue", "must not be empty"));
        }
        config.validate()?;
        Ok(QueueCheck {
            tasks,
            queue: queue.to_string(),
            component: format!("queue.{queue}"),
            measure,
            config,
        })
    }

    fn grade(&self, stats: &QueueStats) -> Observation {
        let c = &self.config;
        let age = Duration::from_millis(stats.oldest_available_age_ms);
        let (status, value, unit) = match self.measure {
            QueueMeasure::Backlog => (
                grade(stats.available, c.warn_backlog, c.fail_backlog),
                stats.available,
                "tasks",
            ),
            QueueMeasure::OldestTaskAge => (
                grade(age, c.warn_oldest_age, c.fail_oldest_age),
                stats.oldest_available_age_ms,
                "ms",
            ),
        };
        let paused = if stats.paused {
            "; the queue is paused"
        } else {
            ""
        };
        Observation::with_status(status)
            .value(value)
            .unit(unit)
            .output(format!(
                "{} runnable, oldest waiting {} ms, {} running, {} dead{paused}",
                stats.available, stats.oldest_available_age_ms, stats.running, stats.dead
            ))
    }
}

impl HealthCheck for QueueCheck {
    fn component(&self) -> &str {
        &self.component
    }

    fn measurement(&self) -> &str {
        self.measure.as_str()
    }

    async fn check(&self) -> Observation {
        match self.tasks.stats(&self.queue).await {
            Ok(stats) => self.grade(&stats),
            Err(err) => Observation::from_error(&err),
        }
    }
}
