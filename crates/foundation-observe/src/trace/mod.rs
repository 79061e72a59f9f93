//! Trace export: `tracing` spans to an OpenTelemetry collector over OTLP/HTTP (protobuf),
//! behind the feature `otel`.
//!
//! Foundation carries the W3C trace context itself ([`foundation_core::trace`]): through
//! protected calls, HTTP requests and task payloads. [`otlp_layer`] adds the export: a
//! `tracing_subscriber` layer sending every span to the collector at
//! [`OtlpConfig::endpoint`], and a binder (see
//! [`SpanBinder`](foundation_core::trace::SpanBinder)) that makes each `foundation.*` span's
//! exported context the same as Foundation's: a protected call's span has the call's trace
//! and span ids and the caller's context as parent; a task's span continues its enqueuer's.
//! Spans opened inside them are their children as usual.
//!
//! ```no_run
//! # #[cfg(feature = "otel")]
//! # async fn demo() -> foundation_core::Result<()> {
//! use foundation_observe::trace::{OtlpConfig, otlp_layer};
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! let config = OtlpConfig {
//!     endpoint: "http://127.0.0.1:4318".into(),
//!     service_name: "checkout".into(),
//!     ..OtlpConfig::default()
//! };
//! let (layer, export) = otlp_layer(&config)?;
//! let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
//! // ... traced work ...
//! export.shutdown().await?; // sends what is still buffered
//! # Ok(()) }
//! ```

mod config;
#[cfg(feature = "otel")]
mod context;
#[cfg(feature = "otel")]
mod http_client;
#[cfg(feature = "otel")]
mod otlp;

pub use config::OtlpConfig;
#[cfg(feature = "otel")]
pub use otlp::{OtlpExport, OtlpLayer, otlp_layer};
