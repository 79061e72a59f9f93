//! What a task is: the [`NewTask`] a caller enqueues, the [`Task`] read back, its
//! [`TaskState`], the [`Lease`] a worker holds, and the [`Backoff`] between attempts.

use std::time::Duration;

use foundation_core::error::{Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::MAX_NAME_LEN;
use crate::payload;
use crate::sql::Columns;

/// The highest (least urgent) priority; `0` runs first.
pub const MAX_PRIORITY: u8 = 9;
/// The most attempts a task may be given.
pub const MAX_ATTEMPTS: u32 = 1_000;
/// The most tags a task may carry.
pub const MAX_TAGS: usize = 32;
/// The longest per-task timeout: one day.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// A task's id, assigned by the store in enqueue order.
pub type TaskId = i64;

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Waiting to run: now, or at its `run_at` (a scheduled task or a retry after backoff).
    Available,
    /// Leased by a worker.
    Running,
    /// Finished successfully.
    Completed,
    /// Cancelled before it finished.
    Cancelled,
    /// Failed its last attempt (or was discarded by its handler): in the dead-letter queue.
    Dead,
}

impl TaskState {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Available => "available",
            TaskState::Running => "running",
            TaskState::Completed => "completed",
            TaskState::Cancelled => "cancelled",
            TaskState::Dead => "dead",
        }
    }

    pub(crate) fn parse(text: &str) -> Result<TaskState> {
        Ok(match text {
            "available" => TaskState::Available,
            "running" => TaskState::Running,
            "completed" => TaskState::Completed,
            "cancelled" => TaskState::Cancelled,
            "dead" => TaskState::Dead,
            other => {
                return Err(Error::new(
                    ErrorCode::STORE_CORRUPT,
                    format!("stored task state {other:?} is not one this build knows"),
                ));
            }
        })
    }
}

/// How long to wait before the next attempt after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Backoff {
    /// The same delay after every failure.
    Fixed {
        /// The delay.
        #[serde(with = "foundation_core::millis")]
        delay: Duration,
    },
    /// `initial × multiplierⁿ⁻¹` after the n-th failure, capped at `max`, with up to `jitter`
    /// (a fraction, 0 to 1) of it taken off at random so retries of many tasks spread out.
    Exponential {
        /// The delay after the first failure.
        #[serde(with = "foundation_core::millis")]
        initial: Duration,
        /// The longest delay.
        #[serde(with = "foundation_core::millis")]
        max: Duration,
        /// The growth factor per failure (at least 1).
        multiplier: f64,
        /// The random fraction taken off each delay (0 = none).
        jitter: f64,
    },
}

impl Default for Backoff {
    /// Exponential from 1 s doubling to at most 1 h, with 10 % jitter.
    fn default() -> Backoff {
        Backoff::Exponential {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(3600),
            multiplier: 2.0,
            jitter: 0.1,
        }
    }
}

impl Backoff {
    /// The delay before the attempt after failed attempt number `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        match *self {
            Backoff::Fixed { delay } => delay,
            Backoff::Exponential {
                initial,
                max,
                multiplier,
                jitter,
            } => {
                let exponent = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
                let raw = initial.as_secs_f64() * multiplier.powi(exponent);
                let capped = raw.min(max.as_secs_f64());
                let jittered = if jitter > 0.0 {
                    capped * (1.0 - jitter * rand::random::<f64>())
                } else {
                    capped
                };
                Duration::try_from_secs_f64(jittered).unwrap_or(max)
            }
        }
    }

    fn validate(&self) -> Result<()> {
        if let Backoff::Exponential {
            initial,
            max,
            multiplier,
            jitter,
        } = *self
        {
            if !(multiplier.is_finite() && multiplier >= 1.0) {
                return Err(Error::invalid_input(
                    "backoff.multiplier",
                    format_args!("must be a finite number of at least 1, got {multiplier}"),
                ));
            }
            if !(0.0..=1.0).contains(&jitter) {
                return Err(Error::invalid_input(
                    "backoff.jitter",
                    format_args!("must be between 0 and 1, got {jitter}"),
                ));
            }
            if max < initial {
                return Err(Error::invalid_input(
                    "backoff.max",
                    "must be at least backoff.initial",
                ));
            }
        }
        Ok(())
    }
}

