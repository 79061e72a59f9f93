//! Config version history, run on SQLite and (when configured) PostgreSQL.

use std::collections::BTreeMap;
use std::time::Duration;

use foundation_core::error::{Error, ErrorCode, Result};
use foundation_store::on_each_backend;
use foundation_store::testing::Target;
use foundation_store::{
    ConfigVersion, ConfigVersions, MAX_AUTHOR_LEN, MAX_NAME_LEN, MAX_REASON_LEN, MAX_VERSIONS_LIST,
    NewConfigVersion,
};
use serde_json::{Value, json};

on_each_backend!(
    versions_round_trip_and_page_newest_first,
    appends_expecting_the_same_latest_let_exactly_one_win,
    names_are_independent,
    bad_input_is_refused_naming_the_field,
    oversize_layers_and_diff_write_nothing,
    corrupt_stored_json_is_reported,
    versions_survive_reopen,
    a_schema_4_database_upgrades_keeping_its_data,
);

/// Appends a version whose layers hold `n`, recorded by `author` for `reason`.
async fn append(
    history: &ConfigVersions,
    name: &str,
    expected: Option<u64>,
    n: u64,
    author: &str,
    reason: &str,
) -> Result<u64> {
    let layers = json!([{"source": "file", "values": {"n": n}}]);
    let diff = json!({"n": [n.checked_sub(1), n]});
    let new = NewConfigVersion {
        author,
        reason,
        layers: &layers,
        diff: &diff,
    };
    history.append(name, expected, new).await
}

fn versions(list: &[ConfigVersion]) -> Vec<u64> {
    list.iter().map(|v| v.version).collect()
}

async fn versions_round_trip_and_page_newest_first(t: &Target) {
    let store = t.options().open().await.unwrap();
    let history = store.config_versions();
    assert_eq!(history.latest("app").await.unwrap(), None);
    assert_eq!(history.get("app", 1).await.unwrap(), None);
    assert!(history.list("app", None, 10).await.unwrap().is_empty());

    let before = store.now_ms();
    let mut latest = None;
    for n in 1..=5 {
        let version = append(&history, "app", latest, n, "ada", &format!("change {n}"))
            .await
            .unwrap();
        assert_eq!(version, n, "versions go 1, 2, 3, … per name");
        latest = Some(version);
    }

    let third = history.get("app", 3).await.unwrap().unwrap();
    assert_eq!(
        third,
        ConfigVersion {
            name: "app".to_owned(),
            version: 3,
            author: "ada".to_owned(),
            reason: "change 3".to_owned(),
            created_at_ms: third.created_at_ms,
            layers: json!([{"source": "file", "values": {"n": 3}}]),
            diff: json!({"n": [2, 3]}),
        }
    );
    assert!(third.created_at_ms >= before && third.created_at_ms <= store.now_ms());
    assert_eq!(history.get("app", 6).await.unwrap(), None);
    assert_eq!(history.latest("app").await.unwrap().unwrap().version, 5);

    // Pages of two, newest first, each strictly below the last version of the one before.
    let page = history.list("app", None, 2).await.unwrap();
    assert_eq!(versions(&page), [5, 4]);
    let page = history.list("app", Some(4), 2).await.unwrap();
    assert_eq!(versions(&page), [3, 2]);
    assert_eq!(page[0], third);
    let page = history.list("app", Some(2), 2).await.unwrap();
    assert_eq!(versions(&page), [1]);
    assert!(history.list("app", Some(1), 2).await.unwrap().is_empty());
    let all = history.list("app", None, MAX_VERSIONS_LIST).await.unwrap();
    assert_eq!(versions(&all), [5, 4, 3, 2, 1]);
    assert_eq!(
        all[4].layers,
        json!([{"source": "file", "values": {"n": 1}}])
    );
    assert_eq!(all[4].diff, json!({"n": [0, 1]}));

    // A rollback is a new version carrying an old version's layers.
    let old = history.get("app", 2).await.unwrap().unwrap();
    let rollback = NewConfigVersion {
        author: "ops",
        reason: "roll back to 2",
        layers: &old.layers,
        diff: &json!({"n": [5, 2]}),
    };
    assert_eq!(history.append("app", Some(5), rollback).await.unwrap(), 6);
    let newest = history.latest("app").await.unwrap().unwrap();
    assert_eq!((newest.version, newest.layers), (6, old.layers));
    store.close().await;
}

