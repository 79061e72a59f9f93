//! [`RetryState`]: one call's retry loop, for callers that drive the loop themselves.

use std::time::{Duration, Instant};

use foundation_core::{Error, ErrorCode};

use super::Inner;
use super::backoff::BackoffState;
use super::dead_letter::{AttemptRecord, DeadLetter};
use super::events::{DeadLetterFailed, GiveUpReason, RetryAttempt, RetryExhausted};

/// What to do after a failed attempt.
#[derive(Debug)]
pub enum RetryDecision {
    /// Wait this long, then make attempt [`RetryState::attempt`].
    RetryAfter(Duration),
    /// Stop and return this error to the caller.
    GiveUp(Error),
}

/// Whether the error is a circuit breaker's refusal, which retrying now cannot get past.
pub fn is_breaker_refusal(error: &Error) -> bool {
    let code = error.code();
    code == ErrorCode::CIRCUIT_OPEN
        || code == ErrorCode::CIRCUIT_FORCED_OPEN
        || code == ErrorCode::CIRCUIT_HALF_OPEN_FULL
}

/// The progress of one call through its attempts, from [`Retry::start`](super::Retry::start).
///
/// ```
/// use foundation_core::{Error, ErrorCode};
/// use foundation_protect::retry::{Retry, RetryConfig, RetryDecision};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Error> {
/// let retry = Retry::new(RetryConfig::default())?;
/// let mut state = retry.start();
/// let result = loop {
///     let outcome: Result<u32, Error> = if state.attempt() < 2 {
///         Err(Error::new(ErrorCode::NETWORK, "connection reset"))
///     } else {
///         Ok(state.attempt())
///     };
///     match outcome {
///         Ok(v) => { state.on_success(); break Ok(v); }
///         Err(e) => match state.on_failure(e) {
///             RetryDecision::RetryAfter(delay) => tokio::time::sleep(delay).await,
///             RetryDecision::GiveUp(e) => { state.send_dead_letter().await; break Err(e); }
///         },
///     }
/// };
/// assert_eq!(result?, 2);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct RetryState<'a> {
    inner: &'a Inner,
    attempt: u32,
    started: Option<Instant>,
    backoff: BackoffState,
    records: Vec<AttemptRecord>,
    pub(super) payload: Option<Box<serde_json::Value>>,
    gave_up: Option<GiveUpReason>,
}

