//! Start, stop, panics, exit reports, telemetry and task ownership.

mod agent_support;

use std::time::Duration;

use agent_support::{LONG, Msg, Probe, StartMode, config};
use foundation_core::error::ErrorCode;
use foundation_core::telemetry::TelemetryBus;
use foundation_runtime::agent::{
    AgentPanicked, AgentStarted, AgentStopped, ExitReason, StopReason, spawn, spawn_on,
};
use tokio::sync::oneshot;

#[tokio::test(start_paused = true)]
async fn a_handler_panic_is_reported_with_its_message_and_the_caller_gets_an_error() {
    let (probe, _) = Probe::new();
    let agent = spawn(probe, config("fragile", 8)).await.unwrap();
    let err = agent
        .call(|r| Msg::Panic("boom", r), LONG)
        .await
        .unwrap_err();
    assert!(err.is(ErrorCode::AGENT_PANICKED), "{err:?}");
    assert_eq!(err.context_value("agent"), Some("fragile"));
    assert!(
        err.context_value("during")
            .unwrap()
            .starts_with("Panic(\"boom\"")
    );
    match agent.wait().await {
        ExitReason::Panicked { message, during } => {
            assert_eq!(message, "boom");
            assert!(during.starts_with("Panic(\"boom\""), "{during}");
        }
        other => panic!("unexpected exit {other:?}"),
    }
    assert!(!agent.is_alive());
}

#[tokio::test(start_paused = true)]
async fn callers_queued_behind_a_panic_get_errors() {
    let (probe, _) = Probe::new();
    let agent = spawn(probe, config("fragile", 8)).await.unwrap();
    agent.cast(Msg::PanicCast("kaput")).unwrap();
    let err = agent.call(Msg::Get, LONG).await.unwrap_err();
    assert!(err.is(ErrorCode::AGENT_PANICKED), "{err:?}");
    assert!(matches!(agent.wait().await, ExitReason::Panicked { .. }));
}

#[tokio::test(start_paused = true)]
async fn an_error_in_on_start_fails_the_spawn() {
    let (mut probe, _) = Probe::new();
    probe.start = StartMode::Fail;
    let err = spawn(probe, config("loader", 8)).await.unwrap_err();
    assert!(err.is(ErrorCode::AGENT_START_FAILED), "{err:?}");
    assert_eq!(err.context_value("agent"), Some("loader"));
    assert!(err.message().contains("no saved state"));
}

#[tokio::test(start_paused = true)]
async fn a_panic_in_on_start_fails_the_spawn() {
    let (mut probe, log) = Probe::new();
    probe.start = StartMode::Panic;
    let err = spawn(probe, config("loader", 8)).await.unwrap_err();
    assert!(err.is(ErrorCode::AGENT_START_FAILED), "{err:?}");
    assert_eq!(err.context_value("panic"), Some("start exploded"));
    assert!(log.lock().stops.is_empty(), "on_stop must not run");
}

#[tokio::test(start_paused = true)]
async fn on_stop_gets_the_reason_and_runs_once() {
    let (probe, log) = Probe::new();
    let agent = spawn(probe, config("saver", 8)).await.unwrap();
    let other = agent.agent_ref();
    let reason = StopReason::Other("maintenance".into());
    let (a, b) = tokio::join!(agent.stop(reason.clone()), other.stop(StopReason::Shutdown));
    assert_eq!(a, ExitReason::Stopped(reason.clone()));
    assert_eq!(b, a);
    assert_eq!(agent.stop(StopReason::Normal).await, a);
    assert_eq!(log.lock().stops, vec![reason]);
}