/// A task to enqueue: built with [`NewTask::new`] and the setters, all optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewTask {
    /// The queue it goes to (declared with
    /// [`TaskQueue::declare`](crate::TaskQueue::declare)).
    pub queue: String,
    /// The handler's input: a JSON object.
    pub payload: Value,
    /// 0 (runs first) to [`MAX_PRIORITY`]; default 0.
    #[serde(default)]
    pub priority: u8,
    /// Run no earlier than this (ms since the Unix epoch); `None` = now.
    #[serde(default)]
    pub run_at_ms: Option<i64>,
    /// Run no earlier than this long after enqueueing (ignored when `run_at_ms` is set).
    #[serde(default, with = "foundation_core::millis::option")]
    pub delay: Option<Duration>,
    /// At most one task with this key per queue is waiting, running or completed.
    #[serde(default)]
    pub unique_key: Option<String>,
    /// Attempts before the task goes to the dead-letter queue; default 20.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// How long one attempt may run; the worker enforces it.
    #[serde(default, with = "foundation_core::millis::option")]
    pub timeout: Option<Duration>,
    /// The delay between attempts.
    #[serde(default)]
    pub backoff: Backoff,
    /// Free-form labels for filtering (dead-letter queries, metrics).
    #[serde(default)]
    pub tags: Vec<String>,
    /// The enqueuer's W3C `traceparent`, so the handler's span links to it. When `None`,
    /// enqueueing fills in the current [`TraceContext`](foundation_core::trace::TraceContext)'s,
    /// if any.
    #[serde(default)]
    pub trace_context: Option<String>,
}

fn default_attempts() -> u32 {
    20
}

impl NewTask {
    /// A task for `queue` with `payload` and the defaults.
    pub fn new(queue: impl Into<String>, payload: Value) -> NewTask {
        NewTask {
            queue: queue.into(),
            payload,
            priority: 0,
            run_at_ms: None,
            delay: None,
            unique_key: None,
            max_attempts: default_attempts(),
            timeout: None,
            backoff: Backoff::default(),
            tags: Vec::new(),
            trace_context: None,
        }
    }

    /// Sets the priority: 0 (first) to [`MAX_PRIORITY`].
    pub fn priority(mut self, priority: u8) -> NewTask {
        self.priority = priority;
        self
    }

    /// Runs no earlier than `at_ms` (ms since the Unix epoch).
    pub fn run_at_ms(mut self, at_ms: i64) -> NewTask {
        self.run_at_ms = Some(at_ms);
        self
    }

    /// Runs no earlier than `delay` after enqueueing.
    pub fn delay(mut self, delay: Duration) -> NewTask {
        self.delay = Some(delay);
        self
    }

    /// Makes the task unique per queue under `key`.
    pub fn unique_key(mut self, key: impl Into<String>) -> NewTask {
        self.unique_key = Some(key.into());
        self
    }

    /// Sets the number of attempts (1 to [`MAX_ATTEMPTS`]).
    pub fn max_attempts(mut self, attempts: u32) -> NewTask {
        self.max_attempts = attempts;
        self
    }

