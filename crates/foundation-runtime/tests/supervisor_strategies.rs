//! Which children each strategy restarts, in which order, and the events it emits.

mod supervisor_support;

use foundation_runtime::agent::{ExitReason, StopReason};
use foundation_runtime::supervisor::{ChildRestarted, Restart, Strategy, SupervisorSpec, start_on};
use supervisor_support::*;

fn spec(fx: &Fixture, strategy: Strategy) -> SupervisorSpec {
    SupervisorSpec::new("sup")
        .strategy(strategy)
        .children(["a", "b", "c"].map(|id| fx.worker(id)))
}

#[tokio::test(start_paused = true)]
async fn static_children_start_in_order() {
    let fx = Fixture::new();
    let sup = start_on(spec(&fx, Strategy::OneForOne), fx.bus.clone())
        .await
        .unwrap();
    assert_eq!(fx.take_log(), strings(&["start:a", "start:b", "start:c"]));
    let ids: Vec<String> = sup.which_children().into_iter().map(|c| c.id).collect();
    assert_eq!(ids, strings(&["a", "b", "c"]));
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn one_for_one_restarts_only_the_crashed_child() {
    let fx = Fixture::new();
    let sup = start_on(spec(&fx, Strategy::OneForOne), fx.bus.clone())
        .await
        .unwrap();
    fx.take_log();
    crash(&sup, "b").await;
    assert_eq!(fx.take_log(), strings(&["start:b"]));
    assert_eq!(generation(&sup, "a").await, 1);
    assert_eq!(generation(&sup, "b").await, 2);
    assert_eq!(generation(&sup, "c").await, 1);
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn one_for_all_stops_the_others_in_reverse_then_starts_all_in_order() {
    let fx = Fixture::new();
    let sup = start_on(spec(&fx, Strategy::OneForAll), fx.bus.clone())
        .await
        .unwrap();
    fx.take_log();
    crash(&sup, "b").await;
    assert_eq!(
        fx.take_log(),
        strings(&["stop:c", "stop:a", "start:a", "start:b", "start:c"])
    );
    for id in ["a", "b", "c"] {
        assert_eq!(generation(&sup, id).await, 2, "{id}");
    }
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn rest_for_one_restarts_the_child_and_those_started_after_it() {
    let fx = Fixture::new();
    let spec = SupervisorSpec::new("sup")
        .strategy(Strategy::RestForOne)
        .children(["a", "b", "c", "d"].map(|id| fx.worker(id)));
    let sup = start_on(spec, fx.bus.clone()).await.unwrap();
    fx.take_log();
    crash(&sup, "b").await;
    assert_eq!(
        fx.take_log(),
        strings(&["stop:d", "stop:c", "start:b", "start:c", "start:d"])
    );
    assert_eq!(generation(&sup, "a").await, 1);
    for id in ["b", "c", "d"] {
        assert_eq!(generation(&sup, id).await, 2, "{id}");
    }
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn rest_for_one_on_the_last_child_restarts_only_it() {
    let fx = Fixture::new();
    let sup = start_on(spec(&fx, Strategy::RestForOne), fx.bus.clone())
        .await
        .unwrap();
    fx.take_log();
    crash(&sup, "c").await;
    assert_eq!(fx.take_log(), strings(&["start:c"]));
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_temporary_sibling_stopped_by_one_for_all_is_removed_not_restarted() {
    let fx = Fixture::new();
    let spec = SupervisorSpec::new("sup")
        .strategy(Strategy::OneForAll)
        .child(fx.worker("a"))
        .child(fx.worker("t").restart(Restart::Temporary))
        .child(fx.worker("c"));
    let sup = start_on(spec, fx.bus.clone()).await.unwrap();
    fx.take_log();
    crash(&sup, "a").await;
    assert_eq!(
        fx.take_log(),
        strings(&["stop:c", "stop:t", "start:a", "start:c"])
    );
    let ids: Vec<String> = sup.which_children().into_iter().map(|c| c.id).collect();
    assert_eq!(ids, strings(&["a", "c"]));
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn transient_siblings_are_restarted_with_the_strategy() {
    let fx = Fixture::new();
    let spec = SupervisorSpec::new("sup")
        .strategy(Strategy::OneForAll)
        .child(fx.worker("a"))
        .child(fx.worker("t").restart(Restart::Transient));
    let sup = start_on(spec, fx.bus.clone()).await.unwrap();
    crash(&sup, "a").await;
    assert_eq!(generation(&sup, "t").await, 2);
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn restarts_emit_events_with_child_reason_and_count() {
    let fx = Fixture::new();
    let mut events = fx.events();
    let sup = start_on(spec(&fx, Strategy::RestForOne), fx.bus.clone())
        .await
        .unwrap();
    crash(&sup, "b").await;
    crash(&sup, "b").await;
    let restarted: Vec<ChildRestarted> = downcast(&events.drain());
    let summary: Vec<(&str, u32)> = restarted
        .iter()
        .map(|e| (e.child.as_str(), e.restarts))
        .collect();
    assert_eq!(summary, [("b", 1), ("c", 1), ("b", 2), ("c", 2)]);
    assert!(restarted.iter().all(|e| e.supervisor == "sup"));
    assert!(matches!(restarted[0].reason, ExitReason::Panicked { .. }));
    // The sibling's reason is the stop the strategy asked for.
    assert_eq!(
        restarted[1].reason,
        ExitReason::Stopped(StopReason::Shutdown)
    );
    let counts: Vec<(String, u32)> = sup
        .which_children()
        .into_iter()
        .map(|c| (c.id, c.restarts))
        .collect();
    assert_eq!(counts, [("a".into(), 0), ("b".into(), 2), ("c".into(), 2)]);
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_restarted_child_keeps_its_place_in_start_order() {
    let fx = Fixture::new();
    let sup = start_on(spec(&fx, Strategy::OneForOne), fx.bus.clone())
        .await
        .unwrap();
    crash(&sup, "a").await;
    fx.take_log();
    let report = sup.shutdown().await;
    assert_eq!(fx.take_log(), strings(&["stop:c", "stop:b", "stop:a"]));
    let ids: Vec<&str> = report.children.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["c", "b", "a"]);
}
