//! Windows, percentiles, baselines and retention of the performance monitor, on paused time.

use std::time::Duration;

use foundation_core::{ErrorCode, TelemetryBus};
use foundation_observe::monitor::{Monitor, MonitorConfig, OVERFLOW_OPERATION, Window};
use proptest::prelude::*;
use tokio::time::advance;

fn monitor() -> Monitor {
    Monitor::builder().bus(TelemetryBus::new()).build().unwrap()
}

const MS: Duration = Duration::from_millis(1);

#[tokio::test(start_paused = true)]
async fn a_call_stays_in_each_window_exactly_as_long_as_the_window() {
    let m = monitor();
    m.record_latency("op", &[], 5 * MS).unwrap();
    let count = |w| m.summary("op", &[], w).unwrap().count;
    assert_eq!(
        (
            count(Window::Minute),
            count(Window::Hour),
            count(Window::Day)
        ),
        (1, 1, 1)
    );

    advance(Duration::from_secs(59)).await;
    assert_eq!(count(Window::Minute), 1, "still inside the minute");
    advance(Duration::from_secs(1)).await;
    assert_eq!(count(Window::Minute), 0, "the minute window moved past it");
    assert_eq!(count(Window::Hour), 1);

    advance(Duration::from_secs(3_600 - 60)).await;
    assert_eq!(count(Window::Hour), 0);
    assert_eq!(count(Window::Day), 1);
    advance(Duration::from_secs(86_400 - 3_600)).await;
    assert_eq!(count(Window::Day), 0);
}

#[tokio::test(start_paused = true)]
async fn an_hour_merges_its_minutes_exactly() {
    let m = monitor();
    let op = m.operation("merge", &[]).unwrap();
    // 90 calls of 10 ms in the first minute, 10 calls of 500 ms half an hour later.
    for _ in 0..90 {
        op.record(10 * MS);
    }
    // Calls are placed in periods when drained: the background task does it every tick.
    m.tick();
    advance(Duration::from_secs(30 * 60)).await;
    for _ in 0..10 {
        op.record_error(500 * MS);
    }
    let hour = m.summary("merge", &[], Window::Hour).unwrap();
    assert_eq!(hour.count, 100);
    assert_eq!(hour.errors, 10);
    assert!((hour.error_rate - 0.1).abs() < 1e-12);
    let within = |d: Option<Duration>, v: Duration| {
        let d = d.unwrap().as_secs_f64();
        (d - v.as_secs_f64()).abs() <= v.as_secs_f64() / 128.0
    };
    assert!(within(hour.p50, 10 * MS), "{:?}", hour.p50);
    assert!(within(hour.p95, 500 * MS), "{:?}", hour.p95);
    assert!(within(hour.p99, 500 * MS));
    assert!(within(hour.min, 10 * MS));
    assert!(within(hour.max, 500 * MS));
    assert!(within(hour.avg, 59 * MS), "{:?}", hour.avg);
    // The minute window only has the recent calls.
    let minute = m.summary("merge", &[], Window::Minute).unwrap();
    assert_eq!(minute.count, 10);
    // Rate is over the time covered: 100 calls in 30 minutes.
    assert!((hour.rate - 100.0 / 1_800.0).abs() < 1e-9, "{}", hour.rate);
}

#[tokio::test(start_paused = true)]
async fn throughput_and_resource_usage_are_summarised() {
    let m = monitor();
    advance(Duration::from_secs(30)).await;
    m.record_throughput("ingest", &[], 3_000).unwrap();
    m.record_resource("ingest", &[], 100).unwrap();
    m.record_resource("ingest", &[], 300).unwrap();
    let s = m.summary("ingest", &[], Window::Minute).unwrap();
    assert!(
        (s.throughput - 100.0).abs() < 1e-9,
        "3000 units over the 30 s covered"
    );
    assert_eq!(s.resource_avg, Some(200.0));
    assert_eq!(s.resource_max, Some(300));
    assert_eq!(s.count, 0);
    assert_eq!(s.p99, None);
}

