//! Retry behaviour: backoff sequences, limits, classification, breaker refusals, events.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use foundation_core::{Error, ErrorCode, TelemetryBus, Validate};
use foundation_protect::outcome::{Classifier, Outcome};
use foundation_protect::retry::{
    Backoff, GiveUpReason, Jitter, Retry, RetryAttempt, RetryConfig, RetryDecision, RetryExhausted,
};
use proptest::prelude::*;
use tokio::time::Instant;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn network() -> Error {
    Error::new(ErrorCode::NETWORK, "connection reset")
}

fn config(backoff: Backoff, max_attempts: u32) -> RetryConfig {
    RetryConfig {
        max_attempts,
        backoff,
        max_delay: Duration::from_secs(60),
        ..RetryConfig::default()
    }
}

/// The delays a retry asks for when every attempt fails with a network error.
fn delays(retry: &Retry) -> Vec<Duration> {
    let mut state = retry.start();
    let mut out = Vec::new();
    loop {
        match state.on_failure(network()) {
            RetryDecision::RetryAfter(d) => out.push(d),
            RetryDecision::GiveUp(_) => return out,
        }
    }
}

fn retry(config: RetryConfig) -> Retry {
    Retry::builder()
        .config(config)
        .bus(TelemetryBus::new())
        .build()
        .unwrap()
}

#[test]
fn constant_backoff_waits_the_same_each_time() {
    let r = retry(config(Backoff::Constant { delay: ms(30) }, 5));
    assert_eq!(delays(&r), vec![ms(30); 4]);
}

#[test]
fn linear_backoff_adds_a_step_per_failure() {
    let r = retry(config(
        Backoff::Linear {
            initial: ms(100),
            step: ms(50),
        },
        5,
    ));
    assert_eq!(delays(&r), vec![ms(100), ms(150), ms(200), ms(250)]);
}

#[test]
fn exponential_backoff_multiplies_and_is_capped_by_max_delay() {
    let mut c = config(
        Backoff::Exponential {
            initial: ms(100),
            multiplier: 2.0,
        },
        7,
    );
    c.max_delay = ms(1000);
    let r = retry(c);
    assert_eq!(
        delays(&r),
        vec![ms(100), ms(200), ms(400), ms(800), ms(1000), ms(1000)]
    );
}

#[test]
fn exponential_backoff_never_overflows_with_huge_attempt_counts() {
    let mut c = config(
        Backoff::Exponential {
            initial: ms(1),
            multiplier: 10.0,
        },
        2000,
    );
    c.max_delay = ms(5000);
    let d = delays(&retry(c));
    assert_eq!(d.len(), 1999);
    assert_eq!(*d.last().unwrap(), ms(5000));
}

#[test]
fn decorrelated_jitter_stays_between_base_and_three_times_the_previous_delay() {
    let mut c = config(Backoff::DecorrelatedJitter { base: ms(100) }, 30);
    c.max_delay = ms(3000);
    let r = Retry::builder()
        .config(c)
        .jitter_seed(7)
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    let d = delays(&r);
    assert_eq!(d.len(), 29);
    let mut previous = ms(100);
    for &delay in &d {
        assert!(delay >= ms(100), "{delay:?} below base");
        assert!(
            delay <= (previous * 3).min(ms(3000)),
            "{delay:?} above bound"
        );
        previous = delay;
    }
    // Deterministic with a seed: the same sequence on every call.
    assert_eq!(delays(&r), d);
    // And actually random: not all equal.
    assert!(d.iter().any(|x| *x != d[0]));
}

