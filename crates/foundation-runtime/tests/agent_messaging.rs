//! call / cast behaviour: round trips, order, back-pressure, timeouts, dropped replies.

mod agent_support;

use std::time::Duration;

use agent_support::{LONG, Msg, Probe, config};
use foundation_core::error::ErrorCode;
use foundation_runtime::agent::{ExitReason, StopReason, spawn};
use tokio::sync::oneshot;

#[tokio::test(start_paused = true)]
async fn call_and_cast_round_trip() {
    let (probe, _) = Probe::new();
    let agent = spawn(probe, config("rt", 8)).await.unwrap();
    agent.cast(Msg::Push(7)).unwrap();
    assert_eq!(agent.call(Msg::Get, LONG).await.unwrap(), vec![7]);
    assert!(agent.is_alive());
    assert_eq!(agent.name(), "rt");
}

#[tokio::test(start_paused = true)]
async fn messages_are_handled_in_fifo_order() {
    let (probe, _) = Probe::new();
    let agent = spawn(probe, config("fifo", 128)).await.unwrap();
    for i in 0..100 {
        agent.cast(Msg::Push(i)).unwrap();
    }
    let got = agent.call(Msg::Get, LONG).await.unwrap();
    assert_eq!(got, (0..100).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn cast_to_a_full_mailbox_is_an_error() {
    let (probe, _) = Probe::new();
    let agent = spawn(probe, config("full", 1)).await.unwrap();
    let (_release, rx) = oneshot::channel();
    agent.call(|r| Msg::Hold(r, rx), LONG).await.unwrap();
    agent.cast(Msg::Push(1)).unwrap();
    let err = agent.cast(Msg::Push(2)).unwrap_err();
    assert!(err.is(ErrorCode::AGENT_MAILBOX_FULL), "{err:?}");
    assert_eq!(err.context_value("agent"), Some("full"));
}

#[tokio::test(start_paused = true)]
async fn call_waits_for_mailbox_room_then_succeeds() {
    let (probe, _) = Probe::new();
    let agent = spawn(probe, config("wait", 1)).await.unwrap();
    let (release, rx) = oneshot::channel();
    agent.call(|r| Msg::Hold(r, rx), LONG).await.unwrap();
    agent.cast(Msg::Push(1)).unwrap();
    let releaser = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        release.send(()).unwrap();
    };
    let (got, ()) = tokio::join!(agent.call(Msg::Get, LONG), releaser);
    assert_eq!(got.unwrap(), vec![1]);
}

#[tokio::test(start_paused = true)]
async fn call_to_a_full_mailbox_times_out() {
    let (probe, _) = Probe::new();
    let agent = spawn(probe, config("slow", 1)).await.unwrap();
    let (_release, rx) = oneshot::channel();
    agent.call(|r| Msg::Hold(r, rx), LONG).await.unwrap();
    agent.cast(Msg::Push(1)).unwrap();
    let err = agent
        .call(Msg::Get, Duration::from_millis(100))
        .await
        .unwrap_err();
    assert!(err.is(ErrorCode::TIMEOUT), "{err:?}");
    assert_eq!(err.context_value("agent"), Some("slow"));
}

#[tokio::test(start_paused = true)]
async fn call_to_a_slow_handler_times_out_and_the_agent_lives_on() {
    let (probe, _) = Probe::new();
    let agent = spawn(probe, config("sleepy", 4)).await.unwrap();
    let err = agent
        .call(
            |r| Msg::Sleep(Duration::from_secs(5), r),
            Duration::from_secs(1),
        )
        .await
        .unwrap_err();
    assert!(err.is(ErrorCode::TIMEOUT));
    assert_eq!(agent.call(Msg::Get, LONG).await.unwrap(), Vec::<u64>::new());
}

#[tokio::test(start_paused = true)]
async fn a_dropped_reply_is_an_error_not_a_hang() {
    let (probe, _) = Probe::new();
    let agent = spawn(probe, config("forgetful", 4)).await.unwrap();
    let err = agent.call(Msg::Forget, LONG).await.unwrap_err();
    assert!(err.is(ErrorCode::AGENT_REPLY_DROPPED), "{err:?}");
    assert!(agent.is_alive());
}

#[tokio::test(start_paused = true)]
async fn after_message_runs_before_the_reply_is_delivered() {
    let (mut probe, log) = Probe::new();
    probe.save_delay = Duration::from_millis(20);
    let agent = spawn(probe, config("saver", 8)).await.unwrap();
    agent.cast(Msg::Push(1)).unwrap();
    agent.cast(Msg::Push(2)).unwrap();
    let seen = agent.call(Msg::Saved, LONG).await.unwrap();
    assert_eq!(seen, 2);
    // The save of the answered (third) message is already done when the answer arrives.
    assert_eq!(log.lock().saves, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_concurrent_callers_all_get_answers() {
    let (probe, _) = Probe::new();
    let agent = spawn(probe, config("busy", 16)).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let agent = agent.agent_ref();
        tasks.spawn(async move {
            for _ in 0..50 {
                agent
                    .call(|r| Msg::Sleep(Duration::ZERO, r), LONG)
                    .await
                    .unwrap();
            }
        });
    }
    let mut finished = 0;
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
        finished += 1;
    }
    assert_eq!(finished, 32);
    assert_eq!(
        agent.shutdown(StopReason::Normal).await,
        ExitReason::Stopped(StopReason::Normal)
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Whatever the mailbox size, casts that were accepted are handled in the order sent,
    /// and the ones refused were refused with an error (never silently dropped).
    #[test]
    fn accepted_casts_are_handled_in_order(capacity in 1usize..16, values in proptest::collection::vec(0u64..1000, 0..64)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
        rt.block_on(async {
            let (probe, _) = Probe::new();
            let agent = spawn(probe, config("prop", capacity)).await.unwrap();
            let mut accepted = Vec::new();
            for v in &values {
                match agent.cast(Msg::Push(*v)) {
                    Ok(()) => accepted.push(*v),
                    Err(e) => assert!(e.is(ErrorCode::AGENT_MAILBOX_FULL)),
                }
                if accepted.len() % 3 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            assert_eq!(agent.call(Msg::Get, LONG).await.unwrap(), accepted);
        });
    }
}
