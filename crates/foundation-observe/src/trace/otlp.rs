//! [`otlp_layer`]: the `tracing_subscriber` layer exporting spans over OTLP/HTTP.

use foundation_core::trace::set_span_binder;
use foundation_core::{Error, ErrorCode, Result, Validate};
use opentelemetry::trace::TracerProvider;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::runtime::Tokio;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::registry::LookupSpan;

use super::OtlpConfig;
use super::context::bind;
use super::http_client::ReqwestClient;

/// The layer made by [`otlp_layer`], for a subscriber `S`.
pub type OtlpLayer<S> = OpenTelemetryLayer<S, SdkTracer>;

/// The export behind an [`OtlpLayer`]: spans are batched and sent in the background, on the
/// tokio runtime [`otlp_layer`] was called on. [`shutdown`](Self::shutdown) it before that
/// runtime stops, so buffered spans are sent.
#[derive(Debug, Clone)]
pub struct OtlpExport {
    provider: SdkTracerProvider,
}

impl OtlpExport {
    /// Sends every span ended so far. `UNAVAILABLE` when the collector refused them or could
    /// not be reached.
    pub async fn flush(&self) -> Result<()> {
        let provider = self.provider.clone();
        blocking("flush", move || provider.force_flush()).await
    }

    /// Sends what is buffered and stops exporting; spans ended later are dropped.
    pub async fn shutdown(self) -> Result<()> {
        blocking("shutdown", move || self.provider.shutdown()).await
    }
}

/// Runs one of the SDK's blocking calls (which wait for the export task on the runtime) on
/// the blocking pool, so a single-threaded runtime keeps serving that task meanwhile.
async fn blocking(
    what: &'static str,
    call: impl FnOnce() -> opentelemetry_sdk::error::OTelSdkResult + Send + 'static,
) -> Result<()> {
    tokio::task::spawn_blocking(call)
        .await
        .map_err(|e| Error::new(ErrorCode::INTERNAL, format!("otlp {what} panicked: {e}")))?
        .map_err(|e| Error::new(ErrorCode::UNAVAILABLE, format!("otlp {what}: {e}")))
}

/// A layer exporting every span it sees to the collector at `config.endpoint`, and the
/// export's handle. It also installs the process's
/// [`SpanBinder`](foundation_core::trace::SpanBinder), so `foundation.*` spans are exported
/// with Foundation's trace and span ids and parents (see the [module docs](super)).
///
/// Must be called on a tokio runtime, which runs the export. `INVALID_CONFIG` names a bad
/// field of `config` (under `otlp.`), or says there is no runtime.
pub fn otlp_layer<S>(config: &OtlpConfig) -> Result<(OtlpLayer<S>, OtlpExport)>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    config.validate_at("otlp")?;
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(Error::new(
            ErrorCode::INVALID_CONFIG,
            "otlp export must be set up on a tokio runtime, which runs it",
        ));
    }
    let client = reqwest::Client::builder()
        .timeout(config.timeout)
        .build()
        .map_err(|e| Error::new(ErrorCode::INTERNAL, format!("otlp http client: {e}")))?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(ReqwestClient(client))
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(config.traces_url())
        .with_timeout(config.timeout)
        .build()
        .map_err(|e| Error::invalid_config("otlp.endpoint", e))?;
    let provider = SdkTracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::builder(exporter, Tokio).build())
        .with_resource(
            Resource::builder()
                .with_service_name(config.service_name.clone())
                .build(),
        )
        .build();
    let tracer = provider.tracer("foundation");
    set_span_binder(bind);
    Ok((
        tracing_opentelemetry::layer().with_tracer(tracer),
        OtlpExport { provider },
    ))
}
