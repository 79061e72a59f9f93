//! The Prometheus exposition, checked by a real text-format parser and over a real socket.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use foundation_core::{Error, TelemetryBus};
use foundation_observe::export::{
    CONTENT_TYPE, ExportConfig, MetricsExporter, PressureMetrics, QueueMetrics,
};
use foundation_observe::monitor::{Monitor, MonitorConfig};
use foundation_protect::breaker::BreakerRegistry;
use foundation_protect::bulkhead::Bulkhead;
use foundation_protect::limiter::{Limiter, Quota, RateLimiter};
use foundation_protect::pool::{Manager, Pool};
use foundation_protect::protection::{ManualGate, PressureLevel};
use foundation_store::{QueueSettings, Store};
use prometheus_parse::{Sample, Scrape, Value};

struct Numbers;
impl Manager for Numbers {
    type Connection = u32;
    async fn create(&self) -> Result<u32, Error> {
        Ok(7)
    }
}

/// Parses `text` with `prometheus-parse`, and checks what that parser tolerates but
/// scrapers do not: one `# TYPE` per family, each family's samples together, no series twice.
fn parse(text: &str) -> Scrape {
    let mut typed = Vec::new();
    let mut seen_series = std::collections::HashSet::new();
    let mut current = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split(' ').next().unwrap().to_string();
            assert!(!typed.contains(&name), "family {name} declared twice");
            typed.push(name.clone());
            current = name;
        } else if !line.starts_with('#') {
            let series = line.rsplit_once(' ').unwrap().0;
            assert!(
                series.starts_with(current.as_str()),
                "sample {line:?} outside its family {current}"
            );
            assert!(
                seen_series.insert(series.to_string()),
                "series {series} written twice"
            );
        }
    }
    Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("valid exposition")
}

fn find<'a>(scrape: &'a Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
}

fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    match find(scrape, metric, labels)
        .unwrap_or_else(|| panic!("no {metric} {labels:?}"))
        .value
    {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
        ref other => panic!("{metric}: {other:?}"),
    }
}

