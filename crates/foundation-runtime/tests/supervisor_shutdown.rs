//! Start failures, ordered shutdown with per-child deadlines, and no orphaned tasks.

mod supervisor_support;

use std::time::Duration;

use foundation_core::ErrorCode;
use foundation_runtime::agent::{ExitReason, StopReason};
use foundation_runtime::supervisor::{ChildSpec, SupervisorSpec, start_on};
use supervisor_support::*;

#[tokio::test(start_paused = true)]
async fn a_static_child_failing_to_start_stops_the_started_ones_in_reverse() {
    for mode in [StartMode::Fail, StartMode::Panic] {
        let fx = Fixture::new();
        fx.set_start("c", mode);
        let spec =
            SupervisorSpec::new("sup").children(["a", "b", "c", "d"].map(|id| fx.worker(id)));
        let err = start_on(spec, fx.bus.clone()).await.unwrap_err();
        assert!(err.is(ErrorCode::AGENT_START_FAILED), "{err}");
        assert_eq!(err.context_value("child"), Some("c"));
        assert_eq!(err.context_value("supervisor"), Some("sup"));
        assert_eq!(
            fx.take_log(),
            strings(&["start:a", "start:b", "start:c", "stop:b", "stop:a"]),
            "{mode:?}"
        );
        assert_eq!(fx.alive(), 0);
    }
}

#[tokio::test(start_paused = true)]
async fn a_panicking_factory_fails_the_start_with_a_clear_error() {
    let fx = Fixture::new();
    let spec = SupervisorSpec::new("sup")
        .child(fx.worker("a"))
        .child(ChildSpec::agent(
            "bad",
            || -> Worker { panic!("no config file") },
            foundation_runtime::agent::AgentConfig::named("bad"),
        ));
    let err = start_on(spec, fx.bus.clone()).await.unwrap_err();
    assert!(err.is(ErrorCode::AGENT_START_FAILED), "{err}");
    assert_eq!(err.context_value("child"), Some("bad"));
    assert_eq!(err.context_value("panic"), Some("no config file"));
    assert_eq!(fx.take_log(), strings(&["start:a", "stop:a"]));
}

