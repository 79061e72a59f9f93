//! Persistent agents: state loaded on start, saved before each answer (write-through) and on
//! stop, conflicts between instances, failed saves never acknowledged. Real store I/O, so
//! no paused time here.

use std::time::Duration;

use foundation_core::error::{Error, ErrorCode};
use foundation_core::telemetry::TelemetryBus;
use foundation_runtime::agent::{
    AgentConfig, AgentHandle, Context, ExitReason, Reply, StopReason, spawn,
};
use foundation_runtime::persistent::{Persistent, PersistentAgent};
use foundation_runtime::supervisor::{self, ChildSpec, SupervisorSpec};
use foundation_store::on_each_backend;
use foundation_store::testing::Target;
use foundation_store::{StateStore, Store};
use serde::{Deserialize, Serialize};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);

on_each_backend!(
    state_survives_a_restart,
    answers_come_after_the_save,
    unchanged_state_is_not_saved,
    a_panic_loses_only_the_unacknowledged_change,
    a_second_instance_of_the_key_conflicts_and_stops,
    a_store_failure_is_not_acknowledged,
    an_oversize_state_is_not_acknowledged,
    start_and_stop_hooks_changes_are_saved,
    a_stored_state_of_the_wrong_shape_fails_the_start,
    a_bad_key_fails_the_start,
    a_supervisor_restarts_a_conflicting_agent_which_reloads,
);

#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
struct Tally {
    total: u64,
    notes: Vec<String>,
}

#[derive(Debug)]
enum Msg {
    Add(u64, Reply<u64>),
    Get(Reply<u64>),
    Note(String, Reply<()>),
    AddThenPanic(u64),
}

struct Counter {
    key: String,
}

impl PersistentAgent for Counter {
    type Msg = Msg;
    type State = Tally;

    fn key(&self) -> &str {
        &self.key
    }

    async fn handle(&mut self, state: &mut Tally, msg: Msg, ctx: &mut Context<Persistent<Self>>) {
        match msg {
            Msg::Add(n, reply) => {
                state.total += n;
                ctx.reply(reply, state.total);
            }
            Msg::Get(reply) => ctx.reply(reply, state.total),
            Msg::Note(note, reply) => {
                state.notes.push(note);
                ctx.reply(reply, ());
            }
            Msg::AddThenPanic(n) => {
                state.total += n;
                panic!("handler failed after changing the state");
            }
        }
    }
}

async fn start(store: &Store, key: &str) -> Result<AgentHandle<Persistent<Counter>>, Error> {
    let agent = Persistent::new(
        Counter {
            key: key.to_owned(),
        },
        store.agent_state(),
    );
    spawn(agent, AgentConfig::named(format!("counter-{key}"))).await
}

async fn add(agent: &AgentHandle<Persistent<Counter>>, n: u64) -> Result<u64, Error> {
    agent.call(|r| Msg::Add(n, r), WAIT).await
}

async fn stored(states: &StateStore, key: &str) -> Option<(u64, serde_json::Value)> {
    states
        .load(key)
        .await
        .unwrap()
        .map(|found| (found.version, found.state))
}

async fn state_survives_a_restart(t: &Target) {
    let store = t.options().open().await.unwrap();
    let agent = start(&store, "c").await.unwrap();
    assert_eq!(add(&agent, 2).await.unwrap(), 2);
    assert_eq!(add(&agent, 3).await.unwrap(), 5);
    agent.shutdown(StopReason::Normal).await;
    store.close().await;

    let store = t.options().open().await.unwrap();
    let agent = start(&store, "c").await.unwrap();
    assert_eq!(agent.call(Msg::Get, WAIT).await.unwrap(), 5);
    assert_eq!(add(&agent, 1).await.unwrap(), 6);
    agent.shutdown(StopReason::Normal).await;
    assert_eq!(
        stored(&store.agent_state(), "c").await,
        Some((3, json!({"total": 6, "notes": []})))
    );
    store.close().await;
}

async fn answers_come_after_the_save(t: &Target) {
    let store = t.options().open().await.unwrap();
    let states = store.agent_state();
    let agent = start(&store, "c").await.unwrap();
    for n in 1..=3 {
        assert_eq!(add(&agent, 1).await.unwrap(), n);
        // Read straight from the store: the answered change is already there.
        assert_eq!(
            stored(&states, "c").await,
            Some((n, json!({"total": n, "notes": []})))
        );
    }
    // Cancelling the agent skips `on_stop`; nothing acknowledged is lost.
    drop(agent);
    let agent = start(&store, "c").await.unwrap();
    assert_eq!(agent.call(Msg::Get, WAIT).await.unwrap(), 3);
    agent.shutdown(StopReason::Normal).await;
    store.close().await;
}

