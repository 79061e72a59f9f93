//! The retry budget keeps a failing dependency from causing a retry storm.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use foundation_core::{Error, ErrorCode, ManualClock, TelemetryBus};
use foundation_protect::retry::{
    Backoff, Retry, RetryBudget, RetryBudgetConfig, RetryConfig, RetryDecision,
};

fn budget_config(ratio: f64, min_per_sec: u32) -> RetryBudgetConfig {
    RetryBudgetConfig {
        ttl: Duration::from_secs(10),
        min_retries_per_sec: min_per_sec,
        retry_ratio: ratio,
    }
}

fn failing_retry(budget: Arc<RetryBudget>) -> Retry {
    Retry::builder()
        .config(RetryConfig {
            max_attempts: 5,
            backoff: Backoff::Constant {
                delay: Duration::from_millis(1),
            },
            ..RetryConfig::default()
        })
        .budget(budget)
        .bus(TelemetryBus::new())
        .build()
        .unwrap()
}

async fn hammer(retry: &Retry, calls: u64, attempts: &AtomicU64) -> Vec<Error> {
    let mut errors = Vec::new();
    for _ in 0..calls {
        let err = retry
            .run(|_| {
                attempts.fetch_add(1, Ordering::Relaxed);
                async { Err::<(), _>(Error::new(ErrorCode::NETWORK, "down")) }
            })
            .await
            .unwrap_err();
        errors.push(err);
    }
    errors
}

#[tokio::test(start_paused = true)]
async fn a_failing_dependency_gets_at_most_the_ratio_of_extra_attempts() {
    let budget = RetryBudget::new(budget_config(0.1, 0)).unwrap();
    let retry = failing_retry(budget.clone());
    let attempts = AtomicU64::new(0);
    let errors = hammer(&retry, 100, &attempts).await;
    // Without a budget: 500 attempts. With it: 100 calls + 10 % retries.
    assert_eq!(attempts.load(Ordering::Relaxed), 110);
    assert_eq!(budget.calls(), 100);
    assert_eq!(budget.retries(), 10);
    let spent = errors
        .iter()
        .filter(|e| e.is(ErrorCode::RETRY_BUDGET_EXHAUSTED))
        .count();
    assert!(spent >= 90, "{spent} calls refused a retry by the budget");
    let last = errors.last().unwrap();
    assert!(last.is(ErrorCode::RETRY_BUDGET_EXHAUSTED));
    let source = std::error::Error::source(last)
        .and_then(|s| s.downcast_ref::<Error>())
        .unwrap();
    assert!(source.is(ErrorCode::NETWORK));
}

#[test]
fn the_floor_allows_retries_without_traffic_and_the_window_slides() {
    let clock = ManualClock::new();
    let budget = RetryBudget::with_clock(budget_config(0.0, 1), clock.clock()).unwrap();
    // 1 retry/s over a 10 s window: 10 retries.
    assert_eq!(budget.remaining(), 10);
    for _ in 0..10 {
        assert!(budget.try_withdraw());
    }
    assert!(!budget.try_withdraw());
    assert_eq!(budget.retries(), 10);
    // Withdrawals older than the window no longer count.
    clock.advance(Duration::from_secs(11));
    assert_eq!(budget.retries(), 0);
    assert!(budget.try_withdraw());
}

#[test]
fn deposits_expire_after_the_ttl() {
    let clock = ManualClock::new();
    let budget = RetryBudget::with_clock(budget_config(0.5, 0), clock.clock()).unwrap();
    for _ in 0..10 {
        budget.deposit();
    }
    assert_eq!(budget.remaining(), 5);
    clock.advance(Duration::from_secs(5));
    assert_eq!(budget.remaining(), 5);
    clock.advance(Duration::from_secs(6));
    assert_eq!(budget.calls(), 0);
    assert_eq!(budget.remaining(), 0);
    assert!(!budget.try_withdraw());
}

#[tokio::test(start_paused = true)]
async fn one_budget_is_shared_by_several_retries() {
    let budget = RetryBudget::new(budget_config(0.2, 0)).unwrap();
    let a = failing_retry(budget.clone());
    let b = failing_retry(budget.clone());
    let attempts = AtomicU64::new(0);
    hammer(&a, 50, &attempts).await;
    hammer(&b, 50, &attempts).await;
    assert_eq!(budget.calls(), 100);
    assert_eq!(budget.retries(), 20);
    assert_eq!(attempts.load(Ordering::Relaxed), 120);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_failing_calls_never_overdraw_the_budget() {
    let budget = RetryBudget::new(budget_config(0.1, 0)).unwrap();
    let attempts = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let retry = Retry::builder()
                .config(RetryConfig {
                    max_attempts: 4,
                    backoff: Backoff::Constant {
                        delay: Duration::from_millis(1),
                    },
                    ..RetryConfig::default()
                })
                .budget(budget.clone())
                .bus(TelemetryBus::new())
                .build()
                .unwrap();
            let attempts = attempts.clone();
            tokio::spawn(async move {
                for _ in 0..50 {
                    let mut state = retry.start();
                    loop {
                        attempts.fetch_add(1, Ordering::Relaxed);
                        match state.on_failure(Error::new(ErrorCode::NETWORK, "down")) {
                            RetryDecision::RetryAfter(_) => tokio::task::yield_now().await,
                            RetryDecision::GiveUp(_) => break,
                        }
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let calls = 16 * 50;
    assert_eq!(budget.calls(), calls);
    assert!(
        budget.retries() <= calls / 10,
        "{} retries",
        budget.retries()
    );
    assert_eq!(attempts.load(Ordering::Relaxed), calls + budget.retries());
}

#[test]
fn budget_from_config_is_private_to_the_retry() {
    let retry = Retry::builder()
        .config(RetryConfig {
            budget: Some(budget_config(0.5, 0)),
            ..RetryConfig::default()
        })
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    let budget = retry.budget().unwrap();
    let _state = retry.start();
    assert_eq!(budget.calls(), 1);
}
