//! Prometheus text exposition of everything the monitor and the components know.
//!
//! A [`MetricsExporter`] renders its [`MetricSource`]s — the [`Monitor`](crate::monitor::Monitor)
//! (operation latencies, errors, bus event counts, agent restarts), circuit breakers,
//! limiters, bulkheads, pools, the memory-pressure gate and the task queue — into the text
//! format (version 0.0.4) that every scraper reads, and serves it at `GET /metrics`
//! ([`MetricsExporter::router`]). Each family keeps at most
//! [`ExportConfig::max_series_per_family`] label sets; the rest fold into an
//! `{overflow="true"}` series, counted by `foundation_metrics_folded_series`.
//!
//! ```
//! use foundation_observe::export::MetricsExporter;
//! use foundation_observe::monitor::Monitor;
//! use std::time::Duration;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let monitor = Monitor::new();
//! monitor.record_latency("db.query", &[("table", "users")], Duration::from_millis(3))?;
//! let exporter = MetricsExporter::new().with(monitor);
//! let text = exporter.render().await;
//! assert!(text.contains("# TYPE foundation_operation_duration_seconds summary"));
//! assert!(text.contains(r#"foundation_operation_duration_seconds_count{operation="db.query",table="users"} 1"#));
//! # Ok::<(), foundation_core::Error>(())
//! # }).unwrap();
//! ```

mod encoder;
mod sources;

pub use encoder::{FOLDED_SERIES, MetricKind, TextEncoder};
pub use sources::{PressureMetrics, QueueMetrics};

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use futures::future::BoxFuture;
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use foundation_core::{Result, Validate, Validator};

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Something that contributes metric families to a scrape.
pub trait MetricSource: Send + Sync + 'static {
    /// Reads what `collect` will write, if that needs I/O (a database query). Called once
    /// per scrape, before `collect`; the default does nothing.
    fn refresh(&self) -> BoxFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }

    /// Writes the source's samples.
    fn collect(&self, out: &mut TextEncoder);
}

/// Limits of a [`MetricsExporter`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExportConfig {
    /// Most label sets per metric family in one scrape; the rest fold into an overflow
    /// series.
    pub max_series_per_family: usize,
}

impl Default for ExportConfig {
    fn default() -> ExportConfig {
        ExportConfig {
            max_series_per_family: 10_000,
        }
    }
}

impl Validate for ExportConfig {
    fn validate_into(&self, v: &mut Validator) {
        v.at_least_one("max_series_per_family", self.max_series_per_family as u64);
    }
}

/// Renders registered sources as Prometheus text. Cheap to clone; clones share sources.
#[derive(Clone, Default)]
pub struct MetricsExporter {
    config: ExportConfig,
    sources: Arc<RwLock<Vec<Arc<dyn MetricSource>>>>,
}

impl std::fmt::Debug for MetricsExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsExporter")
            .field("config", &self.config)
            .field("sources", &self.sources.read().len())
            .finish()
    }
}

impl MetricsExporter {
    /// An exporter with the default limits and no sources.
    pub fn new() -> MetricsExporter {
        MetricsExporter::default()
    }

    /// An exporter with `config`; `INVALID_CONFIG` naming each bad field.
    pub fn with_config(config: ExportConfig) -> Result<MetricsExporter> {
        config.validate_at("export")?;
        Ok(MetricsExporter {
            config,
            sources: Arc::default(),
        })
    }

    /// Adds a source (builder style).
    pub fn with(self, source: impl MetricSource) -> MetricsExporter {
        self.register(source);
        self
    }

    /// Adds a source.
    pub fn register(&self, source: impl MetricSource) {
        self.sources.write().push(Arc::new(source));
    }

    /// Refreshes every source concurrently, then renders them all.
    pub async fn render(&self) -> String {
        let sources: Vec<Arc<dyn MetricSource>> = self.sources.read().clone();
        futures::future::join_all(sources.iter().map(|s| s.refresh())).await;
        let mut out = TextEncoder::new(self.config.max_series_per_family);
        for source in &sources {
            source.collect(&mut out);
        }
        out.finish()
    }

    /// An axum router serving `GET /metrics`.
    pub fn router(&self) -> Router {
        let exporter = self.clone();
        Router::new().route(
            "/metrics",
            get(move || {
                let exporter = exporter.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, CONTENT_TYPE)],
                        exporter.render().await,
                    )
                        .into_response()
                }
            }),
        )
    }
}