impl<'a> RetryState<'a> {
    pub(super) fn new(inner: &'a Inner) -> RetryState<'a> {
        if let Some(budget) = &inner.budget {
            budget.deposit();
        }
        RetryState {
            inner,
            attempt: 1,
            started: inner.config.max_total_time.map(|_| inner.clock.now()),
            backoff: BackoffState::new(inner.jitter_seed),
            records: Vec::new(),
            payload: None,
            gave_up: None,
        }
    }

    /// The number of the attempt to make now, 1-based.
    #[inline]
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Why the loop gave up, once [`RetryDecision::GiveUp`] was returned.
    pub fn gave_up(&self) -> Option<GiveUpReason> {
        self.gave_up
    }

    /// Attaches the operation's payload to the dead letter sent if retrying gives up.
    pub fn set_payload(&mut self, payload: serde_json::Value) {
        self.payload = Some(Box::new(payload));
    }

    /// Records that the current attempt succeeded.
    #[inline]
    pub fn on_success(&mut self) {
        if self.attempt > 1 {
            tracing::debug!(
                retry = &*self.inner.name,
                attempt = self.attempt,
                "foundation.retry.succeeded"
            );
        }
    }

    /// Records that the current attempt failed with `err` and decides what comes next.
    ///
    /// In order:
    /// 1. a circuit breaker's refusal (`CIRCUIT_OPEN`, `CIRCUIT_FORCED_OPEN`,
    ///    `CIRCUIT_HALF_OPEN_FULL`) gives up at once with that error unchanged;
    /// 2. an error the classifier says is not retryable gives up with that error unchanged
    ///    (wrapping it would hide its code from callers matching on it);
    /// 3. after `max_attempts` attempts, gives up with `RETRY_EXHAUSTED`;
    /// 4. the delay is the backoff's, raised to the error's `retry_after` if that is longer;
    ///    if waiting it would end past `max_total_time`, gives up with `RETRY_EXHAUSTED`;
    /// 5. if the retry budget is spent, gives up with `RETRY_BUDGET_EXHAUSTED`;
    /// 6. otherwise retries after the delay.
    ///
    /// `RETRY_EXHAUSTED` and `RETRY_BUDGET_EXHAUSTED` carry the last error as their source,
    /// its `retry_after`, and context `retry`, `attempts`, `last_code` (and `reason`).
    pub fn on_failure(&mut self, err: Error) -> RetryDecision {
        let inner = self.inner;
        let attempt = self.attempt;
        if self.gave_up.is_some() {
            return RetryDecision::GiveUp(err);
        }
        if inner.sink.is_some() {
            self.records.push(AttemptRecord::new(attempt, &err));
        }
        if is_breaker_refusal(&err) {
            return self.give_up(err, GiveUpReason::CircuitOpen);
        }
        if !inner.classifier.is_retryable(&err) {
            return self.give_up(err, GiveUpReason::NotRetryable);
        }
        if attempt >= inner.config.max_attempts {
            return self.give_up(err, GiveUpReason::MaxAttempts);
        }
        let mut delay = self.backoff.next_delay(&inner.config, attempt);
        if let Some(after) = err.retry_after() {
            delay = delay.max(after);
        }
        if let (Some(started), Some(total)) = (self.started, inner.config.max_total_time) {
            let elapsed = inner.clock.now().saturating_duration_since(started);
            if elapsed.saturating_add(delay) > total {
                return self.give_up(err, GiveUpReason::MaxTotalTime);
            }
        }
        if inner.budget.as_ref().is_some_and(|b| !b.try_withdraw()) {
            return self.give_up(err, GiveUpReason::Budget);
        }
        self.attempt += 1;
        tracing::debug!(
            retry = &*inner.name,
            attempt,
            delay_ms = delay.as_millis() as u64,
            code = err.code().name(),
            "foundation.retry.attempt"
        );
        inner.bus.emit(RetryAttempt {
            retry: inner.name.clone(),
            attempt,
            delay,
            code: err.code(),
        });
        RetryDecision::RetryAfter(delay)
    }

    fn give_up(&mut self, last: Error, reason: GiveUpReason) -> RetryDecision {
        let inner = self.inner;
        let attempts = self.attempt;
        let last_code = last.code();
        self.gave_up = Some(reason);
        tracing::debug!(
            retry = &*inner.name,
            attempts,
            last_code = last_code.name(),
            reason = reason.as_str(),
            "foundation.retry.exhausted"
        );
        inner.bus.emit(RetryExhausted {
            retry: inner.name.clone(),
            attempts,
            last_code,
            reason,
        });
        let error = match reason {
            GiveUpReason::CircuitOpen | GiveUpReason::NotRetryable => {
                return RetryDecision::GiveUp(last);
            }
            GiveUpReason::Budget => Error::new(
                ErrorCode::RETRY_BUDGET_EXHAUSTED,
                format!("retry budget spent, not retrying; last error: {last}"),
            ),
            GiveUpReason::MaxAttempts | GiveUpReason::MaxTotalTime => Error::new(
                ErrorCode::RETRY_EXHAUSTED,
                format!("gave up after {attempts} attempts; last error: {last}"),
            ),
        };
        let mut error = error
            .with_context("retry", &inner.name)
            .with_context("attempts", attempts)
            .with_context("last_code", last_code.name())
            .with_context("reason", reason.as_str());
        if let Some(after) = last.retry_after() {
            error = error.with_retry_after(after);
        }
        RetryDecision::GiveUp(error.with_source(last))
    }

    /// After a [`RetryDecision::GiveUp`] — whatever the [`GiveUpReason`], so a
    /// non-retryable failure or a breaker refusal is dead-lettered too (filter on
    /// [`DeadLetter::reason`] in the sink) — hands the operation to the dead-letter sink, if
    /// one is configured: its name, the reason, every attempt's error and the payload. Does
    /// nothing otherwise, or if already sent. A sink failure is logged and published as
    /// [`DeadLetterFailed`], never returned.
    pub async fn send_dead_letter(&mut self) {
        let Some(sink) = &self.inner.sink else { return };
        let Some(reason) = self.gave_up else { return };
        if self.records.is_empty() {
            return;
        }
        let letter = DeadLetter {
            operation: self.inner.name.to_string(),
            reason,
            attempts: std::mem::take(&mut self.records),
            payload: self.payload.take().map(|p| *p),
        };
        if let Err(e) = sink.send(letter).await {
            tracing::warn!(retry = &*self.inner.name, error = %e, "foundation.retry.dead_letter_failed");
            self.inner.bus.emit(DeadLetterFailed {
                retry: self.inner.name.clone(),
                code: e.code(),
                message: e.to_string(),
            });
        }
    }
}
