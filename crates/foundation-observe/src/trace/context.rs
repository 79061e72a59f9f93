//! Foundation's [`TraceContext`] as OpenTelemetry's span context, and the binder that makes a
//! `foundation.*` span's exported context the same as Foundation's.

use foundation_core::trace::{SpanId, TraceContext, TraceFlags, TraceId};
use opentelemetry::trace::{self as otel, TraceContextExt};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// `ctx` as the remote parent span context of an exported span.
fn to_otel(ctx: &TraceContext) -> otel::SpanContext {
    otel::SpanContext::new(
        otel::TraceId::from_bytes(ctx.trace_id().to_bytes()),
        otel::SpanId::from_bytes(ctx.span_id().to_bytes()),
        otel::TraceFlags::new(ctx.flags().bits()),
        true,
        otel::TraceState::default(),
    )
}

/// An exported span's context as Foundation's; `None` if it is invalid (a span that is not
/// recorded).
fn from_otel(span: &otel::SpanContext) -> Option<TraceContext> {
    Some(TraceContext::new(
        TraceId::from_bytes(span.trace_id().to_bytes())?,
        SpanId::from_bytes(span.span_id().to_bytes())?,
        TraceFlags::new(span.trace_flags().to_u8()),
    ))
}

/// The [`SpanBinder`](foundation_core::trace::SpanBinder) the OTLP export installs: parents
/// the exported span on `parent` (when given) and answers with its context, or `None` when no
/// OpenTelemetry layer sees the span.
pub(super) fn bind(span: &tracing::Span, parent: Option<&TraceContext>) -> Option<TraceContext> {
    if let Some(parent) = parent {
        let cx = opentelemetry::Context::new().with_remote_span_context(to_otel(parent));
        span.set_parent(cx).ok()?;
    }
    let exported = span
        .with_subscriber(|(id, dispatch)| tracing_opentelemetry::get_otel_context(id, dispatch))
        .flatten()?;
    from_otel(exported.span().span_context())
}