#[test]
fn full_and_equal_jitter_stay_within_their_ranges_and_are_reproducible() {
    for (jitter, low_fraction) in [(Jitter::Full, 0.0), (Jitter::Equal, 0.5)] {
        let mut c = config(Backoff::Constant { delay: ms(1000) }, 50);
        c.jitter = jitter;
        let r = Retry::builder()
            .config(c)
            .jitter_seed(42)
            .bus(TelemetryBus::new())
            .build()
            .unwrap();
        let d = delays(&r);
        for &delay in &d {
            assert!(delay >= ms(1000).mul_f64(low_fraction) && delay <= ms(1000));
        }
        assert!(d.iter().any(|x| *x != d[0]), "{jitter:?} did not vary");
        assert_eq!(delays(&r), d);
    }
}

#[tokio::test(start_paused = true)]
async fn run_retries_until_success_waiting_the_backoff() {
    let r = retry(config(
        Backoff::Linear {
            initial: ms(100),
            step: ms(100),
        },
        5,
    ));
    let t0 = Instant::now();
    let calls = AtomicU32::new(0);
    let v = r
        .run(|attempt| {
            calls.fetch_add(1, Ordering::Relaxed);
            async move {
                if attempt < 3 {
                    Err(network())
                } else {
                    Ok(attempt)
                }
            }
        })
        .await
        .unwrap();
    assert_eq!(v, 3);
    assert_eq!(calls.load(Ordering::Relaxed), 3);
    assert_eq!(t0.elapsed(), ms(300));
}

#[tokio::test(start_paused = true)]
async fn first_attempt_success_makes_one_call_and_publishes_nothing() {
    let bus = TelemetryBus::new();
    let mut sub = bus.subscribe(16);
    let r = Retry::builder().bus(bus).build().unwrap();
    let v = r.run(|_| async { Ok::<_, Error>("ok") }).await.unwrap();
    assert_eq!(v, "ok");
    assert!(sub.drain().is_empty());
}

#[tokio::test(start_paused = true)]
async fn exhausted_wraps_the_last_error_with_attempts_and_code() {
    let r = retry(config(Backoff::Constant { delay: ms(10) }, 3));
    let err = r
        .run(|attempt| async move {
            Err::<(), _>(
                Error::new(ErrorCode::UNAVAILABLE, format!("503 #{attempt}"))
                    .with_retry_after(ms(5)),
            )
        })
        .await
        .unwrap_err();
    assert!(err.is(ErrorCode::RETRY_EXHAUSTED));
    assert_eq!(err.context_value("attempts"), Some("3"));
    assert_eq!(err.context_value("last_code"), Some("core.unavailable"));
    assert_eq!(err.context_value("retry"), Some("retry"));
    assert_eq!(err.retry_after(), Some(ms(5)));
    let source = std::error::Error::source(&err)
        .and_then(|s| s.downcast_ref::<Error>())
        .unwrap();
    assert!(source.is(ErrorCode::UNAVAILABLE));
    assert_eq!(source.message(), "503 #3");
}

#[tokio::test(start_paused = true)]
async fn non_retryable_errors_are_returned_as_is_without_retrying() {
    let r = retry(config(Backoff::Constant { delay: ms(10) }, 5));
    let calls = AtomicU32::new(0);
    let err = r
        .run(|_| {
            calls.fetch_add(1, Ordering::Relaxed);
            async { Err::<(), _>(Error::new(ErrorCode::APPLICATION, "bad request")) }
        })
        .await
        .unwrap_err();
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    assert!(err.is(ErrorCode::APPLICATION));
    assert_eq!(err.message(), "bad request");
}

#[tokio::test(start_paused = true)]
async fn a_custom_classifier_decides_what_is_retryable() {
    struct RetryApplication;
    impl Classifier for RetryApplication {
        fn classify(&self, _: &Error) -> Outcome {
            Outcome::Application
        }
        fn is_retryable(&self, e: &Error) -> bool {
            e.is(ErrorCode::APPLICATION)
        }
    }
    let r = Retry::builder()
        .config(config(Backoff::Constant { delay: ms(10) }, 4))
        .classifier(Arc::new(RetryApplication))
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    let calls = AtomicU32::new(0);
    let err = r
        .run(|_| {
            calls.fetch_add(1, Ordering::Relaxed);
            async { Err::<(), _>(Error::new(ErrorCode::APPLICATION, "flaky")) }
        })
        .await
        .unwrap_err();
    assert_eq!(calls.load(Ordering::Relaxed), 4);
    assert!(err.is(ErrorCode::RETRY_EXHAUSTED));
    // And a network error is now *not* retried.
    let err = r
        .run(|_| async { Err::<(), _>(network()) })
        .await
        .unwrap_err();
    assert!(err.is(ErrorCode::NETWORK));
}

