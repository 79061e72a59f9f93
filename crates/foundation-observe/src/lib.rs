//! Observability for Foundation: what an operator needs to see what is happening.
//!
//! - [`monitor`] — the performance monitor: latency, throughput and error rate per operation,
//!   in minute, hour and day windows with percentiles, baselines and thresholds.
//! - [`export`] — Prometheus text exposition of the monitor and every component.
//! - [`health`] — the health aggregator: checks, aggregation, `application/health+json`.
//! - [`memory`] — the memory manager: process and cgroup memory, pressure levels, cleanup.
//! - [`alert`] — alerting: rules over the monitor and health, routing, grouping, silences,
//!   inhibition, escalation, and delivery to log, webhook and channel receivers.
//! - [`trace`] — trace export: `tracing` spans over OpenTelemetry OTLP (feature `otel`), with
//!   Foundation's W3C trace context as their parent.
//!
//! Everything subscribes to the [`TelemetryBus`](foundation_core::telemetry::TelemetryBus),
//! so breakers, limiters, pools, agents and queues feed it without extra wiring.

pub mod alert;
pub mod export;
pub mod health;
pub mod memory;
pub mod monitor;
pub mod trace;
