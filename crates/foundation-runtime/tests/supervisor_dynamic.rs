//! Children started and terminated at run time, `which_children` and typed lookups.

mod supervisor_support;

use std::time::Duration;

use foundation_core::ErrorCode;
use foundation_runtime::agent::{Agent, Context, ExitReason, StopReason};
use foundation_runtime::supervisor::{
    ChildKind, ChildSpec, Restart, Strategy, SupervisorSpec, start_on,
};
use supervisor_support::*;

/// An agent of another type, for wrong-type lookups.
struct Other;

impl Agent for Other {
    type Msg = ();
    async fn handle(&mut self, _msg: (), _ctx: &mut Context<Self>) {}
}

#[tokio::test(start_paused = true)]
async fn dynamic_children_are_listed_and_supervised() {
    let fx = Fixture::new();
    let sup = start_on(SupervisorSpec::new("dyn"), fx.bus.clone())
        .await
        .unwrap();
    assert!(sup.which_children().is_empty());
    sup.start_child(fx.worker("a")).await.unwrap();
    sup.start_child(fx.worker("b").restart(Restart::Transient))
        .await
        .unwrap();
    let rows = sup.which_children();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (
            rows[1].id.as_str(),
            rows[1].kind,
            rows[1].restart,
            rows[1].running,
            rows[1].restarts
        ),
        ("b", ChildKind::Agent, Restart::Transient, true, 0)
    );
    crash(&sup, "b").await;
    assert_eq!(sup.which_children()[1].restarts, 1);
    assert_eq!(generation(&sup, "b").await, 2);
    sup.shutdown().await;
    assert_eq!(fx.alive(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_dynamic_child_joins_the_strategy_after_the_static_ones() {
    let fx = Fixture::new();
    let spec = SupervisorSpec::new("sup")
        .strategy(Strategy::RestForOne)
        .child(fx.worker("a"));
    let sup = start_on(spec, fx.bus.clone()).await.unwrap();
    sup.start_child(fx.worker("late")).await.unwrap();
    fx.take_log();
    crash(&sup, "a").await;
    assert_eq!(
        fx.take_log(),
        strings(&["stop:late", "start:a", "start:late"])
    );
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_duplicate_id_is_already_exists() {
    let fx = Fixture::new();
    let sup = start_on(
        SupervisorSpec::new("sup").child(fx.worker("a")),
        fx.bus.clone(),
    )
    .await
    .unwrap();
    let err = sup.start_child(fx.worker("a")).await.unwrap_err();
    assert!(err.is(ErrorCode::ALREADY_EXISTS), "{err}");
    assert_eq!(err.context_value("child"), Some("a"));
    assert_eq!(err.context_value("supervisor"), Some("sup"));
    assert_eq!(fx.generations("a"), 1);
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn max_children_makes_the_next_start_supervisor_full() {
    let fx = Fixture::new();
    let spec = SupervisorSpec::new("sup")
        .max_children(2)
        .child(fx.worker("a"));
    let sup = start_on(spec, fx.bus.clone()).await.unwrap();
    sup.start_child(fx.worker("b")).await.unwrap();
    let err = sup.start_child(fx.worker("c")).await.unwrap_err();
    assert!(err.is(ErrorCode::SUPERVISOR_FULL), "{err}");
    assert!(err.is_retryable());
    assert_eq!(err.context_value("max_children"), Some("2"));
    assert_eq!(fx.generations("c"), 0);
    // Room again once one is gone.
    sup.terminate_child("a").await.unwrap();
    sup.start_child(fx.worker("c")).await.unwrap();
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_dynamic_child_failing_to_start_is_not_added() {
    let fx = Fixture::new();
    let sup = start_on(SupervisorSpec::new("sup"), fx.bus.clone())
        .await
        .unwrap();
    fx.set_start("bad", StartMode::Fail);
    let err = sup.start_child(fx.worker("bad")).await.unwrap_err();
    assert!(err.is(ErrorCode::AGENT_START_FAILED), "{err}");
    assert_eq!(err.context_value("child"), Some("bad"));
    assert!(sup.which_children().is_empty());
    assert!(sup.is_alive());
    // Not a restart: the intensity is untouched, and the id is free again.
    fx.set_start("bad", StartMode::Ok);
    sup.start_child(fx.worker("bad")).await.unwrap();
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn terminate_child_stops_it_without_restart_and_unknown_ids_are_not_found() {
    let fx = Fixture::new();
    let spec = SupervisorSpec::new("sup")
        .child(fx.worker("a"))
        .child(fx.worker("b"));
    let sup = start_on(spec, fx.bus.clone()).await.unwrap();
    fx.take_log();
    assert_eq!(
        sup.terminate_child("a").await.unwrap(),
        ExitReason::Stopped(StopReason::Shutdown)
    );
    settle().await;
    assert_eq!(fx.take_log(), strings(&["stop:a"]));
    let ids: Vec<String> = sup.which_children().into_iter().map(|c| c.id).collect();
    assert_eq!(ids, strings(&["b"]));
    for id in ["a", "nope"] {
        let err = sup.terminate_child(id).await.unwrap_err();
        assert!(err.is(ErrorCode::NOT_FOUND), "{err}");
        assert_eq!(err.context_value("child"), Some(id));
    }
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn typed_lookup_returns_the_new_instance_after_a_restart() {
    let fx = Fixture::new();
    let sup = start_on(
        SupervisorSpec::new("sup").child(fx.worker("a")),
        fx.bus.clone(),
    )
    .await
    .unwrap();
    let before = sup.child::<Worker>("a").unwrap();
    crash(&sup, "a").await;
    assert!(!before.is_alive());
    let after = sup.child::<Worker>("a").unwrap();
    assert!(after.is_alive());
    assert_eq!(
        after
            .call(Msg::Generation, Duration::from_secs(1))
            .await
            .unwrap(),
        2
    );
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn lookups_with_a_wrong_type_or_unknown_id_are_clear_errors() {
    let fx = Fixture::new();
    let inner = SupervisorSpec::new("inner");
    let spec = SupervisorSpec::new("sup")
        .child(fx.worker("a"))
        .child(ChildSpec::supervisor("inner", inner));
    let sup = start_on(spec, fx.bus.clone()).await.unwrap();

    let err = sup.child::<Other>("a").unwrap_err();
    assert!(err.is(ErrorCode::INVALID_INPUT), "{err}");
    assert_eq!(err.context_value("child"), Some("a"));
    let err = sup.child::<Worker>("inner").unwrap_err();
    assert!(err.is(ErrorCode::INVALID_INPUT), "{err}");
    let err = sup.supervisor("a").unwrap_err();
    assert!(err.is(ErrorCode::INVALID_INPUT), "{err}");
    assert_eq!(sup.supervisor("inner").unwrap().name(), "inner");

    let err = sup.child::<Worker>("nope").unwrap_err();
    assert!(err.is(ErrorCode::NOT_FOUND), "{err}");
    assert_eq!(err.context_value("child"), Some("nope"));
    assert_eq!(err.context_value("supervisor"), Some("sup"));
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn calls_on_a_stopped_supervisor_are_shutdown_errors() {
    let fx = Fixture::new();
    let sup = start_on(
        SupervisorSpec::new("sup").child(fx.worker("a")),
        fx.bus.clone(),
    )
    .await
    .unwrap();
    let r = sup.supervisor_ref();
    sup.shutdown().await;
    let errors = [
        r.start_child(fx.worker("b")).await.unwrap_err(),
        r.terminate_child("a").await.unwrap_err(),
        r.child::<Worker>("a").unwrap_err(),
        r.supervisor("a").unwrap_err(),
    ];
    for err in errors {
        assert!(err.is(ErrorCode::SHUTDOWN), "{err}");
        assert_eq!(err.context_value("supervisor"), Some("sup"));
    }
    assert!(!r.is_alive());
    assert!(r.which_children().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_bad_dynamic_spec_is_invalid_config_naming_the_field() {
    let fx = Fixture::new();
    let sup = start_on(SupervisorSpec::new("sup"), fx.bus.clone())
        .await
        .unwrap();
    let err = sup.start_child(fx.worker("")).await.unwrap_err();
    assert!(err.is(ErrorCode::INVALID_CONFIG), "{err}");
    assert_eq!(err.context_value("field"), Some("id"));
    let nested = ChildSpec::supervisor("n", SupervisorSpec::new("n").intensity(0, Duration::ZERO));
    let err = sup.start_child(nested).await.unwrap_err();
    let fields: Vec<&str> = err.context_values("field").collect();
    assert_eq!(fields, ["supervisor.max_restarts", "supervisor.period_ms"]);
    sup.shutdown().await;
}
