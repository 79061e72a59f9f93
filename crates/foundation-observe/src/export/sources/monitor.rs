//! The performance monitor's operations and the telemetry-bus event counts.

use crate::export::{MetricSource, TextEncoder};
use crate::monitor::{Monitor, OVERFLOW_SOURCE, Window};

const RESTARTED: &str = "foundation.supervisor.child_restarted";

impl MetricSource for Monitor {
    fn collect(&self, out: &mut TextEncoder) {
        let snapshot = self.snapshot(Window::Minute);
        let mut labels: Vec<(&str, &str)> = Vec::new();
        for op in &snapshot {
            labels.clear();
            labels.push(("operation", op.operation.name()));
            labels.extend(op.operation.labels());
            let s = &op.summary;
            let quantiles = [
                ("0.5", s.p50),
                ("0.95", s.p95),
                ("0.99", s.p99),
                ("0.999", s.p999),
            ]
            .map(|(q, value)| (q, value.map_or(f64::NAN, |d| d.as_secs_f64())));
            out.summary(
                "foundation_operation_duration_seconds",
                "Latency of each monitored operation: quantiles over the last minute, sum and count since first seen.",
                &labels,
                &quantiles,
                op.totals.latency_seconds,
                op.totals.count as f64,
            );
            out.counter(
                "foundation_operation_errors_total",
                "Failed calls of each monitored operation since first seen.",
                &labels,
                op.totals.errors as f64,
            );
            if op.totals.units > 0 {
                out.counter(
                    "foundation_operation_units_total",
                    "Units (items, bytes) processed by each monitored operation since first seen.",
                    &labels,
                    op.totals.units as f64,
                );
            }
        }
        out.gauge(
            "foundation_monitor_operations",
            "Operations the performance monitor tracks.",
            &[],
            snapshot.len() as f64,
        );
        out.counter(
            "foundation_monitor_folded_total",
            "Records folded into overflow operations by the monitor's cardinality limits.",
            &[],
            self.folded() as f64,
        );
        out.gauge(
            "foundation_monitor_threshold_breaches",
            "Thresholds currently breached, over all operations.",
            &[],
            self.active_breaches().len() as f64,
        );
        for count in self.event_counts() {
            let labels = [("event", count.event), ("source", &*count.source)];
            out.counter(
                "foundation_events_total",
                "Telemetry-bus events seen by the monitor, per event and source.",
                &labels,
                count.count as f64,
            );
            if count.event == RESTARTED {
                out.counter(
                    "foundation_agent_restarts_total",
                    "Agent restarts, per supervisor.",
                    &[("supervisor", &*count.source)],
                    count.count as f64,
                );
            }
        }
        out.counter(
            "foundation_events_folded_total",
            "Bus events counted under source=\"overflow\" because the event-series limit was reached.",
            &[("source", OVERFLOW_SOURCE)],
            self.events_folded() as f64,
        );
    }
}
