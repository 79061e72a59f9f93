//! `call`'s deadline: fixed when the call starts, kept whether the answer is slow, the
//! mailbox is full, or the timeout is huge (the timer is armed lazily inside `call`).

mod agent_support;

use std::time::Duration;

use agent_support::{LONG, Msg, Probe, config};
use foundation_core::error::ErrorCode;
use foundation_runtime::agent::spawn;
use tokio::sync::oneshot;
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn a_slow_answer_times_out_exactly_at_the_deadline() {
    let (probe, _) = Probe::new();
    let agent = spawn(probe, config("slow", 4)).await.unwrap();
    let started = Instant::now();
    let err = agent
        .call(
            |r| Msg::Sleep(Duration::from_secs(5), r),
            Duration::from_secs(1),
        )
        .await
        .unwrap_err();
    assert!(err.is(ErrorCode::TIMEOUT), "{err:?}");
    assert_eq!(err.context_value("timeout_ms"), Some("1000"));
    assert_eq!(started.elapsed(), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn an_answer_within_the_deadline_arrives_when_it_is_ready() {
    let (probe, _) = Probe::new();
    let agent = spawn(probe, config("patient", 4)).await.unwrap();
    let started = Instant::now();
    agent
        .call(
            |r| Msg::Sleep(Duration::from_millis(300), r),
            Duration::from_secs(1),
        )
        .await
        .unwrap();
    assert_eq!(started.elapsed(), Duration::from_millis(300));
}

#[tokio::test(start_paused = true)]
async fn the_deadline_counts_the_wait_for_mailbox_room() {
    let (probe, _) = Probe::new();
    let agent = spawn(probe, config("full", 1)).await.unwrap();
    let (_release, rx) = oneshot::channel();
    agent.call(|r| Msg::Hold(r, rx), LONG).await.unwrap();
    agent.cast(Msg::Push(1)).unwrap();
    let started = Instant::now();
    let err = agent
        .call(Msg::Get, Duration::from_millis(100))
        .await
        .unwrap_err();
    assert!(err.is(ErrorCode::TIMEOUT), "{err:?}");
    assert_eq!(started.elapsed(), Duration::from_millis(100));
}

#[tokio::test(start_paused = true)]
async fn a_huge_timeout_does_not_overflow() {
    let (probe, _) = Probe::new();
    let agent = spawn(probe, config("forever", 4)).await.unwrap();
    agent.cast(Msg::Push(3)).unwrap();
    let got = agent.call(Msg::Get, Duration::MAX).await.unwrap();
    assert_eq!(got, vec![3]);
}
