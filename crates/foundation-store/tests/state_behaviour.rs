//! Versioned agent state, run on SQLite and (when configured) PostgreSQL.

use std::sync::Arc;

use foundation_core::error::{ErrorCode, Result};
use foundation_store::on_each_backend;
use foundation_store::testing::Target;
use foundation_store::{MAX_STATE_KEY_LEN, StateStore};
use serde_json::{Value, json};

on_each_backend!(
    state_round_trips_and_versions_increase,
    conflicting_writers_exactly_one_wins,
    bad_input_is_refused_and_nothing_changes,
    state_survives_reopen,
    delete_needs_the_current_version,
    keys_lists_by_prefix,
);

async fn state_round_trips_and_versions_increase(t: &Target) {
    let store = t.options().open().await.unwrap();
    let states = store.agent_state();
    assert_eq!(states.load("agent/a").await.unwrap(), None);

    let v1 = states
        .save("agent/a", None, &json!({"n": 1, "tags": ["x"]}))
        .await
        .unwrap();
    assert_eq!(v1, 1);
    let loaded = states.load("agent/a").await.unwrap().unwrap();
    assert_eq!(loaded.version, 1);
    assert_eq!(loaded.state, json!({"n": 1, "tags": ["x"]}));
    assert!(loaded.updated_at_ms > 0);

    let mut version = v1;
    for n in 2..=5 {
        let next = states
            .save("agent/a", Some(version), &json!({"n": n}))
            .await
            .unwrap();
        assert_eq!(next, version + 1, "each save moves the version up by one");
        version = next;
    }
    let loaded = states.load("agent/a").await.unwrap().unwrap();
    assert_eq!((loaded.version, loaded.state), (5, json!({"n": 5})));

    // Any JSON value is a state, not only objects.
    states.save("agent/n", None, &json!(42)).await.unwrap();
    states.save("agent/null", None, &Value::Null).await.unwrap();
    assert_eq!(
        states.load("agent/n").await.unwrap().unwrap().state,
        json!(42)
    );
    assert_eq!(
        states.load("agent/null").await.unwrap().unwrap().state,
        Value::Null
    );
    assert_eq!(
        states.load("agent/b").await.unwrap(),
        None,
        "other keys are untouched"
    );
    store.close().await;
}

async fn conflicting_writers_exactly_one_wins(t: &Target) {
    let store = t.options().open().await.unwrap();
    let states = store.agent_state();

    // Two writers both think the key is new.
    states.save("k", None, &json!("first")).await.unwrap();
    let err = states.save("k", None, &json!("second")).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::STATE_VERSION_CONFLICT);
    assert_eq!(err.context_value("key"), Some("k"));
    assert_eq!(err.context_value("expected"), Some("none"));
    assert_eq!(err.context_value("actual"), Some("1"));
    assert!(
        !err.is_retryable(),
        "retrying the same write cannot succeed"
    );

    // Two writers loaded version 1; the first save wins, the second conflicts.
    let seen = states.load("k").await.unwrap().unwrap().version;
    assert_eq!(states.save("k", Some(seen), &json!("a")).await.unwrap(), 2);
    let err = states.save("k", Some(seen), &json!("b")).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::STATE_VERSION_CONFLICT);
    assert_eq!(err.context_value("expected"), Some("1"));
    assert_eq!(err.context_value("actual"), Some("2"));
    let stored = states.load("k").await.unwrap().unwrap();
    assert_eq!((stored.version, stored.state), (2, json!("a")));

    // Expecting a version of a key that does not exist is a conflict too.
    let err = states.save("absent", Some(3), &json!(1)).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::STATE_VERSION_CONFLICT);
    assert_eq!(err.context_value("actual"), Some("none"));
    assert_eq!(states.load("absent").await.unwrap(), None);
    store.close().await;
}

async fn bad_input_is_refused_and_nothing_changes(t: &Target) {
    let store = t.options().max_payload_bytes(64).open().await.unwrap();
    let states = store.agent_state();
    states.save("k", None, &json!({"n": 1})).await.unwrap();

    let err = states.save("", None, &json!(1)).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::INVALID_INPUT);
    assert_eq!(err.context_value("field"), Some("key"));
    let long = "x".repeat(MAX_STATE_KEY_LEN + 1);
    let err = states.save(&long, None, &json!(1)).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::INVALID_INPUT);
    assert_eq!(err.context_value("field"), Some("key"));
    assert_eq!(
        states.load(&long).await.unwrap_err().code(),
        ErrorCode::INVALID_INPUT
    );
    assert_eq!(
        states.load("").await.unwrap_err().code(),
        ErrorCode::INVALID_INPUT
    );
    // The longest key is fine.
    let longest = "y".repeat(MAX_STATE_KEY_LEN);
    states.save(&longest, None, &json!(1)).await.unwrap();

    let err = states
        .save("k", Some(1), &json!({"n": "z".repeat(100)}))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::STORE_PAYLOAD_TOO_LARGE);
    assert_eq!(err.context_value("field"), Some("state"));
    assert_eq!(err.context_value("key"), Some("k"));

    let err = states
        .save("k", Some(u64::MAX), &json!(1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::INVALID_INPUT);
    assert_eq!(err.context_value("field"), Some("expected_version"));

    let stored = states.load("k").await.unwrap().unwrap();
    assert_eq!(
        (stored.version, stored.state),
        (1, json!({"n": 1})),
        "refused saves change nothing"
    );
    assert_eq!(
        t.raw("SELECT CAST(COUNT(*) AS TEXT) FROM foundation_agent_state")
            .await
            .as_deref(),
        Some("2")
    );
    store.close().await;
}

