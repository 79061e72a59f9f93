//! The one facade: [`Protection`] composes every stage around a call.
//!
//! Order: memory gate → rate limit → bulkhead → (retry loop: circuit breaker permit → timeout
//! → the call → record outcome). With [`Protection::with_pool`] a pool checkout sits between
//! the timeout and the call. A refusal is a [`foundation_core::Error`] whose context names the
//! `stage` (`memory_gate`, `rate_limit`, `bulkhead`, `circuit_breaker`, `timeout`, `pool`,
//! `retry`) and the `protection`.
//!
//! Clone is cheap (one `Arc`); the happy path allocates nothing.
//!
//! Each call runs in the `tracing` span `foundation.protection.call` (fields `protection`,
//! `attempt`, `trace_id`, `span_id`). When a
//! [`TraceContext`] is current, the call runs in a child
//! of it (a new span id) that [`CallContext::trace`] hands to the call, to put in outgoing
//! headers. A [`CallObserver`] set on the builder is told every call's outcome.
//!
//! ```
//! use std::time::Duration;
//! use foundation_core::{Error, ErrorCode};
//! use foundation_protect::breaker::BreakerConfig;
//! use foundation_protect::protection::Protection;
//! use foundation_protect::retry::RetryConfig;
//! use foundation_protect::timeout::TimeoutConfig;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() -> Result<(), Error> {
//! let protection = Protection::builder("inventory")
//!     .circuit_breaker(BreakerConfig::default())
//!     .retry(RetryConfig::default())
//!     .timeout(TimeoutConfig { duration: Duration::from_secs(2) })
//!     .build()?;
//!
//! let stock = protection
//!     .run(|ctx| async move {
//!         if ctx.attempt() == 1 {
//!             Err(Error::new(ErrorCode::NETWORK, "connection reset"))
//!         } else {
//!             Ok(42)
//!         }
//!     })
//!     .await?;
//! assert_eq!(stock, 42);
//! # Ok(()) }
//! ```

mod builder;
mod call;
mod config;
mod context;
mod gate;
mod layer;
mod observer;
mod pooled;

use std::future::Future;
use std::ops::ControlFlow;
use std::sync::Arc;

use foundation_core::trace::TraceContext;
use foundation_core::{Clock, Error, ErrorCode, Result};

pub use builder::ProtectionBuilder;
pub use config::{ProtectionConfig, ProtectionRegistry};
pub use context::CallContext;
pub use gate::{ManualGate, MemoryGate, PressureLevel};
pub use layer::{ProtectionLayer, ProtectionService};
pub use observer::{CallObserver, CallRecord};
pub use pooled::PooledProtection;

use crate::breaker::{CircuitBreaker, Permit, PermitRef};
use crate::bulkhead::Bulkhead;
use crate::limiter::Limiter;
use crate::retry::{Retry, RetryDecision, RetryState};
use crate::timeout::Timeout;
use call::CallScope;

/// The stage of a [`Protection`] that refused or failed a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// The memory-pressure gate.
    MemoryGate,
    /// The rate limiter.
    RateLimit,
    /// The bulkhead.
    Bulkhead,
    /// The circuit breaker.
    CircuitBreaker,
    /// The per-attempt timeout.
    Timeout,
    /// The connection pool checkout.
    Pool,
    /// The retry loop (exhausted or out of budget).
    Retry,
}

impl Stage {
    /// The name used in error context and config (`rate_limit`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Stage::MemoryGate => "memory_gate",
            Stage::RateLimit => "rate_limit",
            Stage::Bulkhead => "bulkhead",
            Stage::CircuitBreaker => "circuit_breaker",
            Stage::Timeout => "timeout",
            Stage::Pool => "pool",
            Stage::Retry => "retry",
        }
    }
}

pub(crate) struct Stages {
    pub(crate) name: Arc<str>,
    pub(crate) gate: Option<(Arc<dyn MemoryGate>, PressureLevel)>,
    pub(crate) limiter: Option<Limiter>,
    pub(crate) bulkhead: Option<Bulkhead>,
    pub(crate) breaker: Option<CircuitBreaker>,
    pub(crate) retry: Option<Retry>,
    pub(crate) timeout: Option<Timeout>,
    pub(crate) clock: Clock,
    pub(crate) observer: Option<Arc<dyn CallObserver>>,
}

/// A composed set of protection stages. Cheap to clone.
#[derive(Clone)]
pub struct Protection {
    stages: Arc<Stages>,
}

