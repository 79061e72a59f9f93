//! The `foundation.protection.call` span names the protection, the attempt and the call's
//! trace. Alone in its test binary: tracing caches each callsite's interest process-wide, so a
//! test on another thread reaching the same callsite without a subscriber could race with the
//! scoped subscriber this one sets.

use std::time::Duration;

use foundation_core::testing::SpanFields;
use foundation_core::trace::TraceContext;
use foundation_core::{Error, ErrorCode, TelemetryBus};
use foundation_protect::protection::Protection;
use foundation_protect::retry::{Backoff, RetryConfig};
use tracing_subscriber::layer::SubscriberExt;

#[tokio::test(start_paused = true)]
async fn the_call_span_names_the_protection_attempt_and_trace() {
    let spans = SpanFields::named("foundation.protection.call");
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(spans.clone()));
    let p = Protection::builder("billing")
        .bus(TelemetryBus::new())
        .retry(RetryConfig {
            max_attempts: 3,
            backoff: Backoff::Constant {
                delay: Duration::from_millis(10),
            },
            ..RetryConfig::default()
        })
        .build()
        .unwrap();
    let root = TraceContext::new_root();
    let call = root
        .clone()
        .scope(p.run(|ctx| async move {
            if ctx.attempt() < 2 {
                Err(Error::new(ErrorCode::NETWORK, "reset"))
            } else {
                Ok(ctx.trace().cloned().unwrap())
            }
        }))
        .await
        .unwrap();

    let recorded = spans.recorded();
    assert_eq!(recorded.len(), 1);
    let fields = &recorded[0];
    assert_eq!(fields["protection"], "billing");
    assert_eq!(fields["attempt"], "2");
    assert_eq!(fields["trace_id"], root.trace_id().to_string());
    assert_eq!(fields["span_id"], call.span_id().to_string());

    // Untraced: the span has no trace fields.
    p.run(|_| async { Ok::<_, Error>(()) }).await.unwrap();
    let untraced = spans
        .recorded()
        .into_iter()
        .find(|f| !f.contains_key("trace_id"))
        .expect("an untraced call span");
    assert_eq!(untraced["attempt"], "1");
}
