//! Restart intensity, giving up, failed restarts and escalation through a nested tree.

mod supervisor_support;

use std::time::Duration;

use foundation_core::ErrorCode;
use foundation_runtime::agent::ExitReason;
use foundation_runtime::supervisor::{
    ChildRestarted, ChildSpec, DEFAULT_MAX_RESTARTS, DEFAULT_PERIOD, Strategy, SupervisorGaveUp,
    SupervisorSpec, start_on,
};
use supervisor_support::*;

#[test]
fn the_default_intensity_is_three_restarts_in_five_seconds() {
    let spec = SupervisorSpec::new("sup");
    assert_eq!(spec.config().max_restarts, 3);
    assert_eq!(DEFAULT_MAX_RESTARTS, 3);
    assert_eq!(spec.config().period, Duration::from_secs(5));
    assert_eq!(DEFAULT_PERIOD, Duration::from_secs(5));
}

fn two_workers(fx: &Fixture) -> SupervisorSpec {
    SupervisorSpec::new("sup")
        .child(fx.worker("a"))
        .child(fx.worker("b"))
}

#[tokio::test(start_paused = true)]
async fn the_fourth_crash_within_the_period_escalates() {
    let fx = Fixture::new();
    let mut events = fx.events();
    let sup = start_on(two_workers(&fx), fx.bus.clone()).await.unwrap();
    for _ in 0..3 {
        crash(&sup, "b").await;
        assert!(sup.is_alive());
    }
    fx.take_log();
    crash(&sup, "b").await;
    let report = sup.report().await;
    let ExitReason::Escalated(why) = &report.reason else {
        panic!("expected escalation, got {:?}", report.reason);
    };
    assert!(why.contains("`b`"), "{why}");
    assert!(!report.reason.is_normal());
    // The other child was stopped; the crashed one is reported with its crash.
    assert_eq!(fx.take_log(), strings(&["stop:a"]));
    let lines: Vec<&str> = report.children.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(lines, ["b", "a"]);
    assert!(matches!(
        report.children[0].exit,
        ExitReason::Panicked { .. }
    ));

    let events = events.drain();
    assert_eq!(downcast::<ChildRestarted>(&events).len(), 3);
    let gave_up: Vec<SupervisorGaveUp> = downcast(&events);
    assert_eq!(gave_up.len(), 1);
    assert_eq!(gave_up[0].child, "b");
    assert_eq!(gave_up[0].max_restarts, 3);
    assert_eq!(fx.alive(), 0);
    // The loop ended on its own, even though its handle is still held.
    settle().await;
    assert_eq!(live_tasks(), 0);
}

