//! The performance monitor against a bare `hdrhistogram` and the `metrics` crate with its
//! Prometheus recorder.
//!
//! Run: `cargo bench -p foundation-bench --bench observe -- --warm-up-time 1 --measurement-time 3`
//!
//! Groups:
//! - `record/*`: one latency recorded. `foundation_handle` records through an
//!   `OperationHandle` (one relaxed atomic add into a per-thread shard); `hdrhistogram` is a
//!   bare `Histogram::record` on an owned histogram (no sharing, no windows);
//!   `metrics_handle` a registered `metrics::Histogram` of `metrics-exporter-prometheus`;
//!   `foundation_by_name` and `metrics_macro` look the operation up by name and one label on
//!   every record.
//! - `record_2_threads/*`: the same handle recorded from two threads at once (hdrhistogram
//!   behind a `Mutex`, as sharing one needs); time per record.
//! - `read_hour_p99/*`: the p99 of an hour of one operation (60 minutes × 1,000 calls):
//!   Foundation merges its 60 minute periods; the hdrhistogram line merges 60 per-minute
//!   histograms the same way and asks for the quantile.
//! - `render_1000_series/*`: `/metrics` text for 1,000 operations, each a summary series;
//!   `metrics` renders 1,000 histograms (as summaries, its default).

use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use foundation_core::{ManualClock, TelemetryBus};
use foundation_observe::export::MetricsExporter;
use foundation_observe::monitor::{Monitor, Window};
use hdrhistogram::Histogram;
use metrics::{Key, Label, Metadata, Recorder};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};

/// Latencies cycled through, in nanoseconds (100 µs – 12.8 ms).
const VALUES: [u64; 8] = [
    100_000, 250_000, 480_000, 1_000_000, 1_700_000, 3_200_000, 6_400_000, 12_800_000,
];

fn monitor() -> Monitor {
    Monitor::builder().bus(TelemetryBus::new()).build().unwrap()
}

fn hdr() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 2).unwrap()
}

fn recorder() -> PrometheusRecorder {
    PrometheusBuilder::new().build_recorder()
}

fn metadata() -> Metadata<'static> {
    Metadata::new("bench", metrics::Level::INFO, None)
}

fn record(c: &mut Criterion) {
    let mut g = c.benchmark_group("record");
    let m = monitor();
    let handle = m.operation("db.query", &[("table", "users")]).unwrap();
    let mut i = 0usize;
    g.bench_function("foundation_handle", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            handle.record(Duration::from_nanos(VALUES[i & 7]));
        })
    });
    let mut h = hdr();
    g.bench_function("hdrhistogram", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            h.record(black_box(VALUES[i & 7])).unwrap();
        })
    });
    let rec = recorder();
    let key = Key::from_parts("db_query_seconds", vec![Label::new("table", "users")]);
    let histogram = rec.register_histogram(&key, &metadata());
    g.bench_function("metrics_handle", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            histogram.record(VALUES[i & 7] as f64 / 1e9);
        })
    });
    g.bench_function("foundation_by_name", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            m.record_latency(
                "db.query",
                &[("table", "users")],
                Duration::from_nanos(VALUES[i & 7]),
            )
            .unwrap();
        })
    });
    metrics::with_local_recorder(&rec, || {
        g.bench_function("metrics_macro", |b| {
            b.iter(|| {
                i = i.wrapping_add(1);
                metrics::histogram!("db_query_seconds", "table" => "users")
                    .record(VALUES[i & 7] as f64 / 1e9);
            })
        });
    });
    g.finish();
}

/// Times `n` records split over two threads, each running `work(thread, count)`.
fn two_threads(n: u64, work: impl Fn(u64) + Sync) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| work(n / 2));
        }
    });
    start.elapsed()
}

fn record_two_threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("record_2_threads");
    let m = monitor();
    let handle = m.operation("db.query", &[]).unwrap();
    g.bench_function("foundation_handle", |b| {
        b.iter_custom(|n| {
            two_threads(n, |count| {
                for i in 0..count as usize {
                    handle.record(Duration::from_nanos(VALUES[i & 7]));
                }
            })
        })
    });
    let shared = Mutex::new(hdr());
    g.bench_function("hdrhistogram_mutex", |b| {
        b.iter_custom(|n| {
            two_threads(n, |count| {
                for i in 0..count as usize {
                    shared.lock().unwrap().record(VALUES[i & 7]).unwrap();
                }
            })
        })
    });
    let rec = recorder();
    let histogram = rec.register_histogram(&Key::from_name("db_query_seconds"), &metadata());
    g.bench_function("metrics_handle", |b| {
        b.iter_custom(|n| {
            two_threads(n, |count| {
                for i in 0..count as usize {
                    histogram.record(VALUES[i & 7] as f64 / 1e9);
                }
            })
        })
    });
    g.finish();
}

fn read_hour_p99(c: &mut Criterion) {
    let mut g = c.benchmark_group("read_hour_p99");
    let time = ManualClock::new();
    let m = Monitor::builder()
        .clock(time.clock())
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    let handle = m.operation("db.query", &[]).unwrap();
    let mut minutes = Vec::new();
    for minute in 0..60u64 {
        let mut h = hdr();
        for i in 0..1_000u64 {
            let v = VALUES[(i % 8) as usize] + minute * 1_000 + i;
            handle.record(Duration::from_nanos(v));
            h.record(v).unwrap();
        }
        m.tick();
        minutes.push(h);
        time.advance(Duration::from_secs(60));
    }
    time.advance(Duration::from_secs(1));
    assert_eq!(
        m.summary("db.query", &[], Window::Hour).unwrap().count,
        59_000
    );
    g.bench_function("foundation", |b| {
        b.iter(|| black_box(m.summary("db.query", &[], Window::Hour).unwrap().p99))
    });
    g.bench_function("hdrhistogram_merge_60", |b| {
        b.iter(|| {
            let mut merged = hdr();
            for h in &minutes[1..] {
                merged.add(h).unwrap();
            }
            black_box(merged.value_at_quantile(0.99))
        })
    });
    g.finish();
}

fn render(c: &mut Criterion) {
    let mut g = c.benchmark_group("render_1000_series");
    let m = monitor();
    let rec = recorder();
    for op in 0..1_000 {
        let name = op.to_string();
        let handle = m.operation("db.query", &[("op", &name)]).unwrap();
        let key = Key::from_parts("db_query_seconds", vec![Label::new("op", name)]);
        let histogram = rec.register_histogram(&key, &metadata());
        for &v in &VALUES {
            handle.record(Duration::from_nanos(v));
            histogram.record(v as f64 / 1e9);
        }
    }
    let exporter = MetricsExporter::new().with(m);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let text = rt.block_on(exporter.render());
    assert!(text.contains(
        r#"foundation_operation_duration_seconds_count{operation="db.query",op="999"} 8"#
    ));
    g.bench_function("foundation", |b| {
        b.iter(|| black_box(rt.block_on(exporter.render()).len()))
    });
    let handle = Arc::new(rec.handle());
    g.bench_function("metrics_exporter_prometheus", |b| {
        b.iter(|| black_box(handle.render().len()))
    });
    g.finish();
}

criterion_group!(benches, record, record_two_threads, read_hour_p99, render);
criterion_main!(benches);