async fn appends_expecting_the_same_latest_let_exactly_one_win(t: &Target) {
    let store = t.options().open().await.unwrap();
    let history = store.config_versions();

    append(&history, "app", None, 1, "a", "first")
        .await
        .unwrap();
    let err = append(&history, "app", None, 1, "b", "also first")
        .await
        .unwrap_err();
    assert_conflict(&err, "none", "1");
    append(&history, "app", Some(1), 2, "a", "second")
        .await
        .unwrap();
    let err = append(&history, "app", Some(1), 2, "b", "also second")
        .await
        .unwrap_err();
    assert_conflict(&err, "1", "2");
    // Expecting a version that is not the newest (behind or ahead) never leaves a gap.
    let err = append(&history, "app", Some(5), 6, "b", "ahead")
        .await
        .unwrap_err();
    assert_conflict(&err, "5", "2");

    let all = history.list("app", None, 10).await.unwrap();
    assert_eq!(versions(&all), [2, 1], "the losers wrote nothing");
    assert_eq!(
        all.iter().map(|v| v.author.as_str()).collect::<Vec<_>>(),
        ["a", "a"]
    );
    store.close().await;
}

fn assert_conflict(err: &Error, expected: &str, actual: &str) {
    assert_eq!(err.code(), ErrorCode::STORE_CONFLICT, "{err}");
    assert_eq!(err.context_value("name"), Some("app"));
    assert_eq!(err.context_value("expected"), Some(expected));
    assert_eq!(err.context_value("actual"), Some(actual));
}

async fn names_are_independent(t: &Target) {
    let store = t.options().open().await.unwrap();
    let history = store.config_versions();
    assert_eq!(append(&history, "a", None, 1, "x", "").await.unwrap(), 1);
    assert_eq!(append(&history, "b", None, 1, "x", "").await.unwrap(), 1);
    assert_eq!(append(&history, "a", Some(1), 2, "x", "").await.unwrap(), 2);
    assert_eq!(history.latest("b").await.unwrap().unwrap().version, 1);
    assert_eq!(
        versions(&history.list("a", None, 10).await.unwrap()),
        [2, 1]
    );
    assert_eq!(versions(&history.list("b", None, 10).await.unwrap()), [1]);
    assert_eq!(history.get("b", 2).await.unwrap(), None);
    store.close().await;
}