#[tokio::test(start_paused = true)]
async fn a_stopped_agent_refuses_calls_and_casts_with_a_clear_error() {
    let (probe, _) = Probe::new();
    let agent = spawn(probe, config("gone", 8)).await.unwrap();
    let handle_ref = agent.agent_ref();
    assert_eq!(
        agent.shutdown(StopReason::Normal).await,
        ExitReason::Stopped(StopReason::Normal)
    );
    assert!(!handle_ref.is_alive());
    let err = handle_ref.call(Msg::Get, LONG).await.unwrap_err();
    assert!(err.is(ErrorCode::SHUTDOWN), "{err:?}");
    assert_eq!(err.context_value("agent"), Some("gone"));
    let err = handle_ref.cast(Msg::Push(1)).unwrap_err();
    assert!(err.is(ErrorCode::SHUTDOWN), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn stop_finishes_the_current_message_and_refuses_the_queue() {
    let (probe, _) = Probe::new();
    let agent = spawn(probe, config("graceful", 8)).await.unwrap();
    let (release, rx) = oneshot::channel();
    agent.call(|r| Msg::Hold(r, rx), LONG).await.unwrap();
    let queued = agent.agent_ref();
    let releaser = async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        release.send(()).unwrap();
    };
    let (queued_call, exit, ()) = tokio::join!(
        queued.call(Msg::Get, LONG),
        async {
            tokio::time::sleep(Duration::from_millis(1)).await;
            agent.stop(StopReason::Shutdown).await
        },
        releaser
    );
    assert_eq!(exit, ExitReason::Stopped(StopReason::Shutdown));
    assert!(queued_call.unwrap_err().is(ErrorCode::SHUTDOWN));
}

#[tokio::test(start_paused = true)]
async fn a_stop_hook_overrunning_the_deadline_is_aborted_and_reported() {
    let (mut probe, log) = Probe::new();
    probe.stop_delay = Duration::from_secs(30);
    let agent = spawn(probe, config("stuck", 8)).await.unwrap();
    let exit = agent.stop(StopReason::Normal).await;
    assert_eq!(exit, ExitReason::Aborted(StopReason::Normal));
    assert!(log.lock().stops.is_empty());
    assert_eq!(agent.wait().await, exit);
}

#[tokio::test(start_paused = true)]
async fn a_handler_overrunning_the_deadline_is_aborted_and_its_caller_told() {
    let (probe, _) = Probe::new();
    let agent = spawn(probe, config("stuck", 8)).await.unwrap();
    let (_release, rx) = oneshot::channel();
    agent.call(|r| Msg::Hold(r, rx), LONG).await.unwrap();
    let caller = agent.agent_ref();
    let (pending, exit) = tokio::join!(
        caller.call(|r| Msg::Sleep(Duration::ZERO, r), LONG),
        agent.stop(StopReason::Shutdown)
    );
    assert_eq!(exit, ExitReason::Aborted(StopReason::Shutdown));
    assert!(pending.unwrap_err().is(ErrorCode::SHUTDOWN));
}

#[tokio::test(start_paused = true)]
async fn dropping_the_handle_cancels_the_agent() {
    let (probe, _) = Probe::new();
    let agent = spawn(probe, config("owned", 8)).await.unwrap();
    let watcher = agent.agent_ref();
    drop(agent);
    assert_eq!(watcher.wait().await, ExitReason::Cancelled);
    assert!(!watcher.is_alive());
    assert!(
        watcher
            .call(Msg::Get, LONG)
            .await
            .unwrap_err()
            .is(ErrorCode::SHUTDOWN)
    );
}

#[tokio::test(start_paused = true)]
async fn lifecycle_changes_are_emitted_on_the_bus() {
    let bus = TelemetryBus::new();
    let mut events = bus.subscribe_prefix("foundation.agent.", 16);
    let (probe, _) = Probe::new();
    let agent = spawn_on(probe, config("told", 8), bus.clone())
        .await
        .unwrap();
    agent.cast(Msg::Push(1)).unwrap();
    let _ = agent.call(|r| Msg::Panic("oops", r), LONG).await;
    let (probe, _) = Probe::new();
    let calm = spawn_on(probe, config("calm", 8), bus.clone())
        .await
        .unwrap();
    calm.shutdown(StopReason::Normal).await;

    let events = events.drain();
    let names: Vec<_> = events.iter().map(|e| e.name()).collect();
    // Lifecycle changes only: the handled cast and call emitted nothing.
    assert_eq!(
        names,
        [
            "foundation.agent.started",
            "foundation.agent.panicked",
            "foundation.agent.started",
            "foundation.agent.stopped"
        ]
    );
    assert_eq!(
        events[0].downcast_ref::<AgentStarted>().unwrap().agent,
        "told"
    );
    let panicked = events[1].downcast_ref::<AgentPanicked>().unwrap();
    assert_eq!(panicked.message, "oops");
    assert!(panicked.during.starts_with("Panic(\"oops\""));
    let stopped = events[3].downcast_ref::<AgentStopped>().unwrap();
    assert_eq!(stopped.agent, "calm");
    assert_eq!(stopped.reason, ExitReason::Stopped(StopReason::Normal));
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_spawn_stop_cycles_leave_no_live_tasks() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let before = metrics.num_alive_tasks();
    for i in 0..10_000u64 {
        let (probe, _) = Probe::new();
        let agent = spawn(probe, config("cycle", 4)).await.unwrap();
        agent.cast(Msg::Push(i)).unwrap();
        assert_eq!(
            agent.shutdown(StopReason::Normal).await,
            ExitReason::Stopped(StopReason::Normal)
        );
    }
    assert_eq!(metrics.num_alive_tasks(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_many_threads_a_panicked_call_is_always_reported_as_a_panic() {
    for _ in 0..20 {
        let (probe, _) = Probe::new();
        let agent = spawn(probe, config("mt", 4)).await.unwrap();
        let caller = agent.agent_ref();
        let err = tokio::spawn(async move { caller.call(|r| Msg::Panic("mt", r), LONG).await })
            .await
            .unwrap()
            .unwrap_err();
        assert!(err.is(ErrorCode::AGENT_PANICKED), "{err:?}");
        assert!(matches!(agent.wait().await, ExitReason::Panicked { .. }));
    }
}

#[tokio::test(start_paused = true)]
async fn exit_hooks_run_once_with_the_reason_and_unregister_when_dropped() {
    let (probe, _) = Probe::new();
    let agent = spawn(probe, config("watched", 8)).await.unwrap();
    let (seen_tx, seen_rx) = oneshot::channel();
    agent
        .on_exit(move |reason| {
            let _ = seen_tx.send(reason.clone());
        })
        .detach();
    let dropped = agent.on_exit(|_| panic!("an unregistered hook must not run"));
    assert_eq!(agent.exit_hook_count(), 2);
    drop(dropped);
    assert_eq!(agent.exit_hook_count(), 1);

    let reference = agent.agent_ref();
    agent.shutdown(StopReason::Normal).await;
    assert_eq!(
        seen_rx.await.unwrap(),
        ExitReason::Stopped(StopReason::Normal)
    );
    assert_eq!(reference.exit_hook_count(), 0);

    // Registered after the exit: runs at once.
    let (late_tx, late_rx) = oneshot::channel();
    let _hook = reference.on_exit(move |reason| {
        let _ = late_tx.send(reason.clone());
    });
    assert_eq!(
        late_rx.await.unwrap(),
        ExitReason::Stopped(StopReason::Normal)
    );
}

#[tokio::test(start_paused = true)]
async fn exit_hooks_run_in_order_and_a_panicking_one_does_not_block_the_exit() {
    let (probe, _) = Probe::new();
    let agent = spawn(probe, config("hooked", 8)).await.unwrap();
    let order = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
    for i in 0..3 {
        let order = order.clone();
        agent
            .on_exit(move |_| {
                order.lock().push(i);
                assert_ne!(i, 1, "hook 1 fails");
            })
            .detach();
    }
    let exit = agent.shutdown(StopReason::Normal).await;
    assert_eq!(exit, ExitReason::Stopped(StopReason::Normal));
    assert_eq!(*order.lock(), vec![0, 1, 2]);
}