async fn state_survives_reopen(t: &Target) {
    let store = t.options().open().await.unwrap();
    let states = store.agent_state();
    let v1 = states.save("k", None, &json!({"n": 1})).await.unwrap();
    states.save("k", Some(v1), &json!({"n": 2})).await.unwrap();
    store.close().await;

    let store = t.options().open().await.unwrap();
    let stored = store.agent_state().load("k").await.unwrap().unwrap();
    assert_eq!((stored.version, stored.state), (2, json!({"n": 2})));
    store.close().await;
}

async fn delete_needs_the_current_version(t: &Target) {
    let store = t.options().open().await.unwrap();
    let states = store.agent_state();
    states.save("k", None, &json!(1)).await.unwrap();
    states.save("k", Some(1), &json!(2)).await.unwrap();

    let err = states.delete("k", 1).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::STATE_VERSION_CONFLICT);
    assert_eq!(err.context_value("actual"), Some("2"));
    assert_eq!(states.load("k").await.unwrap().unwrap().state, json!(2));

    states.delete("k", 2).await.unwrap();
    assert_eq!(states.load("k").await.unwrap(), None);
    let err = states.delete("k", 2).await.unwrap_err();
    assert_eq!(err.context_value("actual"), Some("none"));

    // A deleted key starts over at version 1.
    assert_eq!(states.save("k", None, &json!(3)).await.unwrap(), 1);
    store.close().await;
}

async fn keys_lists_by_prefix(t: &Target) {
    let store = t.options().open().await.unwrap();
    let states = store.agent_state();
    for key in ["orders/2", "orders/1", "users/1", "orders%"] {
        states.save(key, None, &json!({})).await.unwrap();
    }
    assert_eq!(
        states.keys("orders/").await.unwrap(),
        vec!["orders/1".to_owned(), "orders/2".to_owned()]
    );
    assert_eq!(
        states.keys("orders%").await.unwrap(),
        vec!["orders%".to_owned()],
        "no wildcards"
    );
    assert_eq!(states.keys("").await.unwrap().len(), 4);
    assert!(states.keys("none/").await.unwrap().is_empty());
    let err = states.keys(&"p".repeat(256)).await.unwrap_err();
    assert_eq!(err.context_value("field"), Some("prefix"));
    store.close().await;
}

/// Many writers race to bump one counter from the version each loaded, on a multi-thread
/// runtime: every successful save is exactly one step, so the final count equals the number
/// of wins, and no win is lost.
async fn race(states: StateStore, writers: usize, rounds: usize) -> (u64, Value, usize) {
    states.save("race", None, &json!(0)).await.unwrap();
    let wins = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let states = states.clone();
        let wins = wins.clone();
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0;
            for _ in 0..rounds {
                let seen = states.load("race").await?.expect("seeded");
                let n = seen.state.as_u64().expect("a number");
                match states.save("race", Some(seen.version), &json!(n + 1)).await {
                    Ok(_) => {
                        wins.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    Err(e) if e.code() == ErrorCode::STATE_VERSION_CONFLICT => conflicts += 1,
                    Err(e) => return Err(e),
                }
            }
            Result::Ok(conflicts)
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let stored = states.load("race").await.unwrap().unwrap();
    (
        stored.version,
        stored.state,
        wins.load(std::sync::atomic::Ordering::Relaxed),
    )
}

async fn concurrent_compare_and_set(t: Target) {
    let store = t.options().open().await.unwrap();
    let (version, state, wins) = race(store.agent_state(), 4, 25).await;
    assert!(wins >= 25, "at least one writer wins each round: {wins}");
    assert_eq!(state, json!(wins), "every win is one increment, none lost");
    assert_eq!(
        version,
        wins as u64 + 1,
        "the seed plus one version per win"
    );
    store.close().await;
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_compare_and_set_sqlite() {
    concurrent_compare_and_set(Target::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_compare_and_set_postgres() {
    if let Some(t) = Target::postgres() {
        concurrent_compare_and_set(t).await;
    }
}
