//! One supervisor per workflow: isolation, auto shutdown, stop, lookup.

mod supervisor_support;

use std::time::Duration;

use foundation_core::ErrorCode;
use foundation_runtime::agent::{ExitReason, StopReason};
use foundation_runtime::supervisor::{Strategy, SupervisorSpec, Workflows};
use supervisor_support::*;

async fn workflows(fx: &Fixture, max: Option<usize>) -> Workflows {
    Workflows::spawn_on("workflows", max, fx.bus.clone())
        .await
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn one_workflow_giving_up_never_touches_another() {
    let fx = Fixture::new();
    let wf = workflows(&fx, None).await;
    let one = wf
        .start("one", [fx.worker("one.a"), fx.worker("one.b")])
        .await
        .unwrap();
    let two = wf
        .start("two", [fx.worker("two.a"), fx.worker("two.b")])
        .await
        .unwrap();
    for _ in 0..4 {
        crash(&one, "one.a").await;
    }
    assert!(matches!(one.wait().await, ExitReason::Escalated(_)));
    settle().await;
    // The failed workflow is gone (temporary: never restarted); the other is untouched.
    let ids: Vec<String> = wf.list().into_iter().map(|c| c.id).collect();
    assert_eq!(ids, strings(&["two"]));
    assert!(wf.supervisor().is_alive());
    assert!(two.is_alive());
    assert_eq!(generation(&two, "two.a").await, 1);
    assert_eq!(generation(&two, "two.b").await, 1);
    assert!(wf.get("one").unwrap_err().is(ErrorCode::NOT_FOUND));
    wf.shutdown().await;
    assert_eq!(fx.alive(), 0);
    assert_eq!(live_tasks(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_crash_inside_a_workflow_is_restarted_within_it() {
    let fx = Fixture::new();
    let wf = workflows(&fx, None).await;
    let one = wf.start("one", [fx.worker("one.a")]).await.unwrap();
    let two = wf.start("two", [fx.worker("two.a")]).await.unwrap();
    crash(&one, "one.a").await;
    assert_eq!(generation(&one, "one.a").await, 2);
    assert_eq!(generation(&two, "two.a").await, 1);
    assert_eq!(wf.list()[0].restarts, 0);
    wf.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_workflow_whose_children_finished_ends_normally_and_is_removed() {
    let fx = Fixture::new();
    let wf = workflows(&fx, None).await;
    let one = wf
        .start(
            "one",
            [fx.worker("one.a")
                .restart(foundation_runtime::supervisor::Restart::Transient)],
        )
        .await
        .unwrap();
    worker(&one, "one.a").cast(Msg::Finish).unwrap();
    assert_eq!(one.wait().await, ExitReason::Stopped(StopReason::Normal));
    settle().await;
    assert!(wf.list().is_empty());
    // The id can be used again.
    wf.start("one", [fx.worker("one.a")]).await.unwrap();
    wf.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn stop_and_lookup_and_limits() {
    let fx = Fixture::new();
    let wf = workflows(&fx, Some(2)).await;
    wf.start("one", [fx.worker("one.a")]).await.unwrap();
    let spec = SupervisorSpec::new("custom")
        .strategy(Strategy::OneForAll)
        .intensity(10, Duration::from_secs(1))
        .child(fx.worker("two.a"));
    wf.start_spec("two", spec).await.unwrap();
    assert_eq!(wf.get("two").unwrap().name(), "custom");

    let err = wf.start("three", [fx.worker("three.a")]).await.unwrap_err();
    assert!(err.is(ErrorCode::SUPERVISOR_FULL), "{err}");
    let err = wf.start("one", [fx.worker("x")]).await.unwrap_err();
    assert!(err.is(ErrorCode::ALREADY_EXISTS), "{err}");

    fx.take_log();
    assert_eq!(
        wf.stop("one").await.unwrap(),
        ExitReason::Stopped(StopReason::Shutdown)
    );
    assert_eq!(fx.take_log(), strings(&["stop:one.a"]));
    assert!(wf.stop("one").await.unwrap_err().is(ErrorCode::NOT_FOUND));
    assert!(wf.get("one").unwrap_err().is(ErrorCode::NOT_FOUND));

    let report = wf.shutdown().await;
    let ids: Vec<&str> = report.children.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["two"]);
    assert_eq!(fx.alive(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_workflow_failing_to_start_is_not_added() {
    let fx = Fixture::new();
    let wf = workflows(&fx, None).await;
    fx.set_start("bad.b", StartMode::Fail);
    let err = wf
        .start("bad", [fx.worker("bad.a"), fx.worker("bad.b")])
        .await
        .unwrap_err();
    assert!(err.is(ErrorCode::AGENT_START_FAILED), "{err}");
    assert!(wf.list().is_empty());
    assert_eq!(fx.alive(), 0);
    wf.shutdown().await;
}
