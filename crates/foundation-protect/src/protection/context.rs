//! What a protected call is told about itself.

use std::time::Duration;

use foundation_core::trace::TraceContext;

/// Passed to the call on every attempt. `'c` is the lifetime of the caller id.
#[derive(Debug, Clone)]
pub struct CallContext<'c> {
    pub(crate) attempt: u32,
    pub(crate) timeout: Option<Duration>,
    pub(crate) caller: Option<&'c str>,
    pub(crate) trace: Option<TraceContext>,
}

impl<'c> CallContext<'c> {
    /// The attempt number, starting at 1.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// This attempt's time budget, if the protection has a timeout stage (useful to pass a
    /// deadline on to the dependency, e.g. as a gRPC or HTTP header).
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The caller (agent or client id) the call was made for, if any.
    pub fn caller(&self) -> Option<&'c str> {
        self.caller
    }

    /// The call's trace context: a child (new span id) of the context current when the call
    /// was made, or `None` when there was none (with a span exporter installed, the call's
    /// exported span's context instead; see [`TraceContext::for_span`]). It is also
    /// [`TraceContext::current`] while the call runs.
    pub fn trace(&self) -> Option<&TraceContext> {
        self.trace.as_ref()
    }

    /// The `traceparent` header value to send to the dependency, when the call is traced.
    pub fn traceparent(&self) -> Option<String> {
        self.trace.as_ref().map(TraceContext::traceparent)
    }

    /// The `tracestate` header value to send with it, when the trace carries one.
    pub fn tracestate(&self) -> Option<String> {
        self.trace
            .as_ref()
            .and_then(TraceContext::tracestate)
            .map(ToString::to_string)
    }
}