    /// Sets the per-attempt timeout.
    pub fn timeout(mut self, timeout: Duration) -> NewTask {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the backoff between attempts.
    pub fn backoff(mut self, backoff: Backoff) -> NewTask {
        self.backoff = backoff;
        self
    }

    /// Adds a tag.
    pub fn tag(mut self, tag: impl Into<String>) -> NewTask {
        self.tags.push(tag.into());
        self
    }

    /// Carries this W3C `traceparent` instead of the current trace context's.
    pub fn trace_context(mut self, traceparent: impl Into<String>) -> NewTask {
        self.trace_context = Some(traceparent.into());
        self
    }

    /// Checks every field, naming the first bad one.
    pub(crate) fn validate(&self) -> Result<()> {
        check_name("queue", &self.queue)?;
        if self.priority > MAX_PRIORITY {
            return Err(Error::invalid_input(
                "priority",
                format_args!("must be 0 to {MAX_PRIORITY}, got {}", self.priority),
            ));
        }
        if !(1..=MAX_ATTEMPTS).contains(&self.max_attempts) {
            return Err(Error::invalid_input(
                "max_attempts",
                format_args!("must be 1 to {MAX_ATTEMPTS}, got {}", self.max_attempts),
            ));
        }
        if let Some(timeout) = self.timeout
            && (timeout.is_zero() || timeout > MAX_TIMEOUT)
        {
            return Err(Error::invalid_input(
                "timeout",
                format_args!("must be between 1 ms and 24 h, got {timeout:?}"),
            ));
        }
        if let Some(key) = &self.unique_key {
            check_name("unique_key", key)?;
        }
        if self.tags.len() > MAX_TAGS {
            return Err(Error::invalid_input(
                "tags",
                format_args!("at most {MAX_TAGS} tags, got {}", self.tags.len()),
            ));
        }
        for tag in &self.tags {
            check_name("tags", tag)?;
        }
        if let Some(trace) = &self.trace_context
            && trace.len() > MAX_NAME_LEN
        {
            return Err(Error::invalid_input(
                "trace_context",
                format_args!("at most {MAX_NAME_LEN} bytes"),
            ));
        }
        self.backoff.validate()
    }
}

/// Checks a queue name, unique key, tag or worker name: 1 to [`MAX_NAME_LEN`] bytes of
/// letters, digits and `_ - . : /`.
pub(crate) fn check_name(field: &'static str, name: &str) -> Result<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/');
    if name.is_empty() || name.len() > MAX_NAME_LEN || !name.chars().all(ok_char) {
        return Err(Error::invalid_input(
            field,
            format_args!(
                "must be 1 to {MAX_NAME_LEN} bytes of letters, digits and _-.:/, got {name:?}"
            ),
        ));
    }
    Ok(())
}

/// A task as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Task {
    /// Its id.
    pub id: TaskId,
    /// Its queue.
    pub queue: String,
    /// Where it is in its life.
    pub state: TaskState,
    /// 0 (first) to [`MAX_PRIORITY`].
    pub priority: u8,
    /// The handler's input.
    pub payload: Value,
    /// When it may run next (ms since the Unix epoch).
    pub run_at_ms: i64,
    /// Attempts started so far (the running one included).
    pub attempt: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// The per-attempt timeout.
    #[serde(with = "foundation_core::millis::option")]
    pub timeout: Option<Duration>,
    /// The delay between attempts.
    pub backoff: Backoff,
    /// Its unique key.
    pub unique_key: Option<String>,
    /// Its tags.
    pub tags: Vec<String>,
    /// The enqueuer's `traceparent`.
    pub trace_context: Option<String>,
    /// The worker holding it, while running.
    pub lease_owner: Option<String>,
    /// When the running attempt's lease expires (ms since the Unix epoch).
    pub lease_expires_at_ms: Option<i64>,
    /// When it was enqueued (ms since the Unix epoch).
    pub enqueued_at_ms: i64,
    /// When its latest attempt started.
    pub started_at_ms: Option<i64>,
    /// When it completed, was cancelled or died.
    pub finished_at_ms: Option<i64>,
}

/// The columns [`Task::from_row`] reads, in `SELECT` form.
pub(crate) const TASK_COLUMNS: &str = "id, queue, state, priority, payload, run_at, attempt, \
     max_attempts, timeout_ms, backoff, unique_key, tags, trace_context, lease_owner, \
     lease_expires_at, enqueued_at, started_at, finished_at";

impl Task {
    pub(crate) fn from_row(row: &impl Columns) -> Result<Task> {
        let backoff = row.text("backoff")?;
        let tags = row.text("tags")?;
        Ok(Task {
            id: row.int("id")?,
            queue: row.text("queue")?,
            state: TaskState::parse(&row.text("state")?)?,
            priority: u8::try_from(row.int("priority")?).unwrap_or(MAX_PRIORITY),
            payload: payload::decode("payload", &row.text("payload")?)?,
            run_at_ms: row.int("run_at")?,
            attempt: u32::try_from(row.int("attempt")?).unwrap_or(u32::MAX),
            max_attempts: u32::try_from(row.int("max_attempts")?).unwrap_or(u32::MAX),
            timeout: row
                .opt_int("timeout_ms")?
                .map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0))),
            backoff: serde_json::from_str(&backoff).map_err(|e| corrupt("backoff", e))?,
            unique_key: row.opt_text("unique_key")?,
            tags: serde_json::from_str(&tags).map_err(|e| corrupt("tags", e))?,
            trace_context: row.opt_text("trace_context")?,
            lease_owner: row.opt_text("lease_owner")?,
            lease_expires_at_ms: row.opt_int("lease_expires_at")?,
            enqueued_at_ms: row.int("enqueued_at")?,
            started_at_ms: row.opt_int("started_at")?,
            finished_at_ms: row.opt_int("finished_at")?,
        })
    }
}

