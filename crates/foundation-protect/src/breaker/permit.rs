//! [`Permit`]: the right to make one call, and the duty to report how it ended.

use std::sync::Arc;

use foundation_core::Error;

use super::callers::CallerCounters;
use super::engine::{Admission, Inner, Kind};
use crate::outcome::Outcome;

/// Permission to make one call through a breaker.
///
/// Report the call's end with [`record`](Permit::record), [`record_error`](Permit::record_error)
/// or [`record_result`](Permit::record_result). Dropping a permit without recording (the call
/// was cancelled) counts nothing and gives a half-open probe slot back.
#[must_use = "record the call's outcome, or drop the permit if the call was abandoned"]
pub struct Permit {
    inner: Arc<Inner>,
    admission: Admission,
    caller: Option<Arc<CallerCounters>>,
    recorded: bool,
}

impl Permit {
    pub(crate) fn new(
        inner: Arc<Inner>,
        admission: Admission,
        caller: Option<Arc<CallerCounters>>,
    ) -> Permit {
        Permit {
            inner,
            admission,
            caller,
            recorded: false,
        }
    }

    /// Records the call's outcome.
    #[inline]
    pub fn record(mut self, outcome: Outcome) {
        self.recorded = true;
        if let Some(c) = &self.caller {
            c.record(outcome);
        }
        self.inner.record(&self.admission, outcome);
    }

    /// Records a failed call, classified by the breaker's classifier.
    pub fn record_error(self, err: &Error) {
        let outcome = self.inner.classifier.classify(err);
        self.record(outcome);
    }

    /// Records a call's result: `Ok` is a success, `Err` is classified.
    #[inline]
    pub fn record_result<T>(self, result: &Result<T, Error>) {
        match result {
            Ok(_) => self.record(Outcome::Success),
            Err(e) => self.record_error(e),
        }
    }

    /// Whether this permit is one of a half-open breaker's probe calls.
    pub fn is_probe(&self) -> bool {
        self.admission.kind == Kind::Probe
    }
}

impl Drop for Permit {
    #[inline]
    fn drop(&mut self) {
        if !self.recorded {
            self.inner.cancel(&self.admission);
        }
    }
}

impl std::fmt::Debug for Permit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permit")
            .field("breaker", &self.inner.name)
            .field("kind", &self.admission.kind)
            .finish()
    }
}

/// A [`Permit`] that borrows its breaker instead of sharing ownership: no reference count
/// to touch, for callers that hold the breaker while the call runs (the `Protection`
/// facade, [`CircuitBreaker::call`](super::CircuitBreaker::call)). Same duties: record the
/// outcome, or drop it to cancel.
#[must_use = "record the call's outcome, or drop the permit if the call was abandoned"]
pub struct PermitRef<'a> {
    inner: &'a Inner,
    admission: Admission,
    recorded: bool,
}

impl<'a> PermitRef<'a> {
    pub(crate) fn new(inner: &'a Inner, admission: Admission) -> PermitRef<'a> {
        PermitRef {
            inner,
            admission,
            recorded: false,
        }
    }

    /// Records the call's outcome.
    #[inline]
    pub fn record(mut self, outcome: Outcome) {
        self.recorded = true;
        self.inner.record(&self.admission, outcome);
    }

    /// Records a failed call, classified by the breaker's classifier.
    pub fn record_error(self, err: &Error) {
        let outcome = self.inner.classifier.classify(err);
        self.record(outcome);
    }

    /// Records a call's result: `Ok` is a success, `Err` is classified.
    #[inline]
    pub fn record_result<T>(self, result: &Result<T, Error>) {
        match result {
            Ok(_) => self.record(Outcome::Success),
            Err(e) => self.record_error(e),
        }
    }

    /// Whether this permit is one of a half-open breaker's probe calls.
    pub fn is_probe(&self) -> bool {
        self.admission.kind == Kind::Probe
    }
}

impl Drop for PermitRef<'_> {
    #[inline]
    fn drop(&mut self) {
        if !self.recorded {
            self.inner.cancel(&self.admission);
        }
    }
}

impl std::fmt::Debug for PermitRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PermitRef")
            .field("breaker", &self.inner.name)
            .field("kind", &self.admission.kind)
            .finish()
    }
}