#[tokio::test(start_paused = true)]
async fn a_nested_start_failure_names_the_nested_child() {
    let fx = Fixture::new();
    fx.set_start("deep", StartMode::Fail);
    let inner = SupervisorSpec::new("inner").child(fx.worker("deep"));
    let spec = SupervisorSpec::new("top").child(ChildSpec::supervisor("inner", inner));
    let err = start_on(spec, fx.bus.clone()).await.unwrap_err();
    let children: Vec<&str> = err
        .context()
        .filter(|(k, _)| *k == "child")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(children, ["deep", "inner"]);
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_children_in_reverse_start_order_and_reports_each() {
    let fx = Fixture::new();
    let inner = SupervisorSpec::new("inner").children(["x", "y"].map(|id| fx.worker(id)));
    let spec = SupervisorSpec::new("top")
        .child(fx.worker("a"))
        .child(ChildSpec::supervisor("inner", inner))
        .child(fx.worker("b"));
    let sup = start_on(spec, fx.bus.clone()).await.unwrap();
    fx.take_log();
    let report = sup.shutdown().await;
    assert_eq!(
        fx.take_log(),
        strings(&["stop:b", "stop:y", "stop:x", "stop:a"])
    );
    assert_eq!(report.reason, ExitReason::Stopped(StopReason::Shutdown));
    let lines: Vec<(&str, ExitReason)> = report
        .children
        .iter()
        .map(|c| (c.id.as_str(), c.exit.clone()))
        .collect();
    let stopped = ExitReason::Stopped(StopReason::Shutdown);
    assert_eq!(
        lines,
        [
            ("b", stopped.clone()),
            ("inner", stopped.clone()),
            ("a", stopped)
        ]
    );
    assert_eq!(fx.alive(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_child_overrunning_its_deadline_is_aborted_and_the_rest_still_stop_in_order() {
    let fx = Fixture::new();
    let spec = SupervisorSpec::new("sup")
        .child(fx.worker_with("a", Duration::from_millis(100), Duration::from_secs(1)))
        .child(fx.worker_with("slow", Duration::from_secs(30), Duration::from_secs(2)))
        .child(fx.worker("c"));
    let sup = start_on(spec, fx.bus.clone()).await.unwrap();
    fx.take_log();
    let began = tokio::time::Instant::now();
    let report = sup.shutdown().await;
    // `slow` never logged its stop: it was aborted at its own 2 s deadline.
    assert_eq!(fx.take_log(), strings(&["stop:c", "stop:a"]));
    let lines: Vec<(&str, ExitReason)> = report
        .children
        .iter()
        .map(|c| (c.id.as_str(), c.exit.clone()))
        .collect();
    assert_eq!(
        lines,
        [
            ("c", ExitReason::Stopped(StopReason::Shutdown)),
            ("slow", ExitReason::Aborted(StopReason::Shutdown)),
            ("a", ExitReason::Stopped(StopReason::Shutdown)),
        ]
    );
    // Virtual time: the slow child's deadline plus a's graceful 100 ms.
    assert_eq!(began.elapsed(), Duration::from_millis(2100));
    assert_eq!(fx.alive(), 0);
}

#[tokio::test(start_paused = true)]
async fn stop_from_a_reference_returns_the_report_and_later_calls_see_it() {
    let fx = Fixture::new();
    let sup = start_on(
        SupervisorSpec::new("sup").child(fx.worker("a")),
        fx.bus.clone(),
    )
    .await
    .unwrap();
    let r = sup.supervisor_ref();
    let report = r.stop(StopReason::Other("maintenance".into())).await;
    assert_eq!(
        report.reason,
        ExitReason::Stopped(StopReason::Other("maintenance".into()))
    );
    assert_eq!(r.stop(StopReason::Normal).await, report);
    assert_eq!(sup.wait().await, report.reason);
    assert_eq!(r.exit_reason(), Some(report.reason.clone()));
    assert!(sup.which_children().is_empty());
    assert_eq!(sup.shutdown().await, report);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_handle_cancels_the_whole_tree() {
    let fx = Fixture::new();
    let inner = SupervisorSpec::new("inner").children(["x", "y"].map(|id| fx.worker(id)));
    let spec = SupervisorSpec::new("top")
        .child(fx.worker("a"))
        .child(ChildSpec::supervisor("inner", inner));
    let sup = start_on(spec, fx.bus.clone()).await.unwrap();
    let r = sup.supervisor_ref();
    let a = worker(&r, "a");
    let x = worker(&r.supervisor("inner").unwrap(), "x");
    assert_eq!(fx.alive(), 3);
    // The top loop, the inner loop, three agents.
    assert_eq!(live_tasks(), 5);
    drop(sup);
    assert_eq!(r.wait().await, ExitReason::Cancelled);
    settle().await;
    assert_eq!(a.wait().await, ExitReason::Cancelled);
    assert_eq!(x.wait().await, ExitReason::Cancelled);
    assert_eq!(fx.alive(), 0);
    assert_eq!(live_tasks(), 0);
    let err = r.start_child(fx.worker("late")).await.unwrap_err();
    assert!(err.is(ErrorCode::SHUTDOWN), "{err}");
}

#[tokio::test(start_paused = true)]
async fn no_agent_outlives_a_busy_tree_after_shutdown() {
    let fx = Fixture::new();
    let inner = SupervisorSpec::new("inner").children(["x", "y"].map(|id| fx.worker(id)));
    let spec = SupervisorSpec::new("top")
        .child(fx.worker("a"))
        .child(ChildSpec::supervisor("inner", inner));
    let sup = start_on(spec, fx.bus.clone()).await.unwrap();
    for _ in 0..2 {
        crash(&sup.supervisor("inner").unwrap(), "y").await;
        crash(&sup, "a").await;
    }
    sup.start_child(fx.worker("dyn")).await.unwrap();
    sup.shutdown().await;
    assert_eq!(fx.alive(), 0);
    assert_eq!(live_tasks(), 0);
}
