//! What surrounds one protected call: its trace context, its `tracing` span and its
//! observation.
//!
//! When a [`TraceContext`] is current, the call gets a child of it (a new span id; the
//! exported span's when a span exporter is installed, see [`TraceContext::for_span`]), runs
//! inside it, and hands it to each attempt's [`CallContext`](super::CallContext). Without
//! one (and without an exporter) nothing is made, so an untraced call allocates nothing more.

use std::future::Future;
use std::time::Instant;

use foundation_core::trace::TraceContext;
use foundation_core::{Error, Result};
use futures::FutureExt;
use futures::future::Either;
use tracing::field::{Empty, display};
use tracing::{Instrument, Span};

use super::Protection;
use super::observer::CallRecord;

/// One call's trace context, span and start time.
pub(crate) struct CallScope<'p> {
    protection: &'p Protection,
    trace: Option<TraceContext>,
    span: Span,
    started: Option<Instant>,
}

impl<'p> CallScope<'p> {
    /// Starts a call: a child of the current trace context (if any), the span
    /// `foundation.protection.call`, and the start time when an observer will want it.
    ///
    /// `None` when the call is untraced, unobserved, and its span unwanted: then the stages
    /// run bare, without [`execute`](Self::execute) around them (it would cost the happy
    /// path more than the stages themselves). With no subscriber ever installed, no
    /// observer and no current trace context, that is known before anything is built.
    #[inline]
    pub(crate) fn start(protection: &'p Protection) -> Option<CallScope<'p>> {
        let stages = &*protection.stages;
        if stages.observer.is_none()
            && !tracing::dispatcher::has_been_set()
            && !TraceContext::with_current(|current| current.is_some())
        {
            return None;
        }
        let scope = Self::open(protection);
        (!scope.is_inert()).then_some(scope)
    }

    fn open(protection: &'p Protection) -> CallScope<'p> {
        let stages = &*protection.stages;
        let span = if !tracing::dispatcher::has_been_set() {
            Span::none()
        } else {
            tracing::info_span!(
                "foundation.protection.call",
                protection = &*stages.name,
                attempt = Empty,
                trace_id = Empty,
                span_id = Empty,
            )
        };
        let trace = TraceContext::with_current(|current| TraceContext::for_span(&span, current));
        if let Some(t) = &trace {
            span.record("trace_id", display(t.trace_id()));
            span.record("span_id", display(t.span_id()));
        }
        let started = stages.observer.as_ref().map(|_| stages.clock.now());
        CallScope {
            protection,
            trace,
            span,
            started,
        }
    }

    /// Notes that attempt `attempt` of the call in `scope` (if it has one) starts, and
    /// gives its trace context, for the attempt's [`CallContext`](super::CallContext).
    #[inline]
    pub(crate) fn attempt(scope: Option<&Self>, attempt: u32) -> Option<TraceContext> {
        let scope = scope?;
        scope.span.record("attempt", attempt);
        scope.trace.clone()
    }

    /// Whether the call is untraced, unobserved, and its span unwanted.
    fn is_inert(&self) -> bool {
        self.trace.is_none() && self.started.is_none() && self.span.is_disabled()
    }

    /// Runs the call's stages (`body`, answering with the result and the number of attempts
    /// made) inside its span and trace context, and tells the observer how it ended.
    ///
    /// Built from combinators, not as an `async fn`: an `async fn` would keep `body` as an
    /// argument beside the future that runs it, and each such layer doubled the call's
    /// future (2,208 bytes for an attempt loop of 592).
    pub(crate) fn execute<T>(
        &self,
        body: impl Future<Output = (Result<T>, u32)>,
    ) -> impl Future<Output = Result<T>> {
        let body = body.instrument(self.span.clone());
        let scoped = match &self.trace {
            None => Either::Left(body),
            Some(trace) => Either::Right(trace.clone().scope(body)),
        };
        scoped.map(|(result, attempts)| {
            self.finish(result.as_ref().err(), attempts);
            result
        })
    }

    /// Tells the protection's observer, if any, how the call ended.
    fn finish(&self, error: Option<&Error>, attempts: u32) {
        let stages = &*self.protection.stages;
        if let (Some(observer), Some(started)) = (&stages.observer, self.started) {
            observer.observe(&CallRecord {
                protection: &stages.name,
                elapsed: stages.clock.now().saturating_duration_since(started),
                attempts,
                error,
            });
        }
    }
}
