//! Spec validation: every problem is an `INVALID_CONFIG` naming its field, all collected,
//! never a panic; and the serde form of the config.

mod supervisor_support;

use std::time::Duration;

use foundation_core::ErrorCode;
use foundation_core::validate::Validate;
use foundation_runtime::agent::AgentConfig;
use foundation_runtime::supervisor::{
    ChildSpec, Strategy, SupervisorConfig, SupervisorSpec, start_on,
};
use supervisor_support::*;

fn fields(err: &foundation_core::Error) -> Vec<String> {
    err.context_values("field").map(str::to_owned).collect()
}

#[test]
fn zero_intensity_is_invalid() {
    let err = SupervisorSpec::new("sup")
        .intensity(0, Duration::ZERO)
        .validate()
        .unwrap_err();
    assert!(err.is(ErrorCode::INVALID_CONFIG));
    assert_eq!(fields(&err), strings(&["max_restarts", "period_ms"]));
}

#[test]
fn every_problem_is_collected_with_its_field() {
    let fx = Fixture::new();
    let bad_agent = ChildSpec::agent(
        "c",
        || -> Worker { unreachable!("never started") },
        AgentConfig {
            name: String::new(),
            mailbox_capacity: 0,
            stop_deadline: Duration::ZERO,
        },
    );
    let err = SupervisorSpec::new(" ")
        .max_children(0)
        .child(fx.worker("a"))
        .child(fx.worker(""))
        .child(fx.worker("a"))
        .child(bad_agent)
        .validate()
        .unwrap_err();
    assert_eq!(
        fields(&err),
        strings(&[
            "name",
            "max_children",
            "children",
            "children[1].id",
            "children[1].config.name",
            "children[2].id",
            "children[3].config.name",
            "children[3].config.mailbox_capacity",
            "children[3].config.stop_deadline_ms",
        ])
    );
    assert!(
        err.message()
            .contains("duplicate id `a` (also children[0])"),
        "{err}"
    );
}

#[test]
fn nested_supervisor_problems_are_prefixed() {
    let fx = Fixture::new();
    let inner = SupervisorSpec::new("inner")
        .child(fx.worker("x"))
        .child(fx.worker("x"));
    let err = SupervisorSpec::new("top")
        .child(ChildSpec::supervisor("inner", inner))
        .validate()
        .unwrap_err();
    assert_eq!(
        fields(&err),
        strings(&["children[0].supervisor.children[1].id"])
    );
}

#[test]
fn more_static_children_than_max_children_is_invalid() {
    let fx = Fixture::new();
    let err = SupervisorSpec::new("sup")
        .max_children(1)
        .children(["a", "b"].map(|id| fx.worker(id)))
        .validate()
        .unwrap_err();
    assert_eq!(fields(&err), strings(&["children"]));
}

#[tokio::test(start_paused = true)]
async fn start_refuses_an_invalid_spec_before_starting_anything() {
    let fx = Fixture::new();
    let spec = SupervisorSpec::new("sup")
        .child(fx.worker("a"))
        .child(fx.worker("a"));
    let err = start_on(spec, fx.bus.clone()).await.unwrap_err();
    assert!(err.is(ErrorCode::INVALID_CONFIG));
    assert_eq!(fx.generations("a"), 0);
}

#[test]
fn start_outside_a_runtime_is_a_shutdown_error() {
    let err = futures::executor::block_on(start_on(SupervisorSpec::new("sup"), Default::default()))
        .unwrap_err();
    assert!(err.is(ErrorCode::SHUTDOWN), "{err}");
    assert_eq!(err.context_value("supervisor"), Some("sup"));
}

#[test]
fn the_config_round_trips_through_serde_with_defaults() {
    let cfg: SupervisorConfig = serde_json::from_str(r#"{"name":"orders"}"#).unwrap();
    assert_eq!(cfg.strategy, Strategy::OneForOne);
    assert_eq!((cfg.max_restarts, cfg.period), (3, Duration::from_secs(5)));
    assert_eq!(cfg.max_children, None);
    assert!(!cfg.auto_shutdown);
    let cfg = SupervisorConfig {
        strategy: Strategy::OneForAll,
        max_children: Some(10),
        ..cfg
    };
    let json = serde_json::to_value(&cfg).unwrap();
    assert_eq!(json["strategy"], "one_for_all");
    assert_eq!(json["period_ms"], 5000);
    let back: SupervisorConfig = serde_json::from_value(json).unwrap();
    assert_eq!(back, cfg);
    assert!(serde_json::from_str::<SupervisorConfig>(r#"{"period":5}"#).is_err());
    let spec = SupervisorSpec::from_config(back);
    assert_eq!(spec.config().max_children, Some(10));
    assert!(spec.child_specs().is_empty());
}