#[tokio::test(start_paused = true)]
async fn a_baseline_is_learned_from_past_windows_and_the_deviation_measured() {
    let m = monitor();
    let op = m.operation("api", &[]).unwrap();
    // 25 minutes of one call per second at 10 ms.
    for _ in 0..25 {
        for _ in 0..60 {
            op.record(10 * MS);
        }
        m.tick();
        advance(Duration::from_secs(60)).await;
    }
    let baseline = m
        .baseline("api", &[], Window::Minute)
        .unwrap()
        .expect("baseline after 25 minutes");
    assert!((baseline.rate - 1.0).abs() < 1e-9, "{}", baseline.rate);
    assert!(baseline.rate_stddev.abs() < 1e-9);
    assert_eq!(baseline.error_rate, 0.0);
    let p99 = baseline.p99.unwrap();
    assert!(p99 >= 10 * MS && p99 <= Duration::from_micros(10_080));

    // Now it gets ten times slower and three times busier.
    for _ in 0..180 {
        op.record(100 * MS);
    }
    let d = m.deviation("api", &[], Window::Minute).unwrap().unwrap();
    let ratio = d.p99_ratio.unwrap();
    assert!((9.8..=10.2).contains(&ratio), "{ratio}");
    assert!(d.rate_ratio.unwrap() > 2.9, "{:?}", d.rate_ratio);
}

#[tokio::test(start_paused = true)]
async fn no_baseline_before_enough_history() {
    let m = monitor();
    m.record_latency("fresh", &[], MS).unwrap();
    assert_eq!(m.baseline("fresh", &[], Window::Minute).unwrap(), None);
    assert_eq!(m.deviation("fresh", &[], Window::Hour).unwrap(), None);
}

#[tokio::test(start_paused = true)]
async fn unknown_operations_and_bad_names_get_clear_errors() {
    let m = monitor();
    let err = m
        .summary("never.recorded", &[("k", "v")], Window::Minute)
        .unwrap_err();
    assert!(err.is(ErrorCode::NOT_FOUND));
    assert!(err.to_string().contains("never.recorded"), "{err}");
    assert!(m.health("nope", &[]).unwrap_err().is(ErrorCode::NOT_FOUND));
    assert!(
        m.baseline("nope", &[], Window::Day)
            .unwrap_err()
            .is(ErrorCode::NOT_FOUND)
    );
    let bad = m.record_latency("", &[], MS).unwrap_err();
    assert!(bad.is(ErrorCode::INVALID_INPUT));
    assert!(
        m.record_latency("ok", &[("bad label", "v")], MS)
            .unwrap_err()
            .is(ErrorCode::INVALID_INPUT)
    );
    assert!(m.operations().is_empty(), "nothing half-created");
}

