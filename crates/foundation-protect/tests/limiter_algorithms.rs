//! Exact admissions and `retry_after` of each algorithm on a manual clock, quota changes,
//! counters and events.

use std::time::Duration;

use foundation_core::{Error, ErrorCode, ManualClock, TelemetryBus};
use foundation_protect::limiter::{Algorithm, LimiterConfig, LimiterRejected, Quota, RateLimiter};
use proptest::prelude::*;

fn limiter(algorithm: Algorithm, quota: Quota) -> (RateLimiter, ManualClock) {
    let time = ManualClock::new();
    let limiter = RateLimiter::builder()
        .name("test")
        .algorithm(algorithm)
        .quota(quota)
        .clock(time.clock())
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    (limiter, time)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[track_caller]
fn denied_for(result: Result<(), Error>, retry_after: Duration) {
    let err = result.expect_err("expected a denial");
    assert!(err.is(ErrorCode::RATE_LIMITED), "{err}");
    assert_eq!(err.retry_after(), Some(retry_after), "{err}");
    assert_eq!(err.context_value("limiter"), Some("test"));
}

#[test]
fn gcra_admits_the_burst_then_one_per_emission_interval() {
    let (l, time) = limiter(Algorithm::Gcra, Quota::per_second(10).with_burst(2));
    l.check().unwrap();
    l.check().unwrap();
    denied_for(l.check(), ms(100));
    time.advance(ms(40));
    denied_for(l.check(), ms(60));
    time.advance(ms(60));
    l.check().unwrap();
    denied_for(l.check(), ms(100));
    denied_for(l.check_n(2), ms(200));
    time.advance(ms(10_000));
    l.check_n(2).unwrap();
    denied_for(l.check(), ms(100));
}

#[test]
fn token_bucket_refills_continuously_up_to_the_burst() {
    let (l, time) = limiter(Algorithm::TokenBucket, Quota::per_second(10).with_burst(5));
    for _ in 0..5 {
        l.check().unwrap();
    }
    denied_for(l.check(), ms(100));
    time.advance(ms(50));
    denied_for(l.check(), ms(50));
    time.advance(ms(50));
    l.check().unwrap();
    denied_for(l.check(), ms(100));
    time.advance(ms(250));
    l.check_n(2).unwrap();
    denied_for(l.check_n(2), ms(150));
    time.advance(Duration::from_secs(60));
    assert_eq!(l.status().available, 5);
    l.check_n(5).unwrap();
    denied_for(l.check(), ms(100));
}

#[test]
fn fixed_window_admits_rate_per_aligned_window() {
    let (l, time) = limiter(Algorithm::FixedWindow, Quota::per_second(3).with_burst(1));
    for _ in 0..3 {
        l.check().unwrap();
    }
    denied_for(l.check(), ms(1000));
    time.advance(ms(400));
    denied_for(l.check(), ms(600));
    time.advance(ms(600));
    l.check_n(3).unwrap();
    denied_for(l.check(), ms(1000));
    time.advance(ms(1999));
    l.check().unwrap();
    time.advance(ms(1));
    l.check_n(3).unwrap();
}

#[test]
fn sliding_window_weights_the_previous_window() {
    let (l, time) = limiter(Algorithm::SlidingWindow, Quota::per_second(4));
    for _ in 0..4 {
        l.check().unwrap();
    }
    // Next window, then 4·(1 − e) + 1 ≤ 4 needs e ≥ 0.25 s.
    denied_for(l.check(), ms(1250));
    time.advance(ms(1250) - Duration::from_nanos(1));
    denied_for(l.check(), Duration::from_nanos(1));
    time.advance(Duration::from_nanos(1));
    l.check().unwrap();
    // 4·(1 − e) + 1 + 1 ≤ 4 needs e ≥ 0.5 s.
    denied_for(l.check(), ms(250));
    time.advance(ms(250));
    l.check().unwrap();
    assert_eq!(l.status().available, 0);
    time.advance(ms(1500));
    assert_eq!(l.status().available, 4);
}

#[test]
fn leaky_bucket_check_never_bursts() {
    let (l, time) = limiter(Algorithm::LeakyBucket, Quota::per_second(10).with_burst(3));
    l.check().unwrap();
    denied_for(l.check(), ms(100));
    time.advance(ms(100));
    l.check_n(3).unwrap();
    denied_for(l.check(), ms(300));
    time.advance(ms(300));
    l.check().unwrap();
}

#[test]
fn more_than_the_capacity_is_refused_as_such() {
    for algorithm in Algorithm::ALL {
        let (l, _) = limiter(algorithm, Quota::per_second(5).with_burst(3));
        let capacity = if algorithm.is_windowed() { 5 } else { 3 };
        let err = l.check_n(capacity + 1).unwrap_err();
        assert!(
            err.is(ErrorCode::RATE_LIMIT_EXCEEDS_CAPACITY),
            "{algorithm}"
        );
        assert!(!err.is_retryable());
        assert_eq!(err.context_value("limiter"), Some("test"));
        l.check_n(capacity).unwrap();
        l.check_n(0).unwrap();
    }
}

#[test]
fn set_quota_keeps_the_state() {
    // GCRA: two of two used; doubling the burst frees two more, not four.
    let (l, _) = limiter(Algorithm::Gcra, Quota::per_second(10).with_burst(2));
    l.check_n(2).unwrap();
    l.set_quota(Quota::per_second(10).with_burst(4)).unwrap();
    l.check_n(2).unwrap();
    denied_for(l.check(), ms(100));
    assert_eq!(l.quota(), Quota::per_second(10).with_burst(4));

    // Token bucket: the tokens left are kept.
    let (l, time) = limiter(Algorithm::TokenBucket, Quota::per_second(10).with_burst(5));
    l.check_n(4).unwrap();
    l.set_quota(Quota::per_second(100).with_burst(10)).unwrap();
    l.check().unwrap();
    denied_for(l.check(), ms(10));
    time.advance(ms(100));
    assert_eq!(l.status().available, 10);

    // Fixed window: the count of the current window is kept.
    let (l, _) = limiter(Algorithm::FixedWindow, Quota::per_second(3));
    l.check_n(3).unwrap();
    l.set_quota(Quota::per_second(5)).unwrap();
    l.check_n(2).unwrap();
    denied_for(l.check(), ms(1000));
}

#[test]
fn bad_quota_at_run_time_is_refused_and_changes_nothing() {
    let (l, _) = limiter(Algorithm::Gcra, Quota::per_second(10));
    let err = l
        .set_quota(Quota::new(0, Duration::ZERO).with_burst(0))
        .unwrap_err();
    assert!(err.is(ErrorCode::INVALID_CONFIG));
    let fields: Vec<_> = err.context_values("field").collect();
    assert_eq!(fields, ["quota.rate", "quota.period", "quota.burst"]);
    assert_eq!(l.quota(), Quota::per_second(10));
}

#[test]
fn counters_and_throttled_rejected_events() {
    let bus = TelemetryBus::new();
    let mut events = bus.subscribe_prefix("foundation.limiter.", 64);
    let time = ManualClock::new();
    let l = RateLimiter::builder()
        .name("api")
        .config(LimiterConfig::new(Algorithm::Gcra, Quota::per_second(2)))
        .clock(time.clock())
        .bus(bus)
        .build()
        .unwrap();
    l.check_n(2).unwrap();
    for _ in 0..5 {
        assert!(l.check().is_err());
    }
    time.advance(ms(1000));
    l.check().unwrap();
    l.check().unwrap();
    assert!(l.check().is_err());
    let status = l.status();
    assert_eq!((status.admitted, status.denied), (4, 6));
    assert_eq!(status.name, "api");
    let got: Vec<_> = events
        .drain()
        .iter()
        .map(|e| {
            let r = e.downcast_ref::<LimiterRejected>().unwrap();
            assert_eq!(&*r.limiter, "api");
            r.suppressed
        })
        .collect();
    // One event per period: the first stands for itself, the second for the four after it.
    assert_eq!(got, [0, 4]);
}

#[test]
fn clones_share_state_and_are_send_sync() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<RateLimiter>();
    let (l, _) = limiter(Algorithm::Gcra, Quota::per_second(1));
    let other = l.clone();
    l.check().unwrap();
    assert!(other.check().is_err());
    assert_eq!(other.name(), "test");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// For every algorithm: a denial's `retry_after` is exact — one nanosecond earlier the
    /// same request is still denied, at `retry_after` it is admitted (leaky bucket and
    /// windows included). Denials never change state.
    #[test]
    fn retry_after_is_exact(
        algorithm in prop::sample::select(Algorithm::ALL.to_vec()),
        rate in 1u32..50,
        period_ms in 1u64..5_000,
        burst in 1u32..20,
        steps in prop::collection::vec((0u64..2_000_000_000, 1u32..20), 1..40),
    ) {
        let (l, time) = limiter(algorithm, Quota::new(rate, ms(period_ms)).with_burst(burst));
        let capacity = if algorithm.is_windowed() { rate } else { burst };
        for (advance, n) in steps {
            time.advance(Duration::from_nanos(advance));
            let n = n.min(capacity);
            if let Err(err) = l.check_n(n) {
                prop_assert!(err.is(ErrorCode::RATE_LIMITED));
                let retry = err.retry_after().unwrap();
                prop_assert!(retry > Duration::ZERO);
                time.advance(retry - Duration::from_nanos(1));
                prop_assert!(l.check_n(n).is_err(), "admitted 1ns before retry_after");
                time.advance(Duration::from_nanos(1));
                prop_assert!(l.check_n(n).is_ok(), "denied at retry_after");
            }
        }
    }
}