impl std::fmt::Debug for Protection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = &self.stages;
        f.debug_struct("Protection")
            .field("name", &s.name)
            .field("memory_gate", &s.gate.is_some())
            .field("rate_limit", &s.limiter.is_some())
            .field("bulkhead", &s.bulkhead.is_some())
            .field(
                "circuit_breaker",
                &s.breaker.as_ref().map(|b| b.name().to_string()),
            )
            .field("retry", &s.retry.is_some())
            .field("timeout", &s.timeout.is_some())
            .field("observer", &s.observer.is_some())
            .finish()
    }
}

impl Protection {
    /// Starts building a protection named `name`.
    pub fn builder(name: impl Into<Arc<str>>) -> ProtectionBuilder {
        ProtectionBuilder::new(name.into())
    }

    /// The protection's name.
    pub fn name(&self) -> &str {
        &self.stages.name
    }

    /// The circuit breaker stage, if any (for status and manual control).
    pub fn breaker(&self) -> Option<&CircuitBreaker> {
        self.stages.breaker.as_ref()
    }

    /// The bulkhead stage, if any.
    pub fn bulkhead(&self) -> Option<&Bulkhead> {
        self.stages.bulkhead.as_ref()
    }

    /// The rate-limit stage, if any.
    pub fn limiter(&self) -> Option<&Limiter> {
        self.stages.limiter.as_ref()
    }

    /// Runs `call` through every stage. `call` is invoked once per attempt.
    ///
    /// Nothing happens until the returned future is first polled: the trace context and the
    /// `tracing` span the call runs in are the ones current then.
    pub fn run<T, F, Fut>(&self, call: F) -> impl Future<Output = Result<T>>
    where
        F: FnMut(CallContext<'static>) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.execute(None, call)
    }

