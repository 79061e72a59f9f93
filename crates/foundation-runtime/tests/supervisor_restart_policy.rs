//! Permanent, transient and temporary children on normal and abnormal exits; removal of
//! children that are not restarted; `auto_shutdown`.

mod supervisor_support;

use foundation_runtime::agent::{ExitReason, StopReason};
use foundation_runtime::supervisor::{Restart, SupervisorRef, SupervisorSpec, start_on};
use supervisor_support::*;

/// Ends worker `id` with `msg` and lets the supervisor handle it.
async fn end(sup: &SupervisorRef, id: &str, msg: Msg) -> ExitReason {
    let w = worker(sup, id);
    w.cast(msg).unwrap();
    let exit = w.wait().await;
    settle().await;
    exit
}

fn ids(sup: &SupervisorRef) -> Vec<String> {
    sup.which_children().into_iter().map(|c| c.id).collect()
}

async fn one_child(
    fx: &Fixture,
    restart: Restart,
) -> foundation_runtime::supervisor::SupervisorHandle {
    let spec = SupervisorSpec::new("sup")
        .child(fx.worker("w").restart(restart))
        .child(fx.worker("other"));
    start_on(spec, fx.bus.clone()).await.unwrap()
}

#[tokio::test(start_paused = true)]
async fn permanent_restarts_after_normal_and_abnormal_exits() {
    let fx = Fixture::new();
    let sup = one_child(&fx, Restart::Permanent).await;
    assert_eq!(
        end(&sup, "w", Msg::Finish).await,
        ExitReason::Stopped(StopReason::Normal)
    );
    assert_eq!(generation(&sup, "w").await, 2);
    end(&sup, "w", Msg::Crash).await;
    assert_eq!(generation(&sup, "w").await, 3);
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn transient_restarts_only_after_an_abnormal_exit() {
    let fx = Fixture::new();
    let sup = one_child(&fx, Restart::Transient).await;
    end(&sup, "w", Msg::Crash).await;
    assert_eq!(generation(&sup, "w").await, 2);
    end(&sup, "w", Msg::Fail).await;
    assert_eq!(generation(&sup, "w").await, 3);
    end(&sup, "w", Msg::Finish).await;
    assert_eq!(fx.generations("w"), 3);
    assert_eq!(ids(&sup), strings(&["other"]));
    let err = sup.child::<Worker>("w").unwrap_err();
    assert!(err.is(foundation_core::ErrorCode::NOT_FOUND));
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn temporary_is_never_restarted_and_is_removed() {
    for msg in [Msg::Finish, Msg::Crash] {
        let fx = Fixture::new();
        let sup = one_child(&fx, Restart::Temporary).await;
        end(&sup, "w", msg).await;
        assert_eq!(fx.generations("w"), 1);
        assert_eq!(ids(&sup), strings(&["other"]));
        assert!(sup.is_alive());
        sup.shutdown().await;
    }
}

#[tokio::test(start_paused = true)]
async fn auto_shutdown_ends_normally_when_the_last_child_ends_without_restart() {
    let fx = Fixture::new();
    let spec = SupervisorSpec::new("job")
        .auto_shutdown(true)
        .child(fx.worker("step1").restart(Restart::Transient))
        .child(fx.worker("step2").restart(Restart::Transient));
    let sup = start_on(spec, fx.bus.clone()).await.unwrap();
    // A crash is restarted; it does not end the supervisor.
    end(&sup, "step1", Msg::Crash).await;
    end(&sup, "step1", Msg::Finish).await;
    assert!(sup.is_alive());
    end(&sup, "step2", Msg::Finish).await;
    assert_eq!(sup.wait().await, ExitReason::Stopped(StopReason::Normal));
    assert_eq!(fx.alive(), 0);
}

#[tokio::test(start_paused = true)]
async fn without_auto_shutdown_an_empty_supervisor_keeps_running() {
    let fx = Fixture::new();
    let spec = SupervisorSpec::new("sup").child(fx.worker("w").restart(Restart::Temporary));
    let sup = start_on(spec, fx.bus.clone()).await.unwrap();
    end(&sup, "w", Msg::Finish).await;
    assert!(sup.is_alive());
    assert!(sup.which_children().is_empty());
    sup.start_child(fx.worker("again")).await.unwrap();
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn terminate_child_does_not_trigger_auto_shutdown() {
    let fx = Fixture::new();
    let spec = SupervisorSpec::new("sup")
        .auto_shutdown(true)
        .child(fx.worker("w"));
    let sup = start_on(spec, fx.bus.clone()).await.unwrap();
    let exit = sup.terminate_child("w").await.unwrap();
    assert_eq!(exit, ExitReason::Stopped(StopReason::Shutdown));
    settle().await;
    assert!(sup.is_alive());
    assert_eq!(fx.generations("w"), 1);
    sup.shutdown().await;
}