async fn unchanged_state_is_not_saved(t: &Target) {
    let store = t.options().open().await.unwrap();
    let states = store.agent_state();
    let agent = start(&store, "c").await.unwrap();
    assert_eq!(agent.call(Msg::Get, WAIT).await.unwrap(), 0);
    assert_eq!(
        stored(&states, "c").await,
        None,
        "the default is not written"
    );
    add(&agent, 4).await.unwrap();
    add(&agent, 0).await.unwrap();
    agent.call(Msg::Get, WAIT).await.unwrap();
    agent.shutdown(StopReason::Normal).await;
    assert_eq!(stored(&states, "c").await.map(|(v, _)| v), Some(1));
    store.close().await;
}

async fn a_panic_loses_only_the_unacknowledged_change(t: &Target) {
    let store = t.options().open().await.unwrap();
    let agent = start(&store, "c").await.unwrap();
    add(&agent, 5).await.unwrap();
    agent.cast(Msg::AddThenPanic(100)).unwrap();
    assert!(matches!(agent.wait().await, ExitReason::Panicked { .. }));
    drop(agent);

    let agent = start(&store, "c").await.unwrap();
    assert_eq!(agent.call(Msg::Get, WAIT).await.unwrap(), 5);
    agent.shutdown(StopReason::Normal).await;
    store.close().await;
}

async fn a_second_instance_of_the_key_conflicts_and_stops(t: &Target) {
    let store = t.options().open().await.unwrap();
    let first = start(&store, "shared").await.unwrap();
    let second = start(&store, "shared").await.unwrap();

    assert_eq!(add(&first, 1).await.unwrap(), 1);
    // The second instance loaded the same (empty) state; its save must not overwrite.
    let err = add(&second, 10).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::SHUTDOWN, "{err}");
    // The caller learns why: the save's own error is in the message.
    assert!(
        err.message()
            .contains(ErrorCode::STATE_VERSION_CONFLICT.name()),
        "{err}"
    );
    let ExitReason::Stopped(StopReason::Other(why)) = second.wait().await else {
        panic!("the conflicting instance stops");
    };
    assert!(why.contains("`shared`"), "{why}");
    assert!(
        why.contains(ErrorCode::STATE_VERSION_CONFLICT.name()),
        "{why}"
    );
    assert!(!second.wait().await.is_normal(), "a supervisor restarts it");
    second.shutdown(StopReason::Normal).await;

    assert_eq!(
        stored(&store.agent_state(), "shared").await,
        Some((1, json!({"total": 1, "notes": []}))),
        "the winner's state is stored"
    );
    // The first instance is unaffected; a restarted second one sees the stored state.
    assert_eq!(add(&first, 1).await.unwrap(), 2);
    first.shutdown(StopReason::Normal).await;
    let second = start(&store, "shared").await.unwrap();
    assert_eq!(add(&second, 10).await.unwrap(), 12);
    second.shutdown(StopReason::Normal).await;
    store.close().await;
}

async fn a_store_failure_is_not_acknowledged(t: &Target) {
    let store = t.options().open().await.unwrap();
    let agent = start(&store, "c").await.unwrap();
    add(&agent, 7).await.unwrap();
    store.close().await;

    let err = add(&agent, 1).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::SHUTDOWN, "{err}");
    assert!(err.message().contains("could not be saved"), "{err}");
    let ExitReason::Stopped(StopReason::Other(why)) = agent.wait().await else {
        panic!("the agent stops when it cannot save");
    };
    assert!(why.contains(ErrorCode::STORE_UNAVAILABLE.name()), "{why}");
    let err = add(&agent, 1).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::SHUTDOWN);
    drop(agent);

    let store = t.options().open().await.unwrap();
    let agent = start(&store, "c").await.unwrap();
    assert_eq!(
        agent.call(Msg::Get, WAIT).await.unwrap(),
        7,
        "the refused change is gone"
    );
    agent.shutdown(StopReason::Normal).await;
    store.close().await;
}

async fn an_oversize_state_is_not_acknowledged(t: &Target) {
    let store = t.options().max_payload_bytes(200).open().await.unwrap();
    let agent = start(&store, "c").await.unwrap();
    agent
        .call(|r| Msg::Note("small".into(), r), WAIT)
        .await
        .unwrap();
    let err = agent
        .call(|r| Msg::Note("x".repeat(300), r), WAIT)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::SHUTDOWN);
    let ExitReason::Stopped(StopReason::Other(why)) = agent.wait().await else {
        panic!("the agent stops when its state is too large");
    };
    assert!(
        why.contains(ErrorCode::STORE_PAYLOAD_TOO_LARGE.name()),
        "{why}"
    );
    assert_eq!(
        stored(&store.agent_state(), "c").await,
        Some((1, json!({"total": 0, "notes": ["small"]}))),
        "neither the oversize state nor a stop-time save was written"
    );
    store.close().await;
}

/// Counts its starts in `on_start` and its stops in `on_stop`.
struct Lifecycle;