    /// Like [`run`](Self::run), on behalf of `caller` (an agent or client id): the breaker
    /// keeps per-caller counts and a keyed rate limiter limits per caller.
    pub fn run_for<'c, T, F, Fut>(
        &self,
        caller: &'c str,
        call: F,
    ) -> impl Future<Output = Result<T>>
    where
        F: FnMut(CallContext<'c>) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.execute(Some(caller), call)
    }

    /// Like [`run`](Self::run), but when the protection refuses or the call finally fails,
    /// returns what `fallback` makes of the error (it may re-raise it).
    pub async fn run_or_else<T, F, Fut, FB>(&self, call: F, fallback: FB) -> Result<T>
    where
        F: FnMut(CallContext<'static>) -> Fut,
        Fut: Future<Output = Result<T>>,
        FB: FnOnce(Error) -> Result<T>,
    {
        match self.execute(None, call).await {
            Ok(v) => Ok(v),
            Err(e) => fallback(e),
        }
    }

    pub(crate) fn refused(&self, err: Error, stage: Stage) -> Error {
        err.with_context("stage", stage.as_str())
            .with_context("protection", &*self.stages.name)
    }

    /// The stages before the retry loop: memory gate, rate limit, bulkhead. Returns the
    /// bulkhead permit to hold for the whole call.
    pub(crate) async fn admit(
        &self,
        caller: Option<&str>,
    ) -> Result<Option<crate::bulkhead::BulkheadPermit>> {
        let s = &*self.stages;
        if let Some((gate, refuse_at)) = &s.gate {
            let level = gate.level();
            if level >= *refuse_at {
                let err = Error::new(
                    ErrorCode::MEMORY_PRESSURE,
                    format!("memory pressure is {}; new work is refused", level.as_str()),
                );
                return Err(self.refused(err, Stage::MemoryGate));
            }
        }
        if let Some(limiter) = &s.limiter {
            let decided = match limiter.try_check_n_now(caller, 1) {
                Some(decided) => decided,
                // A distributed limiter's round trip: boxed so its large future does not
                // weigh on every in-memory call.
                None => Box::pin(limiter.check_n(caller, 1)).await,
            };
            if let Err(e) = decided {
                return Err(self.refused(e, Stage::RateLimit));
            }
        }
        match &s.bulkhead {
            Some(b) => match b.acquire().await {
                Ok(p) => Ok(Some(p)),
                Err(e) => Err(self.refused(e, Stage::Bulkhead)),
            },
            None => Ok(None),
        }
    }

    /// Takes a breaker permit for one attempt: borrowed (no reference count touched) unless
    /// the call is made for a caller, whose counts the owned permit carries.
    #[inline]
    pub(crate) fn permit(&self, caller: Option<&str>) -> Result<Option<AttemptPermit<'_>>> {
        let Some(b) = &self.stages.breaker else {
            return Ok(None);
        };
        let permit = match caller {
            Some(c) => b.try_acquire_for(c).map(AttemptPermit::ForCaller),
            None => b.try_acquire_ref().map(AttemptPermit::Shared),
        };
        permit
            .map(Some)
            .map_err(|e| self.refused(e, Stage::CircuitBreaker))
    }

    /// Runs one attempt's future under the timeout stage.
    pub(crate) async fn timed<T>(&self, fut: impl Future<Output = Result<T>>) -> Result<T> {
        match &self.stages.timeout {
            None => fut.await,
            Some(t) => match t.deadline(fut).await {
                Ok(r) => r,
                Err(e) => Err(self.refused(e, Stage::Timeout)),
            },
        }
    }

    #[inline]
    pub(crate) fn context<'c>(
        &self,
        attempt: u32,
        caller: Option<&'c str>,
        trace: Option<TraceContext>,
    ) -> CallContext<'c> {
        CallContext {
            attempt,
            timeout: self.stages.timeout.as_ref().map(Timeout::duration),
            caller,
            trace,
        }
    }

    /// The retry state for one call, if the protection retries.
    #[inline]
    pub(crate) fn start_retries(&self) -> Option<RetryState<'_>> {
        self.stages.retry.as_ref().map(Retry::start)
    }

    /// Decides what follows an attempt: `Break` with the call's final result, or
    /// `Continue` after waiting out the backoff.
    pub(crate) async fn after_attempt<T>(
        &self,
        retries: &mut Option<RetryState<'_>>,
        result: Result<T>,
    ) -> ControlFlow<Result<T>> {
        let Some(state) = retries else {
            return ControlFlow::Break(result);
        };
        match result {
            Ok(v) => {
                state.on_success();
                ControlFlow::Break(Ok(v))
            }
            // The failure path (backoff sleep, dead letter) is boxed to keep the happy
            // path's future small.
            Err(e) => Box::pin(self.after_failure(state, e)).await,
        }
    }

    async fn after_failure<T>(
        &self,
        state: &mut RetryState<'_>,
        e: Error,
    ) -> ControlFlow<Result<T>> {
        match state.on_failure(e) {
            RetryDecision::RetryAfter(delay) => {
                tokio::time::sleep(delay).await;
                ControlFlow::Continue(())
            }
            RetryDecision::GiveUp(e) => {
                state.send_dead_letter().await;
                let from_retry =
                    e.is(ErrorCode::RETRY_EXHAUSTED) || e.is(ErrorCode::RETRY_BUDGET_EXHAUSTED);
                ControlFlow::Break(Err(if from_retry {
                    self.refused(e, Stage::Retry)
                } else {
                    e
                }))
            }
        }
    }

    /// The attempt number the retry state is at (1 without retries).
    #[inline]
    pub(crate) fn attempt_number(retries: &Option<RetryState<'_>>) -> u32 {
        retries.as_ref().map_or(1, RetryState::attempt)
    }

    async fn execute<'c, T, F, Fut>(&self, caller: Option<&'c str>, mut call: F) -> Result<T>
    where
        F: FnMut(CallContext<'c>) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        match CallScope::start(self) {
            None => self.attempts(caller, &mut call, None).await.0,
            Some(scope) => {
                scope
                    .execute(self.attempts(caller, &mut call, Some(&scope)))
                    .await
            }
        }
    }

    /// The stages of one call, attempt after attempt: the result and the attempts made.
    async fn attempts<'c, T, F, Fut>(
        &self,
        caller: Option<&'c str>,
        call: &mut F,
        scope: Option<&CallScope<'_>>,
    ) -> (Result<T>, u32)
    where
        F: FnMut(CallContext<'c>) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let _bulkhead = match self.admit(caller).await {
            Ok(permit) => permit,
            Err(refused) => return (Err(refused), 0),
        };
        let mut retries = self.start_retries();
        loop {
            let attempt = Protection::attempt_number(&retries);
            let trace = CallScope::attempt(scope, attempt);
            let result = match self.permit(caller) {
                Err(refused) => Err(refused),
                Ok(permit) => {
                    let ctx = self.context(attempt, caller, trace);
                    let result = self.timed(call(ctx)).await;
                    if let Some(p) = permit {
                        p.record_result(&result);
                    }
                    result
                }
            };
            if let ControlFlow::Break(done) = self.after_attempt(&mut retries, result).await {
                return (done, attempt);
            }
        }
    }
}

/// The breaker's permit for one attempt.
pub(crate) enum AttemptPermit<'a> {
    Shared(PermitRef<'a>),
    ForCaller(Permit),
}

impl AttemptPermit<'_> {
    pub(crate) fn record_result<T>(self, result: &Result<T>) {
        match self {
            AttemptPermit::Shared(p) => p.record_result(result),
            AttemptPermit::ForCaller(p) => p.record_result(result),
        }
    }
}
