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
    pub(crate) fn start(protection: &'p Protection) -> CallScope<'p> {
        let stages = &*protection.stages;
        // With no subscriber ever installed no span can be wanted; skip building one.
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

    /// The call's trace context, for an attempt's [`CallContext`](super::CallContext).
    pub(crate) fn trace(&self) -> Option<TraceContext> {
        self.trace.clone()
    }

    /// Notes that attempt `attempt` starts.
    pub(crate) fn attempt(&self, attempt: u32) {
        self.span.record("attempt", attempt);
    }

    /// Whether the call is untraced, unobserved, and its span unwanted: then the stages run
    /// bare, without [`execute`](Self::execute) around them (it would cost the happy path
    /// more than the stages themselves).
    pub(crate) fn is_inert(&self) -> bool {
        self.trace.is_none() && self.started.is_none() && self.span.is_disabled()
    }

    /// Runs the call's stages (`body`, answering with the result and the number of attempts
    /// made) inside its span and trace context, and tells the observer how it ended.
    pub(crate) async fn execute<T>(
        &self,
        body: impl Future<Output = (Result<T>, u32)>,
    ) -> Result<T> {
        let (result, attempts) = self.run(body).await;
        self.finish(result.as_ref().err(), attempts);
        result
    }

    async fn run<T>(&self, body: impl Future<Output = (Result<T>, u32)>) -> (Result<T>, u32) {
        // A disabled span (no subscriber wants it) is not entered on every poll.
        match (&self.trace, self.span.is_disabled()) {
            (None, true) => body.await,
            (None, false) => body.instrument(self.span.clone()).await,
            (Some(trace), true) => trace.clone().scope(body).await,
            (Some(trace), false) => {
                trace
                    .clone()
                    .scope(body.instrument(self.span.clone()))
                    .await
            }
        }
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