async fn bad_input_is_refused_naming_the_field(t: &Target) {
    let store = t.options().open().await.unwrap();
    let history = store.config_versions();
    let field = |r: Result<u64>| {
        let err = r.unwrap_err();
        assert_eq!(err.code(), ErrorCode::INVALID_INPUT, "{err}");
        err.context_value("field").map(str::to_owned)
    };
    let long_name = "n".repeat(MAX_NAME_LEN + 1);
    let long_author = "a".repeat(MAX_AUTHOR_LEN + 1);
    let long_reason = "r".repeat(MAX_REASON_LEN + 1);

    let cases: [(&str, Option<u64>, &str, &str, &str); 6] = [
        ("", None, "x", "", "name"),
        (&long_name, None, "x", "", "name"),
        ("app", None, &long_author, "", "author"),
        ("app", None, "x", &long_reason, "reason"),
        ("app", Some(0), "x", "", "expected_latest"),
        ("app", Some(u64::MAX), "x", "", "expected_latest"),
    ];
    for (name, expected, author, reason, expected_field) in cases {
        let got = field(append(&history, name, expected, 1, author, reason).await);
        assert_eq!(got.as_deref(), Some(expected_field));
    }
    let too_big = u64::try_from(i64::MAX).unwrap() + 1;
    assert_eq!(
        field(append(&history, "app", Some(too_big), 1, "x", "").await).as_deref(),
        Some("expected_latest")
    );

    // The longest accepted values are stored.
    let name = "n".repeat(MAX_NAME_LEN);
    let author = "a".repeat(MAX_AUTHOR_LEN);
    let reason = "r".repeat(MAX_REASON_LEN);
    append(&history, &name, None, 1, &author, &reason)
        .await
        .unwrap();
    let stored = history.latest(&name).await.unwrap().unwrap();
    assert_eq!((stored.author, stored.reason), (author, reason));

    let read_field = |err: Error| {
        assert_eq!(err.code(), ErrorCode::INVALID_INPUT, "{err}");
        err.context_value("field").map(str::to_owned)
    };
    let err = history.latest("").await.unwrap_err();
    assert_eq!(read_field(err).as_deref(), Some("name"));
    let err = history.get("app", 0).await.unwrap_err();
    assert_eq!(read_field(err).as_deref(), Some("version"));
    let err = history.get("app", too_big).await.unwrap_err();
    assert_eq!(read_field(err).as_deref(), Some("version"));
    for limit in [0, MAX_VERSIONS_LIST + 1] {
        let err = history.list("app", None, limit).await.unwrap_err();
        assert_eq!(read_field(err).as_deref(), Some("limit"));
    }
    let err = history.list("app", Some(too_big), 1).await.unwrap_err();
    assert_eq!(read_field(err).as_deref(), Some("before"));
    let err = history.list(&long_name, None, 1).await.unwrap_err();
    assert_eq!(read_field(err).as_deref(), Some("name"));

    assert_eq!(
        history.latest("app").await.unwrap(),
        None,
        "nothing refused was written"
    );
    store.close().await;
}

async fn oversize_layers_and_diff_write_nothing(t: &Target) {
    let store = t.options().max_payload_bytes(100).open().await.unwrap();
    let history = store.config_versions();
    let big = json!("x".repeat(100));
    let half = json!("x".repeat(60));
    let small = json!({});
    let too_large = |layers: &Value, diff: &Value| {
        let history = history.clone();
        let (layers, diff) = (layers.clone(), diff.clone());
        async move {
            let new = NewConfigVersion {
                author: "x",
                reason: "",
                layers: &layers,
                diff: &diff,
            };
            let err = history.append("app", None, new).await.unwrap_err();
            assert_eq!(err.code(), ErrorCode::STORE_PAYLOAD_TOO_LARGE, "{err}");
            err.context_value("field").map(str::to_owned)
        }
    };
    assert_eq!(too_large(&big, &small).await.as_deref(), Some("layers"));
    assert_eq!(too_large(&small, &big).await.as_deref(), Some("diff"));
    assert_eq!(
        too_large(&half, &half).await.as_deref(),
        Some("layers_and_diff"),
        "each fits alone, not both together"
    );
    assert_eq!(history.latest("app").await.unwrap(), None);

    let new = NewConfigVersion {
        author: "x",
        reason: "",
        layers: &half,
        diff: &small,
    };
    assert_eq!(history.append("app", None, new).await.unwrap(), 1);
    store.close().await;
}

async fn corrupt_stored_json_is_reported(t: &Target) {
    let store = t.options().open().await.unwrap();
    let history = store.config_versions();
    append(&history, "app", None, 1, "x", "").await.unwrap();
    t.raw("UPDATE foundation_config_versions SET diff = '{not json' WHERE name = 'app'")
        .await;
    for err in [
        history.latest("app").await.unwrap_err(),
        history.get("app", 1).await.unwrap_err(),
        history.list("app", None, 5).await.unwrap_err(),
    ] {
        assert_eq!(err.code(), ErrorCode::STORE_CORRUPT, "{err}");
        assert_eq!(err.context_value("field"), Some("diff"));
        assert_eq!(err.context_value("name"), Some("app"));
        assert_eq!(err.context_value("version"), Some("1"));
    }
    store.close().await;
}