#[tokio::test(start_paused = true)]
async fn crashes_spread_beyond_the_period_never_give_up() {
    let fx = Fixture::new();
    let sup = start_on(two_workers(&fx), fx.bus.clone()).await.unwrap();
    for _ in 0..10 {
        crash(&sup, "a").await;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    assert!(sup.is_alive());
    assert_eq!(generation(&sup, "a").await, 11);
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_child_that_can_never_restart_escalates_instead_of_looping() {
    for mode in [StartMode::Fail, StartMode::Panic] {
        let fx = Fixture::new();
        let sup = start_on(two_workers(&fx), fx.bus.clone()).await.unwrap();
        fx.set_start("b", mode);
        fx.take_log();
        crash(&sup, "b").await;
        let report = sup.report().await;
        assert!(
            matches!(report.reason, ExitReason::Escalated(_)),
            "{mode:?}: {:?}",
            report.reason
        );
        // The crash, then three failed restarts; the fourth is refused.
        assert_eq!(
            fx.take_log(),
            strings(&["start:b", "start:b", "start:b", "stop:a"]),
            "{mode:?}"
        );
        assert!(matches!(
            report.children[0].exit,
            ExitReason::StartFailed(_)
        ));
        assert_eq!(fx.alive(), 0);
    }
}

#[tokio::test(start_paused = true)]
async fn failed_restarts_count_against_the_intensity() {
    // Crash, then two failed restarts: the third attempt is the last one allowed.
    let fx = Fixture::new();
    let mut events = fx.events();
    let sup = start_on(two_workers(&fx), fx.bus.clone()).await.unwrap();
    fx.fail_next("b", 2);
    crash(&sup, "b").await;
    assert!(sup.is_alive());
    assert_eq!(generation(&sup, "b").await, 4);
    let info = &sup.which_children()[1];
    assert!(info.running);
    assert_eq!(info.restarts, 3);
    // Only the successful start is reported as a restart.
    let restarted: Vec<ChildRestarted> = downcast(&events.drain());
    assert_eq!(restarted.len(), 1);
    assert!(matches!(restarted[0].reason, ExitReason::StartFailed(_)));
    assert_eq!(restarted[0].restarts, 3);
    // Within the same period, one more crash is too many.
    crash(&sup, "b").await;
    assert!(matches!(sup.wait().await, ExitReason::Escalated(_)));
}

fn tree(fx: &Fixture) -> SupervisorSpec {
    let inner = SupervisorSpec::new("inner")
        .child(fx.worker("x"))
        .child(fx.worker("y"));
    SupervisorSpec::new("top")
        .strategy(Strategy::OneForOne)
        .child(fx.worker("sibling"))
        .child(ChildSpec::supervisor("inner", inner))
}

#[tokio::test(start_paused = true)]
async fn an_escalating_child_supervisor_is_restarted_by_its_parent() {
    let fx = Fixture::new();
    let top = start_on(tree(&fx), fx.bus.clone()).await.unwrap();
    let inner = top.supervisor("inner").unwrap();
    for _ in 0..4 {
        crash(&inner, "x").await;
    }
    assert!(matches!(inner.wait().await, ExitReason::Escalated(_)));
    settle().await;
    // The parent restarted the whole child supervisor, with fresh children.
    let inner2 = top.supervisor("inner").unwrap();
    assert!(inner2.is_alive());
    assert_eq!(generation(&inner2, "x").await, 5);
    assert_eq!(generation(&inner2, "y").await, 2);
    // The sibling was untouched.
    assert_eq!(generation(&top, "sibling").await, 1);
    assert_eq!(top.which_children()[1].restarts, 1);
    top.shutdown().await;
    assert_eq!(fx.alive(), 0);
    assert_eq!(live_tasks(), 0);
}

#[tokio::test(start_paused = true)]
async fn the_top_level_gives_up_after_its_own_intensity() {
    let fx = Fixture::new();
    let mut events = fx.events();
    let top = start_on(tree(&fx), fx.bus.clone()).await.unwrap();
    for round in 0..4 {
        let inner = top.supervisor("inner").unwrap();
        for _ in 0..4 {
            crash(&inner, "x").await;
        }
        assert!(matches!(inner.wait().await, ExitReason::Escalated(_)));
        settle().await;
        assert_eq!(top.is_alive(), round < 3, "round {round}");
    }
    let exit = top.wait().await;
    let ExitReason::Escalated(why) = exit else {
        panic!("expected escalation, got {exit:?}");
    };
    assert!(why.contains("`inner`"), "{why}");
    let gave_up: Vec<SupervisorGaveUp> = downcast(&events.drain());
    let who: Vec<&str> = gave_up.iter().map(|e| e.supervisor.as_str()).collect();
    assert_eq!(who, ["inner", "inner", "inner", "inner", "top"]);
    assert_eq!(fx.alive(), 0);
    let err = top.start_child(fx.worker("late")).await.unwrap_err();
    assert!(err.is(ErrorCode::SUPERVISOR_GAVE_UP), "{err}");
    assert_eq!(err.context_value("supervisor"), Some("top"));
}

#[tokio::test(start_paused = true)]
async fn a_start_hook_panic_while_restarting_a_nested_tree_escalates() {
    let fx = Fixture::new();
    let top = start_on(tree(&fx), fx.bus.clone()).await.unwrap();
    let inner = top.supervisor("inner").unwrap();
    // Every restart of `y` panics in on_start, so `inner` gives up after y's crash.
    fx.set_start("y", StartMode::Panic);
    crash(&inner, "y").await;
    assert!(matches!(inner.wait().await, ExitReason::Escalated(_)));
    settle().await;
    // The parent's restarts of `inner` fail too (y cannot start), so `top` escalates.
    let exit = top.wait().await;
    assert!(matches!(exit, ExitReason::Escalated(_)), "{exit:?}");
    assert_eq!(fx.alive(), 0);
}
