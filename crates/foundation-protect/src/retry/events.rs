//! Telemetry events published by [`Retry`](super::Retry).

use std::sync::Arc;
use std::time::Duration;

use foundation_core::{ErrorCode, Event};

/// `foundation.retry.attempt`: an attempt failed and another will follow after `delay`.
#[derive(Debug, Clone)]
pub struct RetryAttempt {
    /// The retry's name.
    pub retry: Arc<str>,
    /// The number of the attempt that failed, 1-based.
    pub attempt: u32,
    /// The wait before the next attempt.
    pub delay: Duration,
    /// The failed attempt's error code.
    pub code: ErrorCode,
}

impl Event for RetryAttempt {
    fn name(&self) -> &'static str {
        "foundation.retry.attempt"
    }
    fn source(&self) -> &str {
        &self.retry
    }
}

/// Why retrying stopped without success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GiveUpReason {
    /// `max_attempts` were made.
    MaxAttempts,
    /// The next wait would end past `max_total_time`.
    MaxTotalTime,
    /// The retry budget is spent.
    Budget,
    /// The classifier said the error is not worth retrying.
    NotRetryable,
    /// A circuit breaker refused the call; retrying now cannot succeed.
    CircuitOpen,
}

impl GiveUpReason {
    /// The lower-case name (`"max_attempts"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            GiveUpReason::MaxAttempts => "max_attempts",
            GiveUpReason::MaxTotalTime => "max_total_time",
            GiveUpReason::Budget => "budget",
            GiveUpReason::NotRetryable => "not_retryable",
            GiveUpReason::CircuitOpen => "circuit_open",
        }
    }
}

/// `foundation.retry.exhausted`: retrying gave up (for any [`GiveUpReason`]).
#[derive(Debug, Clone)]
pub struct RetryExhausted {
    /// The retry's name.
    pub retry: Arc<str>,
    /// Attempts made.
    pub attempts: u32,
    /// The last attempt's error code.
    pub last_code: ErrorCode,
    /// Why it stopped.
    pub reason: GiveUpReason,
}

impl Event for RetryExhausted {
    fn name(&self) -> &'static str {
        "foundation.retry.exhausted"
    }
    fn source(&self) -> &str {
        &self.retry
    }
}

/// `foundation.retry.dead_letter_failed`: the dead-letter sink refused a letter.
#[derive(Debug, Clone)]
pub struct DeadLetterFailed {
    /// The retry's name.
    pub retry: Arc<str>,
    /// The sink's error code.
    pub code: ErrorCode,
    /// The sink's error text.
    pub message: String,
}

impl Event for DeadLetterFailed {
    fn name(&self) -> &'static str {
        "foundation.retry.dead_letter_failed"
    }
    fn source(&self) -> &str {
        &self.retry
    }
}