async fn versions_survive_reopen(t: &Target) {
    let store = t.options().open().await.unwrap();
    let history = store.config_versions();
    append(&history, "app", None, 1, "x", "one").await.unwrap();
    append(&history, "app", Some(1), 2, "y", "two")
        .await
        .unwrap();
    let before = history.list("app", None, 10).await.unwrap();
    store.close().await;

    let store = t.options().open().await.unwrap();
    let history = store.config_versions();
    assert_eq!(history.list("app", None, 10).await.unwrap(), before);
    assert_eq!(
        append(&history, "app", Some(2), 3, "z", "three")
            .await
            .unwrap(),
        3
    );
    store.close().await;
}

/// A database at schema 4 is one migrated by this build with migration 5 undone: its table
/// dropped and its ledger row removed (migration 5 only adds that table).
async fn a_schema_4_database_upgrades_keeping_its_data(t: &Target) {
    let store = t.options().open().await.unwrap();
    store.put_meta("keep", "me").await.unwrap();
    store
        .agent_state()
        .save("agent", None, &json!({"n": 1}))
        .await
        .unwrap();
    store.close().await;
    t.raw("DROP TABLE foundation_config_versions").await;
    t.raw("DELETE FROM foundation_schema_version WHERE version = 5")
        .await;

    let store = t.options().open().await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), 5);
    assert_eq!(store.meta("keep").await.unwrap(), "me");
    let state = store.agent_state().load("agent").await.unwrap().unwrap();
    assert_eq!(state.state, json!({"n": 1}));
    let history = store.config_versions();
    assert_eq!(append(&history, "app", None, 1, "x", "").await.unwrap(), 1);
    store.close().await;
}

const APPENDERS: u64 = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_concurrent_appenders_get_each_version_once() {
    let target = Target::sqlite();
    concurrent_appenders_get_each_version_once(&target).await;
    target.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_appenders_get_each_version_once() {
    let Some(target) = Target::postgres() else {
        return;
    };
    concurrent_appenders_get_each_version_once(&target).await;
    target.cleanup().await;
}

/// Eight appenders, each with its own store (as on separate nodes), each append one version
/// by reading the latest and retrying on conflict: versions 1 to 8 exist once each.
async fn concurrent_appenders_get_each_version_once(t: &Target) {
    let first = t.options().open().await.unwrap();
    let mut appenders = Vec::new();
    for n in 1..=APPENDERS {
        let store = t
            .options()
            .max_connections(2)
            .busy_timeout(Duration::from_secs(30))
            .open()
            .await
            .unwrap();
        appenders.push(tokio::spawn(async move {
            let history = store.config_versions();
            let author = format!("appender {n}");
            loop {
                let latest = history.latest("app").await.unwrap().map(|v| v.version);
                match append(&history, "app", latest, n, &author, "race").await {
                    Ok(version) => {
                        store.close().await;
                        return (author, version);
                    }
                    Err(err) if err.code() == ErrorCode::STORE_CONFLICT => continue,
                    Err(err) => panic!("{author}: {err}"),
                }
            }
        }));
    }
    let mut won = BTreeMap::new();
    for appender in appenders {
        let (author, version) = appender.await.unwrap();
        assert!(
            won.insert(version, author).is_none(),
            "version {version} granted twice"
        );
    }
    assert_eq!(
        won.keys().copied().collect::<Vec<_>>(),
        (1..=APPENDERS).collect::<Vec<_>>()
    );

    let stored = first
        .config_versions()
        .list("app", None, 100)
        .await
        .unwrap();
    assert_eq!(
        versions(&stored),
        (1..=APPENDERS).rev().collect::<Vec<_>>(),
        "each version stored once, no gaps"
    );
    for v in &stored {
        assert_eq!(won[&v.version], v.author, "the stored row is the winner's");
    }
    first.close().await;
}