fn corrupt(field: &'static str, err: serde_json::Error) -> Error {
    Error::new(
        ErrorCode::STORE_CORRUPT,
        format!("stored task {field} does not parse"),
    )
    .with_context("field", field)
    .with_source(err)
}

/// A worker's claim on a running task. Every heartbeat, completion and failure must present it;
/// once the lease expired and the task was handed on (or it was cancelled), they fail with
/// `TASK_LEASE_LOST` and change nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The leased task.
    pub task_id: TaskId,
    /// The secret that proves ownership.
    pub(crate) token: String,
    /// The worker that holds it.
    pub owner: String,
    /// When it expires unless extended (ms since the Unix epoch).
    pub expires_at_ms: i64,
}

/// A task handed to a worker, with the lease it must present.
#[derive(Debug, Clone, PartialEq)]
pub struct LeasedTask {
    /// The task, in state `Running`, with `attempt` counting this attempt.
    pub task: Task,
    /// The worker's lease.
    pub lease: Lease,
}

/// One failed attempt, as kept for the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttemptError {
    /// Which attempt failed (1-based; numbering restarts after a requeue).
    pub attempt: u32,
    /// What went wrong.
    pub error: String,
    /// The worker that ran it.
    pub worker: Option<String>,
    /// When (ms since the Unix epoch).
    pub failed_at_ms: i64,
}

/// A task together with the errors of all its failed attempts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskDetails {
    /// The task.
    pub task: Task,
    /// Every failed attempt, oldest first.
    pub errors: Vec<AttemptError>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn exponential_backoff_grows_and_caps_without_jitter() {
        let backoff = Backoff::Exponential {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(10),
            multiplier: 2.0,
            jitter: 0.0,
        };
        let delays: Vec<u64> = (1..=6).map(|n| backoff.delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 10, 10]);
        assert_eq!(backoff.delay(u32::MAX), Duration::from_secs(10));
    }

    #[test]
    fn jitter_only_shortens_the_delay() {
        let backoff = Backoff::Exponential {
            initial: Duration::from_secs(8),
            max: Duration::from_secs(8),
            multiplier: 1.0,
            jitter: 0.5,
        };
        for _ in 0..100 {
            let d = backoff.delay(3);
            assert!(
                d >= Duration::from_secs(4) && d <= Duration::from_secs(8),
                "{d:?}"
            );
        }
    }

    #[test]
    fn validation_names_the_field() {
        let field = |t: NewTask| {
            t.validate()
                .unwrap_err()
                .context_value("field")
                .map(str::to_owned)
        };
        let t = || NewTask::new("q", json!({}));
        assert_eq!(field(t().priority(10)).as_deref(), Some("priority"));
        assert_eq!(field(t().max_attempts(0)).as_deref(), Some("max_attempts"));
        assert_eq!(
            field(t().max_attempts(MAX_ATTEMPTS + 1)).as_deref(),
            Some("max_attempts")
        );
        assert_eq!(
            field(t().timeout(Duration::ZERO)).as_deref(),
            Some("timeout")
        );
        assert_eq!(field(NewTask::new("", json!({}))).as_deref(), Some("queue"));
        assert_eq!(field(t().tag("has space")).as_deref(), Some("tags"));
        assert_eq!(
            field(t().backoff(Backoff::Exponential {
                initial: Duration::from_secs(1),
                max: Duration::from_secs(2),
                multiplier: f64::NAN,
                jitter: 0.0
            }))
            .as_deref(),
            Some("backoff.multiplier")
        );
        assert!(t().validate().is_ok());
    }

    #[test]
    fn new_task_round_trips_through_json() {
        let task = NewTask::new("mail", json!({"to": "a@b"}))
            .priority(3)
            .delay(Duration::from_secs(5))
            .tag("welcome");
        let text = serde_json::to_string(&task).unwrap();
        assert_eq!(serde_json::from_str::<NewTask>(&text).unwrap(), task);
    }
}
