//! A hook told the outcome of every protected call, for the performance monitor.

use std::time::Duration;

use foundation_core::Error;

/// Told once per [`Protection::run`](super::Protection::run) (and its variants) with the
/// call's final outcome: a success, the call's last error, or a refusal by any stage (memory
/// gate, rate limit, bulkhead, circuit breaker). Set with
/// [`ProtectionBuilder::observer`](super::ProtectionBuilder::observer).
///
/// It runs on the caller's task right after the call, so it must be quick and must not block
/// (record into atomics or a histogram, not I/O).
pub trait CallObserver: Send + Sync + 'static {
    /// Records one finished call.
    fn observe(&self, call: &CallRecord<'_>);
}

/// What a [`CallObserver`] is told about one call.
#[non_exhaustive]
#[derive(Debug, Clone, Copy)]
pub struct CallRecord<'a> {
    /// The protection's name.
    pub protection: &'a str,
    /// From admission to the final outcome (backoff waits included), on the protection's
    /// clock.
    pub elapsed: Duration,
    /// The attempts made: 0 when the call was refused before its first attempt (memory gate,
    /// rate limit, bulkhead), else the number of the last attempt.
    pub attempts: u32,
    /// The error the caller got, if the call did not succeed.
    pub error: Option<&'a Error>,
}