#[tokio::test(start_paused = true)]
async fn label_order_does_not_split_an_operation() {
    let m = monitor();
    m.record_latency("db", &[("a", "1"), ("b", "2")], MS)
        .unwrap();
    m.record_latency("db", &[("b", "2"), ("a", "1")], MS)
        .unwrap();
    assert_eq!(
        m.summary("db", &[("b", "2"), ("a", "1")], Window::Minute)
            .unwrap()
            .count,
        2
    );
    assert_eq!(m.operations().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn label_sets_beyond_the_limit_fold_into_an_overflow_series_and_are_counted() {
    let config = MonitorConfig {
        max_series_per_name: 3,
        max_operations: 5,
        ..MonitorConfig::default()
    };
    let m = Monitor::builder()
        .config(config)
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    for user in 0..10 {
        m.record_latency("login", &[("user", &user.to_string())], MS)
            .unwrap();
    }
    let overflow = m
        .summary("login", &[("overflow", "true")], Window::Minute)
        .unwrap();
    assert_eq!(overflow.count, 7);
    assert_eq!(m.folded(), 7);
    // The total limit: 3 users + the overflow series + 1 more name = 5.
    m.record_latency("other", &[], MS).unwrap();
    m.record_latency("third", &[], MS).unwrap();
    assert_eq!(
        m.summary(OVERFLOW_OPERATION, &[], Window::Minute)
            .unwrap()
            .count,
        1
    );
    assert_eq!(m.folded(), 8);
    assert_eq!(
        m.operations().len(),
        6,
        "5 tracked + the global overflow series"
    );
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_operations_stay_bounded_and_are_forgotten_when_idle() {
    let m = Monitor::builder()
        .config(MonitorConfig {
            shards: 1,
            ..MonitorConfig::default()
        })
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    let names: Vec<String> = (0..10_000).map(|i| format!("op.{i}")).collect();
    // Two days of one call per operation every 20 minutes.
    let mut peak_after_first_day = 0;
    for step in 0..(2 * 24 * 3) {
        for name in &names {
            m.record_latency(name, &[], Duration::from_micros(100 + step as u64))
                .unwrap();
        }
        advance(Duration::from_secs(1_200)).await;
        m.tick();
        if step == 24 * 3 {
            peak_after_first_day = m.memory_bytes();
        }
    }
    assert!(
        m.retained_periods() <= 10_000 * 98,
        "{}",
        m.retained_periods()
    );
    let second_day = m.memory_bytes();
    assert!(
        second_day <= peak_after_first_day + peak_after_first_day / 10,
        "memory grew from {peak_after_first_day} to {second_day} bytes after the windows filled"
    );
    assert!(
        second_day < 512 << 20,
        "{second_day} bytes for 10,000 operations"
    );

    // A week and a day without calls: every operation is forgotten.
    advance(Duration::from_secs(8 * 86_400)).await;
    m.tick();
    assert!(m.operations().is_empty());
    assert_eq!(m.retained_periods(), 0);
}

#[tokio::test(start_paused = true)]
async fn an_operation_held_by_a_handle_is_not_forgotten() {
    let m = monitor();
    let handle = m.operation("held", &[]).unwrap();
    advance(Duration::from_secs(9 * 86_400)).await;
    m.tick();
    assert_eq!(m.operations().len(), 1);
    handle.record(MS);
    assert_eq!(m.summary("held", &[], Window::Minute).unwrap().count, 1);
}

#[tokio::test(start_paused = true)]
async fn trimming_history_under_pressure_keeps_the_shorter_windows() {
    let m = monitor();
    for _ in 0..100 {
        m.record_latency("t", &[], MS).unwrap();
    }
    let freed = m.trim_history(Window::Minute);
    assert!(freed > 0);
    assert_eq!(m.summary("t", &[], Window::Minute).unwrap().count, 100);
    assert_eq!(m.summary("t", &[], Window::Hour).unwrap().count, 0);
}

#[test]
fn recording_from_many_threads_while_draining_loses_nothing() {
    let m = Monitor::builder().bus(TelemetryBus::new()).build().unwrap();
    let op = m.operation("contended", &[]).unwrap();
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let op = op.clone();
            s.spawn(move || {
                for i in 0..50_000u64 {
                    op.record_outcome(Duration::from_nanos(i * 7 + t), i % 10 == 0);
                }
            });
        }
        s.spawn(|| {
            for _ in 0..200 {
                m.tick();
            }
        });
    });
    let s = m.summary("contended", &[], Window::Minute).unwrap();
    assert_eq!(s.count, 200_000);
    assert_eq!(s.errors, 20_000);
}

/// The value at quantile q of sorted values, ranked as hdrhistogram ranks.
fn exact_quantile(sorted: &[u64], q: f64) -> u64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).max(1);
    sorted[rank - 1]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn percentiles_are_exact_within_the_histogram_precision(
        values in prop::collection::vec(1u64..10_000_000_000, 1..2_000),
        split in 0usize..2_000,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
        rt.block_on(async {
            let m = Monitor::builder().bus(TelemetryBus::new()).build().unwrap();
            // Half in one minute, half in a later one: the hour merges them.
            let split = split.min(values.len());
            for &v in &values[..split] {
                m.record_latency("p", &[], Duration::from_nanos(v)).unwrap();
            }
            advance(Duration::from_secs(120)).await;
            for &v in &values[split..] {
                m.record_latency("p", &[], Duration::from_nanos(v)).unwrap();
            }
            let s = m.summary("p", &[], Window::Hour).unwrap();
            let mut sorted = values.clone();
            sorted.sort_unstable();
            for (q, got) in [(0.5, s.p50), (0.95, s.p95), (0.99, s.p99), (0.999, s.p999)] {
                let exact = exact_quantile(&sorted, q) as f64;
                let got = got.unwrap().as_nanos() as f64;
                prop_assert!(got >= exact && got <= exact * (1.0 + 1.0 / 128.0) + 1.0, "q{q}: {got} vs {exact}");
            }
            let (min, max) = (sorted[0] as f64, *sorted.last().unwrap() as f64);
            prop_assert!(s.min.unwrap().as_nanos() as f64 <= min && s.min.unwrap().as_nanos() as f64 >= min * (1.0 - 1.0 / 128.0));
            prop_assert!(s.max.unwrap().as_nanos() as f64 >= max && s.max.unwrap().as_nanos() as f64 <= max * (1.0 + 1.0 / 128.0) + 1.0);
            let mean = values.iter().map(|&v| v as f64).sum::<f64>() / values.len() as f64;
            let avg = s.avg.unwrap().as_nanos() as f64;
            prop_assert!((avg - mean).abs() <= mean / 128.0 + 1.0, "{avg} vs {mean}");
            Ok(())
        })?;
    }
}
