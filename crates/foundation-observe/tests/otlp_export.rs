//! Spans exported over OTLP/HTTP to a real local receiver carry Foundation's trace context:
//! a protected call's span has the call's trace and span ids and the caller as parent, and a
//! span opened inside the call is its child. Alone in its test binary: it installs the
//! process's span binder, and tracing caches each callsite's interest process-wide.
#![cfg(feature = "otel")]

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::routing::post;
use foundation_core::trace::TraceContext;
use foundation_core::{Error, TelemetryBus};
use foundation_observe::trace::{OtlpConfig, otlp_layer};
use foundation_protect::protection::Protection;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing_subscriber::layer::SubscriberExt;

/// An OTLP/HTTP receiver: decodes each `POST /v1/traces` and passes it on. Aborted on drop.
struct Receiver {
    addr: SocketAddr,
    requests: mpsc::Receiver<ExportTraceServiceRequest>,
    task: JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(
    State(requests): State<mpsc::Sender<ExportTraceServiceRequest>>,
    body: Bytes,
) -> (StatusCode, [(header::HeaderName, &'static str); 1], Vec<u8>) {
    let status = match ExportTraceServiceRequest::decode(body) {
        Ok(request) => {
            let _ = requests.send(request).await;
            StatusCode::OK
        }
        Err(_) => StatusCode::BAD_REQUEST,
    };
    // An empty body is the protobuf encoding of an empty ExportTraceServiceResponse.
    (
        status,
        [(header::CONTENT_TYPE, "application/x-protobuf")],
        Vec::new(),
    )
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, requests) = mpsc::channel(64);
        let app = Router::new()
            .route("/v1/traces", post(accept))
            .with_state(tx);
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver {
            addr,
            requests,
            task,
        }
    }

    /// Every span received so far, with its resource's attributes.
    fn spans(&mut self) -> Vec<(Vec<KeyValue>, Span)> {
        let mut spans = Vec::new();
        while let Ok(request) = self.requests.try_recv() {
            for resource_spans in request.resource_spans {
                let resource = resource_spans.resource.unwrap_or_default().attributes;
                for scope in resource_spans.scope_spans {
                    spans.extend(scope.spans.into_iter().map(|s| (resource.clone(), s)));
                }
            }
        }
        spans
    }
}

fn string_attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| match kv.value.as_ref() {
            Some(AnyValue {
                value: Some(Value::StringValue(s)),
            }) => Some(s.as_str()),
            _ => None,
        })
}

#[tokio::test]
async fn exported_spans_carry_foundations_trace_context() {
    let mut receiver = Receiver::start().await;
    let config = OtlpConfig {
        endpoint: format!("http://{}", receiver.addr),
        service_name: "checkout".into(),
        ..OtlpConfig::default()
    };
    let (layer, export) = otlp_layer(&config).unwrap();
    let guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));

    let protection = Protection::builder("payments")
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    let caller = TraceContext::new_root();
    let call = caller
        .clone()
        .scope(protection.run(|ctx| async move {
            tracing::info_span!("charge.card").in_scope(|| ());
            Ok::<_, Error>(ctx.trace().cloned().expect("the call is traced"))
        }))
        .await
        .unwrap();
    drop(guard);
    export.shutdown().await.unwrap();

    let spans = receiver.spans();
    let find = |name: &str| {
        spans
            .iter()
            .find(|(_, s)| s.name == name)
            .unwrap_or_else(|| panic!("no span {name} among {} received", spans.len()))
    };
    let (resource, call_span) = find("foundation.protection.call");
    assert_eq!(string_attribute(resource, "service.name"), Some("checkout"));
    assert_eq!(call_span.trace_id, caller.trace_id().to_bytes());
    assert_eq!(call_span.span_id, call.span_id().to_bytes());
    assert_eq!(call_span.parent_span_id, caller.span_id().to_bytes());
    assert_eq!(
        string_attribute(&call_span.attributes, "protection"),
        Some("payments")
    );
    assert_eq!(
        string_attribute(&call_span.attributes, "span_id"),
        Some(call.span_id().to_string().as_str())
    );

    let (_, inner) = find("charge.card");
    assert_eq!(inner.trace_id, caller.trace_id().to_bytes());
    assert_eq!(inner.parent_span_id, call.span_id().to_bytes());
}
