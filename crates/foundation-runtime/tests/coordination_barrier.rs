//! LocalBarrier: release, reuse, timeout breaks it for everyone, bad input.

use std::time::Duration;

use foundation_core::ErrorCode;
use foundation_runtime::coordination::LocalBarrier;
use foundation_runtime::task::TaskSupervisor;

const SEC: Duration = Duration::from_secs(1);

#[tokio::test(start_paused = true)]
async fn all_parties_are_released_with_one_leader_and_it_is_reusable() {
    let barrier = LocalBarrier::new(3).unwrap();
    let tasks = TaskSupervisor::new("t").unwrap();
    for generation in 0..2 {
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let barrier = barrier.clone();
                tasks.spawn("party", async move { barrier.wait(SEC).await })
            })
            .collect();
        let mut leaders = 0;
        for h in handles {
            let wait = h.await.unwrap().unwrap();
            assert_eq!(wait.generation, generation);
            leaders += usize::from(wait.is_leader);
        }
        assert_eq!(leaders, 1);
    }
}

#[tokio::test(start_paused = true)]
async fn timeout_breaks_the_barrier_for_the_others() {
    let barrier = LocalBarrier::new(3).unwrap();
    let tasks = TaskSupervisor::new("t").unwrap();
    let patient = {
        let barrier = barrier.clone();
        tasks.spawn("patient", async move { barrier.wait(SEC * 60).await })
    };
    tokio::task::yield_now().await;
    let err = barrier.wait(SEC).await.unwrap_err();
    assert!(err.is(ErrorCode::TIMEOUT));
    assert!(barrier.is_broken());
    let err = patient.await.unwrap().unwrap_err();
    assert!(err.is(ErrorCode::UNAVAILABLE));
    assert!(!err.is_retryable());
    let err = barrier.wait(SEC).await.unwrap_err();
    assert!(
        err.is(ErrorCode::UNAVAILABLE),
        "later arrivals see it broken"
    );
}

#[tokio::test(start_paused = true)]
async fn bad_input_names_the_field() {
    let err = LocalBarrier::new(0).unwrap_err();
    assert!(err.is(ErrorCode::INVALID_INPUT));
    assert_eq!(err.context_value("field"), Some("parties"));
    let barrier = LocalBarrier::new(1).unwrap();
    let err = barrier.wait(Duration::ZERO).await.unwrap_err();
    assert_eq!(err.context_value("field"), Some("timeout"));
    assert!(barrier.wait(SEC).await.unwrap().is_leader);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_wait_does_not_count_as_arrived() {
    let barrier = LocalBarrier::new(2).unwrap();
    let cancelled = tokio::time::timeout(Duration::from_millis(5), barrier.wait(SEC)).await;
    assert!(
        cancelled.is_err(),
        "the caller gave up before the barrier's own timeout"
    );
    assert!(!barrier.is_broken());
    let tasks = TaskSupervisor::new("t").unwrap();
    let other = {
        let barrier = barrier.clone();
        tasks.spawn("other", async move { barrier.wait(SEC).await })
    };
    tokio::task::yield_now().await;
    assert!(!other.is_finished(), "one arrival of two: still waiting");
    let mine = barrier.wait(SEC).await.unwrap();
    assert!(mine.is_leader);
    assert!(!other.await.unwrap().unwrap().is_leader);
}