#[tokio::test(start_paused = true)]
async fn a_breaker_refusal_stops_at_once_and_is_returned_unchanged() {
    let r = retry(config(Backoff::Constant { delay: ms(10) }, 5));
    for code in [
        ErrorCode::CIRCUIT_OPEN,
        ErrorCode::CIRCUIT_FORCED_OPEN,
        ErrorCode::CIRCUIT_HALF_OPEN_FULL,
    ] {
        let t0 = Instant::now();
        let calls = AtomicU32::new(0);
        let err = r
            .run(|attempt| {
                calls.fetch_add(1, Ordering::Relaxed);
                async move {
                    if attempt == 1 {
                        Err::<(), _>(network())
                    } else {
                        Err(Error::new(code, "breaker db is open").with_retry_after(ms(500)))
                    }
                }
            })
            .await
            .unwrap_err();
        assert!(err.is(code));
        assert_eq!(calls.load(Ordering::Relaxed), 2);
        // Only the one backoff after the network error was waited, not the retry_after.
        assert_eq!(t0.elapsed(), ms(10));
    }
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_when_longer_than_the_backoff() {
    let r = retry(config(Backoff::Constant { delay: ms(10) }, 3));
    let mut state = r.start();
    let decision = state
        .on_failure(Error::new(ErrorCode::RATE_LIMITED, "slow down").with_retry_after(ms(750)));
    assert!(matches!(decision, RetryDecision::RetryAfter(d) if d == ms(750)));
    // A shorter retry_after does not shorten the backoff.
    let decision =
        state.on_failure(Error::new(ErrorCode::RATE_LIMITED, "slow down").with_retry_after(ms(1)));
    assert!(matches!(decision, RetryDecision::RetryAfter(d) if d == ms(10)));

    let t0 = Instant::now();
    let _ = r
        .run(|attempt| async move {
            if attempt == 1 {
                Err(Error::new(ErrorCode::RATE_LIMITED, "slow down").with_retry_after(ms(2000)))
            } else {
                Ok(())
            }
        })
        .await;
    assert_eq!(t0.elapsed(), ms(2000));
}

#[tokio::test(start_paused = true)]
async fn max_total_time_gives_up_instead_of_waiting_past_it() {
    let mut c = config(Backoff::Constant { delay: ms(400) }, 100);
    c.max_total_time = Some(ms(1000));
    let r = retry(c);
    let t0 = Instant::now();
    let calls = AtomicU32::new(0);
    let err = r
        .run(|_| {
            calls.fetch_add(1, Ordering::Relaxed);
            async { Err::<(), _>(network()) }
        })
        .await
        .unwrap_err();
    // Attempts at 0, 400, 800 ms; a wait to 1200 ms would pass the limit.
    assert_eq!(calls.load(Ordering::Relaxed), 3);
    assert_eq!(t0.elapsed(), ms(800));
    assert!(err.is(ErrorCode::RETRY_EXHAUSTED));
    assert_eq!(err.context_value("reason"), Some("max_total_time"));
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_beyond_the_remaining_total_time_gives_up_without_waiting() {
    let mut c = config(Backoff::Constant { delay: ms(10) }, 10);
    c.max_total_time = Some(ms(1000));
    let r = retry(c);
    let t0 = Instant::now();
    let err = r
        .run(|_| async {
            Err::<(), _>(Error::new(ErrorCode::RATE_LIMITED, "later").with_retry_after(ms(5000)))
        })
        .await
        .unwrap_err();
    assert_eq!(t0.elapsed(), Duration::ZERO);
    assert!(err.is(ErrorCode::RETRY_EXHAUSTED));
    assert_eq!(err.retry_after(), Some(ms(5000)));
}

#[tokio::test(start_paused = true)]
async fn events_report_each_attempt_and_the_give_up() {
    let bus = TelemetryBus::new();
    let mut sub = bus.subscribe(64);
    let r = Retry::builder()
        .name("payments")
        .config(config(
            Backoff::Exponential {
                initial: ms(100),
                multiplier: 3.0,
            },
            3,
        ))
        .bus(bus)
        .build()
        .unwrap();
    let _ = r.run(|_| async { Err::<(), _>(network()) }).await;
    let events = sub.drain();
    let attempts: Vec<(u32, Duration, ErrorCode)> = events
        .iter()
        .filter_map(|e| e.downcast_ref::<RetryAttempt>())
        .map(|a| (a.attempt, a.delay, a.code))
        .collect();
    assert_eq!(
        attempts,
        vec![
            (1, ms(100), ErrorCode::NETWORK),
            (2, ms(300), ErrorCode::NETWORK)
        ]
    );
    assert_eq!(events[0].name(), "foundation.retry.attempt");
    assert_eq!(events[0].source(), "payments");
    let exhausted: Vec<&RetryExhausted> = events
        .iter()
        .filter_map(|e| e.downcast_ref::<RetryExhausted>())
        .collect();
    assert_eq!(exhausted.len(), 1);
    assert_eq!(exhausted[0].attempts, 3);
    assert_eq!(exhausted[0].reason, GiveUpReason::MaxAttempts);
    assert_eq!(events.last().unwrap().name(), "foundation.retry.exhausted");
}

#[test]
fn one_attempt_means_never_retry() {
    let r = retry(config(Backoff::Constant { delay: ms(10) }, 1));
    assert!(delays(&r).is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn backoff_delays_never_exceed_the_cap_and_grow_monotonically_without_jitter(
        initial in 1u64..5_000,
        multiplier in 1.0f64..10.0,
        step in 1u64..5_000,
        cap in 1u64..60_000,
        attempts in 1u32..40,
        linear in any::<bool>(),
    ) {
        let backoff = if linear {
            Backoff::Linear { initial: ms(initial), step: ms(step) }
        } else {
            Backoff::Exponential { initial: ms(initial), multiplier }
        };
        let mut c = config(backoff, attempts);
        c.max_delay = ms(cap.max(initial));
        let d = delays(&retry(c.clone()));
        prop_assert_eq!(d.len() as u32, attempts - 1);
        for pair in d.windows(2) {
            prop_assert!(pair[0] <= pair[1]);
        }
        prop_assert!(d.iter().all(|x| *x <= c.max_delay && *x >= ms(initial).min(c.max_delay)));
    }

    #[test]
    fn jittered_delays_stay_within_zero_and_the_cap(
        seed in any::<u64>(),
        base in 1u64..1_000,
        cap_extra in 0u64..10_000,
        decorrelated in any::<bool>(),
    ) {
        let backoff = if decorrelated {
            Backoff::DecorrelatedJitter { base: ms(base) }
        } else {
            Backoff::Exponential { initial: ms(base), multiplier: 2.0 }
        };
        let mut c = config(backoff, 20);
        c.jitter = Jitter::Full;
        c.max_delay = ms(base + cap_extra);
        let r = Retry::builder().config(c.clone()).jitter_seed(seed).bus(TelemetryBus::new()).build().unwrap();
        for d in delays(&r) {
            prop_assert!(d <= c.max_delay);
            if decorrelated {
                prop_assert!(d >= ms(base));
            }
        }
    }
}

#[test]
fn default_config_is_valid() {
    assert!(RetryConfig::default().validate().is_ok());
}