impl PersistentAgent for Lifecycle {
    type Msg = Reply<(u64, u64)>;
    type State = (u64, u64);

    fn key(&self) -> &str {
        "lifecycle"
    }

    async fn handle(
        &mut self,
        state: &mut (u64, u64),
        reply: Reply<(u64, u64)>,
        ctx: &mut Context<Persistent<Self>>,
    ) {
        ctx.reply(reply, *state);
    }

    async fn on_start(
        &mut self,
        state: &mut (u64, u64),
        _ctx: &mut Context<Persistent<Self>>,
    ) -> Result<(), Error> {
        state.0 += 1;
        Ok(())
    }

    async fn on_stop(
        &mut self,
        state: &mut (u64, u64),
        _reason: &StopReason,
        _ctx: &mut Context<Persistent<Self>>,
    ) {
        state.1 += 1;
    }
}

async fn start_and_stop_hooks_changes_are_saved(t: &Target) {
    let store = t.options().open().await.unwrap();
    let states = store.agent_state();
    let agent = spawn(
        Persistent::new(Lifecycle, states.clone()),
        AgentConfig::named("lifecycle"),
    )
    .await
    .unwrap();
    assert_eq!(stored(&states, "lifecycle").await, Some((1, json!([1, 0]))));
    assert_eq!(agent.call(|r| r, WAIT).await.unwrap(), (1, 0));
    agent.shutdown(StopReason::Normal).await;
    assert_eq!(stored(&states, "lifecycle").await, Some((2, json!([1, 1]))));

    let agent = spawn(
        Persistent::new(Lifecycle, states.clone()),
        AgentConfig::named("lifecycle"),
    )
    .await
    .unwrap();
    assert_eq!(agent.call(|r| r, WAIT).await.unwrap(), (2, 1));
    agent.shutdown(StopReason::Normal).await;
    store.close().await;
}

async fn a_stored_state_of_the_wrong_shape_fails_the_start(t: &Target) {
    let store = t.options().open().await.unwrap();
    let states = store.agent_state();
    states
        .save("c", None, &json!({"total": "many"}))
        .await
        .unwrap();

    let err = start(&store, "c").await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::AGENT_START_FAILED);
    let cause = std::error::Error::source(&err)
        .and_then(|s| s.downcast_ref::<Error>())
        .expect("the load error is the source");
    assert_eq!(cause.code(), ErrorCode::STORE_CORRUPT);
    assert_eq!(cause.context_value("key"), Some("c"));
    assert!(err.to_string().contains("`c`"), "{err}");
    assert_eq!(
        stored(&states, "c").await,
        Some((1, json!({"total": "many"}))),
        "the stored state is left as it was"
    );
    store.close().await;
}

async fn a_bad_key_fails_the_start(t: &Target) {
    let store = t.options().open().await.unwrap();
    for key in [String::new(), "k".repeat(256)] {
        let err = start(&store, &key).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::AGENT_START_FAILED);
        let cause = std::error::Error::source(&err)
            .and_then(|s| s.downcast_ref::<Error>())
            .expect("the key error is the source");
        assert_eq!(cause.code(), ErrorCode::INVALID_INPUT);
        assert_eq!(cause.context_value("field"), Some("key"));
    }
    store.close().await;
}

async fn a_supervisor_restarts_a_conflicting_agent_which_reloads(t: &Target) {
    let store = t.options().open().await.unwrap();
    let states = store.agent_state();
    let factory_states = states.clone();
    let spec = SupervisorSpec::new("app").child(ChildSpec::agent(
        "counter",
        move || {
            Persistent::new(
                Counter {
                    key: "c".to_owned(),
                },
                factory_states.clone(),
            )
        },
        AgentConfig::named("counter"),
    ));
    let bus = TelemetryBus::new();
    let mut restarts = bus.subscribe_prefix("foundation.supervisor.child_restarted", 16);
    let sup = supervisor::start_on(spec, bus).await.unwrap();
    let counter = sup.child::<Persistent<Counter>>("counter").unwrap();
    assert_eq!(counter.call(|r| Msg::Add(1, r), WAIT).await.unwrap(), 1);

    // Another writer moves the state on behind the agent's back.
    states
        .save("c", Some(1), &json!({"total": 100, "notes": ["elsewhere"]}))
        .await
        .unwrap();
    let err = counter.call(|r| Msg::Add(1, r), WAIT).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::SHUTDOWN);
    restarts.recv().await.unwrap();

    // The restarted instance loaded the other writer's state and carries on from it.
    let counter = sup.child::<Persistent<Counter>>("counter").unwrap();
    assert_eq!(counter.call(|r| Msg::Add(1, r), WAIT).await.unwrap(), 101);
    sup.shutdown().await;
    assert_eq!(
        stored(&states, "c").await,
        Some((3, json!({"total": 101, "notes": ["elsewhere"]})))
    );
    store.close().await;
}