#[tokio::test]
async fn every_component_is_exported_in_valid_text_format() {
    let bus = TelemetryBus::new();
    let monitor = Monitor::builder().bus(bus.clone()).build().unwrap();
    for ms in 1..=100 {
        monitor
            .record_latency("db.query", &[("table", "users")], Duration::from_millis(ms))
            .unwrap();
    }
    monitor
        .record_error("db.query", &[("table", "users")], Duration::from_millis(5))
        .unwrap();
    monitor.record_throughput("ingest", &[], 4_096).unwrap();

    let breakers = BreakerRegistry::builder().bus(bus.clone()).build().unwrap();
    breakers.get_or_create("payments").unwrap().force_open();
    breakers.get_or_create("search").unwrap();

    let limiter: Limiter = RateLimiter::builder()
        .name("api")
        .quota(Quota::per_second(1).with_burst(1))
        .build()
        .unwrap()
        .into();
    assert!(limiter.try_check_n_now(None, 1).unwrap().is_ok());
    assert!(limiter.try_check_n_now(None, 1).unwrap().is_err());

    let bulkhead = Bulkhead::builder().name("reports").build().unwrap();
    let _slot = bulkhead.try_acquire().unwrap();

    let pool = Pool::builder(Numbers).name("numbers").build().unwrap();
    let _conn = pool.get().await.unwrap();

    let gate = ManualGate::new();
    gate.set(PressureLevel::High);

    let store = Store::open("sqlite::memory:").await.unwrap();
    let tasks = store.tasks();
    tasks
        .declare("emails", QueueSettings::default())
        .await
        .unwrap();
    tasks
        .enqueue(foundation_store::NewTask::new(
            "emails",
            serde_json::json!({}),
        ))
        .await
        .unwrap();

    let exporter = MetricsExporter::new()
        .with(monitor.clone())
        .with(breakers)
        .with(limiter)
        .with(bulkhead)
        .with(pool)
        .with(PressureMetrics(Arc::new(gate)))
        .with(QueueMetrics::new(tasks));
    let text = exporter.render().await;
    let scrape = parse(&text);

    let op = [("operation", "db.query"), ("table", "users")];
    let count =
        find(&scrape, "foundation_operation_duration_seconds_count", &op).expect("summary count");
    assert!(
        matches!(count.value, Value::Untyped(n) | Value::Counter(n) if n == 101.0),
        "{count:?}"
    );
    let Value::Summary(quantiles) = &find(&scrape, "foundation_operation_duration_seconds", &op)
        .unwrap()
        .value
    else {
        panic!("not a summary");
    };
    let p99 = quantiles.iter().find(|q| q.quantile == 0.99).unwrap().count;
    assert!((0.099..=0.101).contains(&p99), "p99 {p99}");
    assert_eq!(
        value(&scrape, "foundation_operation_errors_total", &op),
        1.0
    );
    assert_eq!(
        value(
            &scrape,
            "foundation_operation_units_total",
            &[("operation", "ingest")]
        ),
        4_096.0
    );

    assert_eq!(
        value(
            &scrape,
            "foundation_breaker_state",
            &[("breaker", "payments"), ("state", "forced_open")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &scrape,
            "foundation_breaker_state",
            &[("breaker", "payments"), ("state", "closed")]
        ),
        0.0
    );
    assert_eq!(
        value(
            &scrape,
            "foundation_breaker_state",
            &[("breaker", "search"), ("state", "closed")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &scrape,
            "foundation_limiter_denied_total",
            &[("limiter", "api")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &scrape,
            "foundation_bulkhead_in_flight",
            &[("bulkhead", "reports")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &scrape,
            "foundation_pool_connections",
            &[("pool", "numbers"), ("state", "in_use")]
        ),
        1.0
    );
    assert_eq!(value(&scrape, "foundation_memory_pressure_level", &[]), 2.0);
    assert_eq!(
        value(
            &scrape,
            "foundation_queue_tasks",
            &[("queue", "emails"), ("state", "available")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &scrape,
            "foundation_metrics_source_up",
            &[("source", "queue")]
        ),
        1.0
    );
    assert_eq!(value(&scrape, "foundation_metrics_folded_series", &[]), 0.0);
}

#[tokio::test]
async fn label_values_survive_escaping() {
    let monitor = Monitor::builder().bus(TelemetryBus::new()).build().unwrap();
    let nasty = "quote\" backslash\\ newline\n unicode ✓";
    monitor
        .record_latency("op", &[("path", nasty)], Duration::from_millis(1))
        .unwrap();
    let scrape = parse(&MetricsExporter::new().with(monitor).render().await);
    let sample = find(
        &scrape,
        "foundation_operation_errors_total",
        &[("operation", "op")],
    )
    .unwrap();
    // prometheus-parse hands label values back still escaped: undo the format's three
    // escapes as a scraper does.
    let raw = sample.labels.get("path").unwrap();
    assert_eq!(raw, r#"quote\" backslash\\ newline\n unicode ✓"#);
    assert_eq!(unescape(raw), nasty);
}

fn unescape(value: &str) -> String {
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => panic!("dangling escape in {value:?}"),
        }
    }
    out
}

#[tokio::test]
async fn series_beyond_the_family_limit_fold_into_an_overflow_series_and_are_counted() {
    let monitor = Monitor::builder()
        .config(MonitorConfig::default())
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    for i in 0..20 {
        monitor
            .record_error("op", &[("shard", &i.to_string())], Duration::from_millis(1))
            .unwrap();
    }
    let exporter = MetricsExporter::with_config(ExportConfig {
        max_series_per_family: 5,
    })
    .unwrap()
    .with(monitor);
    let scrape = parse(&exporter.render().await);
    let errors: Vec<_> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "foundation_operation_errors_total")
        .collect();
    assert_eq!(errors.len(), 6, "5 series and the overflow series");
    assert_eq!(
        value(
            &scrape,
            "foundation_operation_errors_total",
            &[("overflow", "true")]
        ),
        15.0
    );
    assert_eq!(
        value(
            &scrape,
            "foundation_operation_duration_seconds_count",
            &[("overflow", "true")]
        ),
        15.0
    );
    // 15 error series + 15 summary series folded.
    assert_eq!(
        value(&scrape, "foundation_metrics_folded_series", &[]),
        30.0
    );
    assert!(
        MetricsExporter::with_config(ExportConfig {
            max_series_per_family: 0
        })
        .is_err()
    );
}

#[tokio::test]
async fn a_store_that_cannot_be_read_marks_its_source_down_and_the_rest_still_renders() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    let tasks = store.tasks();
    store.close().await;
    let monitor = Monitor::builder().bus(TelemetryBus::new()).build().unwrap();
    monitor
        .record_latency("still.here", &[], Duration::from_millis(1))
        .unwrap();
    let scrape = parse(
        &MetricsExporter::new()
            .with(QueueMetrics::new(tasks))
            .with(monitor)
            .render()
            .await,
    );
    assert_eq!(
        value(
            &scrape,
            "foundation_metrics_source_up",
            &[("source", "queue")]
        ),
        0.0
    );
    assert!(find(&scrape, "foundation_queue_tasks", &[]).is_none());
    assert!(
        find(
            &scrape,
            "foundation_operation_errors_total",
            &[("operation", "still.here")]
        )
        .is_some()
    );
}

#[tokio::test]
async fn metrics_are_served_over_http() {
    let monitor = Monitor::builder().bus(TelemetryBus::new()).build().unwrap();
    monitor
        .record_latency("http.op", &[], Duration::from_millis(2))
        .unwrap();
    let app = MetricsExporter::new().with(monitor).router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let response = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], CONTENT_TYPE);
    let scrape = parse(&response.text().await.unwrap());
    let families: HashMap<_, _> = scrape.docs.iter().collect();
    assert!(families.contains_key(&"foundation_operation_duration_seconds".to_string()));
    assert_eq!(
        reqwest::get(format!("http://{addr}/nope"))
            .await
            .unwrap()
            .status(),
        404
    );
    server.abort();
}

#[tokio::test]
async fn the_memory_manager_exports_usage_limit_and_level() {
    use foundation_core::Result;
    use foundation_observe::memory::{MemoryManager, MemoryReading, MemorySource};

    struct Fixed;
    impl MemorySource for Fixed {
        fn read(&self) -> Result<MemoryReading> {
            Ok(MemoryReading {
                cgroup_current_bytes: Some(900),
                cgroup_limit_bytes: Some(1_000),
                ..MemoryReading::default()
            })
        }
    }
    let manager = MemoryManager::builder()
        .source(Fixed)
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    manager.sample_now().unwrap();
    let scrape = parse(&MetricsExporter::new().with(manager).render().await);
    assert_eq!(value(&scrape, "foundation_memory_usage_bytes", &[]), 900.0);
    assert_eq!(
        value(&scrape, "foundation_memory_limit_bytes", &[]),
        1_000.0
    );
    assert_eq!(
        value(
            &scrape,
            "foundation_memory_pressure_level",
            &[("level", "high")]
        ),
        2.0
    );
}
