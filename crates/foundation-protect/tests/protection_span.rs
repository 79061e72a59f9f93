//! The `foundation.protection.call` span names the protection, the attempt and the call's
//! trace. Alone in its test binary: tracing caches each callsite's interest process-wide, so a
//! test on another thread reaching the same callsite without a subscriber could race with the
//! scoped subscriber this one sets.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use foundation_core::trace::TraceContext;
use foundation_core::{Error, ErrorCode, TelemetryBus};
use foundation_protect::protection::Protection;
use foundation_protect::retry::{Backoff, RetryConfig};
use parking_lot::Mutex;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Fields of every `foundation.protection.call` span, as last recorded.
#[derive(Clone, Default)]
struct CallSpans {
    spans: Arc<Mutex<HashMap<u64, BTreeMap<String, String>>>>,
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber> Layer<S> for CallSpans {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _ctx: Context<'_, S>) {
        if attrs.metadata().name() == "foundation.protection.call" {
            let mut fields = BTreeMap::new();
            attrs.record(&mut Fields(&mut fields));
            self.spans.lock().insert(id.into_u64(), fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        if let Some(fields) = self.spans.lock().get_mut(&id.into_u64()) {
            values.record(&mut Fields(fields));
        }
    }
}

#[tokio::test(start_paused = true)]
async fn the_call_span_names_the_protection_attempt_and_trace() {
    let spans = CallSpans::default();
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

    let recorded: Vec<_> = spans.spans.lock().values().cloned().collect();
    assert_eq!(recorded.len(), 1);
    let fields = &recorded[0];
    assert_eq!(fields["protection"], "billing");
    assert_eq!(fields["attempt"], "2");
    assert_eq!(fields["trace_id"], root.trace_id().to_string());
    assert_eq!(fields["span_id"], call.span_id().to_string());

    // Untraced: the span has no trace fields.
    p.run(|_| async { Ok::<_, Error>(()) }).await.unwrap();
    let spans = spans.spans.lock();
    let untraced = spans
        .values()
        .find(|f| !f.contains_key("trace_id"))
        .expect("an untraced call span");
    assert_eq!(untraced["attempt"], "1");
}
