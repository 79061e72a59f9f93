//! Event store behaviour on every backend: appends and expected versions, reads, queries,
//! upcasters, retention, durability.

use std::time::Duration;

use foundation_core::ManualClock;
use foundation_core::error::{Error, ErrorCode};
use foundation_store::on_each_backend;
use foundation_store::testing::Target;
use foundation_store::{
    Direction, EventQuery, EventStore, ExpectedVersion, NewEvent, RecordedEvent,
};
use serde_json::{Value, json};

on_each_backend!(
    first_append_gets_version_zero_and_position_one,
    every_expected_version_case,
    conflicts_write_nothing,
    multi_event_append_is_all_or_nothing,
    duplicate_event_id_is_a_conflict,
    read_stream_forward_and_backward_with_limits,
    read_unknown_stream_is_not_found,
    read_all_replays_from_a_position,
    query_filters_by_type_time_correlation_and_agent,
    upcasters_chain_on_every_read_path,
    failing_upcaster_is_a_clear_error,
    truncate_removes_old_events_and_keeps_the_version,
    delete_leaves_a_tombstone,
    bad_input_is_refused_naming_the_field,
    events_survive_reopen,
);

fn ev(event_type: &str, n: i64) -> NewEvent {
    NewEvent::new(event_type, json!({ "n": n }))
}

fn positions(events: &[RecordedEvent]) -> Vec<u64> {
    events.iter().map(|e| e.position).collect()
}

fn versions(events: &[RecordedEvent]) -> Vec<u64> {
    events.iter().map(|e| e.version).collect()
}

async fn count_rows(t: &Target) -> String {
    t.raw("SELECT CAST(COUNT(*) AS TEXT) FROM foundation_events")
        .await
        .unwrap_or_default()
}

async fn first_append_gets_version_zero_and_position_one(t: &Target) {
    let manual = ManualClock::new();
    let store = t.options().clock(manual.clock()).open().await.unwrap();
    let events = store.events();
    assert_eq!(events.head_position().await.unwrap(), 0);
    assert_eq!(events.stream_version("a").await.unwrap(), None);

    let before = store.now_ms();
    let written = events
        .append(
            "a",
            ExpectedVersion::NoStream,
            vec![
                NewEvent::new("Opened", json!({"by": "ann"}))
                    .id("evt-1")
                    .correlation_id("corr")
                    .causation_id("cmd-1")
                    .agent_id("agent-7")
                    .metadata(json!({"source": "test"})),
            ],
        )
        .await
        .unwrap();
    assert_eq!(written.first_position, 1);
    assert_eq!(written.last_position, 1);
    assert_eq!(written.stream_version, 0);
    assert_eq!(events.stream_version("a").await.unwrap(), Some(0));
    assert_eq!(events.head_position().await.unwrap(), 1);

    let read = events
        .read_stream("a", Direction::Forward, 0, 10)
        .await
        .unwrap();
    assert_eq!(read.len(), 1);
    let e = &read[0];
    assert_eq!(e.id, "evt-1");
    assert_eq!(e.stream, "a");
    assert_eq!((e.position, e.version, e.schema_version), (1, 0, 1));
    assert_eq!(e.event_type, "Opened");
    assert_eq!(e.data, json!({"by": "ann"}));
    assert_eq!(e.metadata, json!({"source": "test"}));
    assert_eq!(e.correlation_id.as_deref(), Some("corr"));
    assert_eq!(e.causation_id.as_deref(), Some("cmd-1"));
    assert_eq!(e.agent_id.as_deref(), Some("agent-7"));
    assert_eq!(e.recorded_at_ms, before, "timestamp from the store's clock");

    // Generated ids are 128-bit hex and distinct.
    events
        .append("b", ExpectedVersion::Any, vec![ev("T", 1), ev("T", 2)])
        .await
        .unwrap();
    let b = events
        .read_stream("b", Direction::Forward, 0, 10)
        .await
        .unwrap();
    assert_eq!(b[0].id.len(), 32);
    assert!(b[0].id.chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(b[0].id, b[1].id);
    assert_eq!(positions(&b), [2, 3]);
    assert_eq!(versions(&b), [0, 1]);
    store.close().await;
}

async fn every_expected_version_case(t: &Target) {
    let store = t.options().open().await.unwrap();
    let events = store.events();
    let wrong = |err: &Error, expected: &str, actual: &str| {
        assert_eq!(err.code(), ErrorCode::EVENT_WRONG_EXPECTED_VERSION, "{err}");
        assert_eq!(err.context_value("stream"), Some("s"));
        assert_eq!(err.context_value("expected"), Some(expected));
        assert_eq!(err.context_value("actual"), Some(actual));
    };

    // Missing stream: StreamExists and Exact fail, NoStream and Any succeed.
    let err = events
        .append("s", ExpectedVersion::StreamExists, vec![ev("T", 0)])
        .await
        .unwrap_err();
    wrong(&err, "stream exists", "no stream");
    let err = events
        .append("s", ExpectedVersion::Exact(0), vec![ev("T", 0)])
        .await
        .unwrap_err();
    wrong(&err, "0", "no stream");
    let r = events
        .append("s", ExpectedVersion::NoStream, vec![ev("T", 0)])
        .await
        .unwrap();
    assert_eq!(r.stream_version, 0);

    // Existing stream at version 0.
    let err = events
        .append("s", ExpectedVersion::NoStream, vec![ev("T", 1)])
        .await
        .unwrap_err();
    wrong(&err, "no stream", "0");
    let err = events
        .append("s", ExpectedVersion::Exact(5), vec![ev("T", 1)])
        .await
        .unwrap_err();
    wrong(&err, "5", "0");
    let r = events
        .append("s", ExpectedVersion::Exact(0), vec![ev("T", 1)])
        .await
        .unwrap();
    assert_eq!(r.stream_version, 1);
    let r = events
        .append("s", ExpectedVersion::StreamExists, vec![ev("T", 2)])
        .await
        .unwrap();
    assert_eq!(r.stream_version, 2);
    let r = events
        .append("s", ExpectedVersion::Any, vec![ev("T", 3)])
        .await
        .unwrap();
    assert_eq!(r.stream_version, 3);
    let r = events
        .append(
            "s",
            ExpectedVersion::Exact(r.stream_version),
            vec![ev("T", 4)],
        )
        .await
        .unwrap();
    assert_eq!((r.stream_version, r.last_position), (4, 5));
    // A stale writer (still thinking version 3) is refused.
    let err = events
        .append("s", ExpectedVersion::Exact(3), vec![ev("T", 5)])
        .await
        .unwrap_err();
    wrong(&err, "3", "4");
    assert!(
        !err.is_retryable(),
        "the caller must re-read before retrying"
    );
    store.close().await;
}

async fn conflicts_write_nothing(t: &Target) {
    let store = t.options().open().await.unwrap();
    let events = store.events();
    events
        .append("s", ExpectedVersion::NoStream, vec![ev("T", 0)])
        .await
        .unwrap();
    let err = events
        .append("s", ExpectedVersion::NoStream, vec![ev("T", 1), ev("T", 2)])
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::EVENT_WRONG_EXPECTED_VERSION);
    assert_eq!(events.head_position().await.unwrap(), 1);
    assert_eq!(events.stream_version("s").await.unwrap(), Some(0));
    assert_eq!(count_rows(t).await, "1");
    // The next append gets the next position: the refusal left no hole.
    let r = events
        .append("other", ExpectedVersion::Any, vec![ev("T", 0)])
        .await
        .unwrap();
    assert_eq!(r.first_position, 2);
    store.close().await;
}

async fn multi_event_append_is_all_or_nothing(t: &Target) {
    let store = t.options().open().await.unwrap();
    let events = store.events();
    events
        .append("s", ExpectedVersion::Any, vec![ev("T", 0).id("taken")])
        .await
        .unwrap();
    // The third event's id is already stored: the whole batch fails in the database.
    let err = events
        .append(
            "s",
            ExpectedVersion::Exact(0),
            vec![ev("T", 1), ev("T", 2), ev("T", 3).id("taken")],
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::STORE_CONFLICT, "{err}");
    assert_eq!(count_rows(t).await, "1");
    assert_eq!(events.stream_version("s").await.unwrap(), Some(0));
    assert_eq!(events.head_position().await.unwrap(), 1);

    // A batch with a bad event (not an object) is refused before touching the database.
    let err = events
        .append(
            "s",
            ExpectedVersion::Any,
            vec![ev("T", 1), NewEvent::new("T", json!(3))],
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::INVALID_INPUT);
    assert_eq!(err.context_value("field"), Some("data"));
    assert_eq!(count_rows(t).await, "1");

    // A good batch lands as consecutive versions and positions.
    let r = events
        .append(
            "s",
            ExpectedVersion::Exact(0),
            (1..=250).map(|n| ev("T", n)).collect(),
        )
        .await
        .unwrap();
    assert_eq!((r.first_position, r.last_position), (2, 251));
    assert_eq!(r.stream_version, 250);
    let read = events
        .read_stream("s", Direction::Forward, 0, 1000)
        .await
        .unwrap();
    assert_eq!(versions(&read), (0..=250).collect::<Vec<_>>());
    assert_eq!(positions(&read), (1..=251).collect::<Vec<_>>());
    store.close().await;
}

async fn duplicate_event_id_is_a_conflict(t: &Target) {
    let store = t.options().open().await.unwrap();
    let events = store.events();
    events
        .append("a", ExpectedVersion::Any, vec![ev("T", 0).id("once")])
        .await
        .unwrap();
    // Retrying the same append (same id) is refused, in any stream.
    let err = events
        .append("b", ExpectedVersion::Any, vec![ev("T", 0).id("once")])
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::STORE_CONFLICT);
    assert_eq!(err.context_value("stream"), Some("b"));
    // Twice in one batch: refused up front, naming the id.
    let err = events
        .append(
            "b",
            ExpectedVersion::Any,
            vec![ev("T", 0).id("x"), ev("T", 1).id("x")],
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::STORE_CONFLICT);
    assert_eq!(err.context_value("event_id"), Some("x"));
    assert_eq!(count_rows(t).await, "1");
    assert_eq!(events.stream_version("b").await.unwrap(), None);
    store.close().await;
}

async fn read_stream_forward_and_backward_with_limits(t: &Target) {
    let store = t.options().open().await.unwrap();
    let events = store.events();
    for n in 0..5 {
        events
            .append("s", ExpectedVersion::Any, vec![ev("T", n)])
            .await
            .unwrap();
        events
            .append("noise", ExpectedVersion::Any, vec![ev("N", n)])
            .await
            .unwrap();
    }
    let read = |dir, from, limit| events.read_stream("s", dir, from, limit);
    assert_eq!(
        versions(&read(Direction::Forward, 0, 100).await.unwrap()),
        [0, 1, 2, 3, 4]
    );
    assert_eq!(
        versions(&read(Direction::Forward, 1, 2).await.unwrap()),
        [1, 2]
    );
    assert_eq!(
        versions(&read(Direction::Forward, 4, 10).await.unwrap()),
        [4]
    );
    assert!(read(Direction::Forward, 5, 10).await.unwrap().is_empty());
    assert_eq!(
        versions(&read(Direction::Backward, u64::MAX, 100).await.unwrap()),
        [4, 3, 2, 1, 0]
    );
    assert_eq!(
        versions(&read(Direction::Backward, u64::MAX, 1).await.unwrap()),
        [4],
        "the newest event"
    );
    assert_eq!(
        versions(&read(Direction::Backward, 2, 2).await.unwrap()),
        [2, 1]
    );
    let all = read(Direction::Forward, 0, 100).await.unwrap();
    assert!(all.iter().all(|e| e.stream == "s"));
    assert_eq!(all[2].data, json!({"n": 2}));
    assert_eq!(positions(&all), [1, 3, 5, 7, 9]);
    store.close().await;
}

async fn read_unknown_stream_is_not_found(t: &Target) {
    let store = t.options().open().await.unwrap();
    let events = store.events();
    let err = events
        .read_stream("ghost", Direction::Forward, 0, 10)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NOT_FOUND);
    assert_eq!(err.context_value("stream"), Some("ghost"));
    let err = events.truncate_stream("ghost", 0).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::NOT_FOUND);
    let err = events.delete_stream("ghost").await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::NOT_FOUND);
    store.close().await;
}

async fn read_all_replays_from_a_position(t: &Target) {
    let store = t.options().open().await.unwrap();
    let events = store.events();
    assert!(events.read_all(0, 10).await.unwrap().is_empty());
    for n in 0..10 {
        let stream = format!("s{}", n % 3);
        events
            .append(&stream, ExpectedVersion::Any, vec![ev("T", n)])
            .await
            .unwrap();
    }
    assert_eq!(
        positions(&events.read_all(0, 100).await.unwrap()),
        (1..=10).collect::<Vec<_>>()
    );
    assert_eq!(
        positions(&events.read_all(7, 100).await.unwrap()),
        [8, 9, 10]
    );
    assert_eq!(positions(&events.read_all(2, 3).await.unwrap()), [3, 4, 5]);
    assert!(events.read_all(10, 100).await.unwrap().is_empty());
    // Paging through with the last position seen replays everything exactly once.
    let mut after = 0;
    let mut seen = Vec::new();
    loop {
        let page = events.read_all(after, 4).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.position;
        seen.extend(positions(&page));
    }
    assert_eq!(seen, (1..=10).collect::<Vec<_>>());
    store.close().await;
}

async fn query_filters_by_type_time_correlation_and_agent(t: &Target) {
    let manual = ManualClock::new();
    let store = t.options().clock(manual.clock()).open().await.unwrap();
    let events = store.events();
    let t0 = store.now_ms();
    events
        .append(
            "a",
            ExpectedVersion::Any,
            vec![
                ev("Started", 1).correlation_id("c1").agent_id("ag1"),
                ev("Progress", 2).correlation_id("c1").agent_id("ag2"),
            ],
        )
        .await
        .unwrap();
    manual.advance(Duration::from_secs(10));
    let t1 = store.now_ms();
    events
        .append(
            "b",
            ExpectedVersion::Any,
            vec![
                ev("Started", 3).correlation_id("c2").agent_id("ag1"),
                ev("Done", 4),
            ],
        )
        .await
        .unwrap();
    manual.advance(Duration::from_secs(10));
    events
        .append(
            "a",
            ExpectedVersion::Any,
            vec![ev("Done", 5).correlation_id("c1")],
        )
        .await
        .unwrap();
    let q = |query| events.query(query);

    assert_eq!(
        positions(&q(EventQuery::new()).await.unwrap()),
        [1, 2, 3, 4, 5]
    );
    assert_eq!(
        positions(&q(EventQuery::new().types(["Started"])).await.unwrap()),
        [1, 3]
    );
    assert_eq!(
        positions(
            &q(EventQuery::new().types(["Started", "Done"]))
                .await
                .unwrap()
        ),
        [1, 3, 4, 5]
    );
    assert_eq!(
        positions(&q(EventQuery::new().correlation_id("c1")).await.unwrap()),
        [1, 2, 5]
    );
    assert_eq!(
        positions(&q(EventQuery::new().agent_id("ag1")).await.unwrap()),
        [1, 3]
    );
    assert_eq!(
        positions(&q(EventQuery::new().time_range(t1, t1 + 1)).await.unwrap()),
        [3, 4],
        "from inclusive, to exclusive"
    );
    assert_eq!(
        positions(&q(EventQuery::new().time_range(t0, t1)).await.unwrap()),
        [1, 2]
    );
    // Filters combine; paging with after_position and limit.
    assert_eq!(
        positions(
            &q(EventQuery::new()
                .types(["Started"])
                .agent_id("ag1")
                .correlation_id("c2"))
            .await
            .unwrap()
        ),
        [3]
    );
    assert_eq!(
        positions(
            &q(EventQuery::new().after_position(1).limit(2))
                .await
                .unwrap()
        ),
        [2, 3]
    );
    assert!(
        q(EventQuery::new().types(["Unknown"]))
            .await
            .unwrap()
            .is_empty()
    );
    let err = q(EventQuery::new().time_range(t1, t0)).await.unwrap_err();
    assert_eq!(err.context_value("field"), Some("time_range"));
    let err = q(EventQuery::new().limit(0)).await.unwrap_err();
    assert_eq!(err.context_value("field"), Some("limit"));
    let err = q(EventQuery::new().types([""])).await.unwrap_err();
    assert_eq!(err.context_value("field"), Some("types"));
    store.close().await;
}

/// v1 `{name}` → v2 `{first, last}` → v3 adds `{full}`.
fn upcasting(events: EventStore) -> EventStore {
    events
        .upcaster("Named", 1, |data| {
            let name = data["name"].as_str().unwrap_or_default().to_owned();
            let (first, last) = name.split_once(' ').unwrap_or((&name, ""));
            Ok(json!({"first": first, "last": last}))
        })
        .unwrap()
        .upcaster("Named", 2, |mut data| {
            let full = format!(
                "{} {}",
                data["first"].as_str().unwrap_or_default(),
                data["last"].as_str().unwrap_or_default()
            );
            data["full"] = Value::String(full);
            Ok(data)
        })
        .unwrap()
}

async fn upcasters_chain_on_every_read_path(t: &Target) {
    let store = t.options().open().await.unwrap();
    let raw = store.events();
    raw.append(
        "p",
        ExpectedVersion::Any,
        vec![
            NewEvent::new("Named", json!({"name": "Ada Lovelace"})),
            NewEvent::new("Named", json!({"first": "Alan", "last": "Turing"})).schema_version(2),
            NewEvent::new("Named", json!({"first": "G", "last": "H", "full": "G H"}))
                .schema_version(3),
            NewEvent::new("Other", json!({"name": "untouched"})),
        ],
    )
    .await
    .unwrap();
    let events = upcasting(store.events());
    let expect = [
        json!({"first": "Ada", "last": "Lovelace", "full": "Ada Lovelace"}),
        json!({"first": "Alan", "last": "Turing", "full": "Alan Turing"}),
        json!({"first": "G", "last": "H", "full": "G H"}),
    ];
    let check = |read: Vec<RecordedEvent>| {
        let named: Vec<_> = read.iter().filter(|e| e.event_type == "Named").collect();
        assert_eq!(named.len(), 3);
        for (e, want) in named.iter().zip(&expect) {
            assert_eq!(&e.data, want);
            assert_eq!(e.schema_version, 3);
        }
        let other = read.iter().find(|e| e.event_type == "Other").unwrap();
        assert_eq!(other.data, json!({"name": "untouched"}));
        assert_eq!(other.schema_version, 1);
    };
    check(
        events
            .read_stream("p", Direction::Forward, 0, 10)
            .await
            .unwrap(),
    );
    check(events.read_all(0, 10).await.unwrap());
    check(events.query(EventQuery::new()).await.unwrap());
    let mut sub = events.subscribe(0);
    let mut got = Vec::new();
    while let Some(e) = sub.try_next().await.unwrap() {
        got.push(e);
    }
    check(got);
    // Stored data is unchanged; a handle without upcasters reads it as written.
    let plain = raw.read_all(0, 1).await.unwrap();
    assert_eq!(plain[0].data, json!({"name": "Ada Lovelace"}));
    assert_eq!(plain[0].schema_version, 1);
    // Registering the same step twice or version 0 is refused.
    let err = upcasting(store.events())
        .upcaster("Named", 1, Ok)
        .unwrap_err();
    assert_eq!(err.context_value("field"), Some("from_version"));
    let err = store.events().upcaster("Named", 0, Ok).unwrap_err();
    assert_eq!(err.context_value("field"), Some("from_version"));
    store.close().await;
}

async fn failing_upcaster_is_a_clear_error(t: &Target) {
    let store = t.options().open().await.unwrap();
    store
        .events()
        .append(
            "p",
            ExpectedVersion::Any,
            vec![NewEvent::new("Legacy", json!({"x": 1})).schema_version(4)],
        )
        .await
        .unwrap();
    let events = store
        .events()
        .upcaster("Legacy", 4, |_| {
            Err(Error::invalid_input("x", "cannot be converted"))
        })
        .unwrap();
    let err = events.read_all(0, 10).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::INVALID_INPUT);
    assert_eq!(err.context_value("event_type"), Some("Legacy"));
    assert_eq!(err.context_value("schema_version"), Some("4"));
    assert_eq!(err.context_value("position"), Some("1"));
    assert!(err.message().contains("cannot be converted"), "{err}");
    let events = store
        .events()
        .upcaster("Legacy", 4, |_| Ok(json!([1])))
        .unwrap();
    let err = events
        .read_stream("p", Direction::Forward, 0, 1)
        .await
        .unwrap_err();
    assert!(err.message().contains("JSON object"), "{err}");
    store.close().await;
}

async fn truncate_removes_old_events_and_keeps_the_version(t: &Target) {
    let store = t.options().open().await.unwrap();
    let events = store.events();
    events
        .append(
            "s",
            ExpectedVersion::Any,
            (0..5).map(|n| ev("T", n)).collect(),
        )
        .await
        .unwrap();
    events
        .append("other", ExpectedVersion::Any, vec![ev("T", 9)])
        .await
        .unwrap();
    assert_eq!(events.truncate_stream("s", 3).await.unwrap(), 3);
    let read = events
        .read_stream("s", Direction::Forward, 0, 10)
        .await
        .unwrap();
    assert_eq!(versions(&read), [3, 4]);
    assert_eq!(events.stream_version("s").await.unwrap(), Some(4));
    // read_all skips the removed positions; the head is unchanged.
    assert_eq!(positions(&events.read_all(0, 10).await.unwrap()), [4, 5, 6]);
    // Appends continue the version and the global position.
    let r = events
        .append("s", ExpectedVersion::Exact(4), vec![ev("T", 5)])
        .await
        .unwrap();
    assert_eq!((r.stream_version, r.first_position), (5, 7));
    // Truncating lower again removes nothing; past the end is refused.
    assert_eq!(events.truncate_stream("s", 1).await.unwrap(), 0);
    let err = events.truncate_stream("s", 7).await.unwrap_err();
    assert_eq!(err.context_value("field"), Some("before"));
    // Up to version + 1 removes every event but keeps the stream.
    assert_eq!(events.truncate_stream("s", 6).await.unwrap(), 3);
    assert!(
        events
            .read_stream("s", Direction::Forward, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let err = events
        .append("s", ExpectedVersion::NoStream, vec![ev("T", 6)])
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::EVENT_WRONG_EXPECTED_VERSION);
    assert_eq!(err.context_value("actual"), Some("5"));
    store.close().await;
}

async fn delete_leaves_a_tombstone(t: &Target) {
    let store = t.options().open().await.unwrap();
    let events = store.events();
    events
        .append(
            "gone",
            ExpectedVersion::Any,
            (0..3).map(|n| ev("T", n)).collect(),
        )
        .await
        .unwrap();
    events
        .append("kept", ExpectedVersion::Any, vec![ev("T", 9)])
        .await
        .unwrap();
    assert_eq!(events.delete_stream("gone").await.unwrap(), 3);

    let err = events
        .read_stream("gone", Direction::Forward, 0, 10)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NOT_FOUND);
    assert_eq!(err.context_value("deleted"), Some("true"));
    let err = events.stream_version("gone").await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::NOT_FOUND);
    for expected in [ExpectedVersion::Any, ExpectedVersion::NoStream] {
        let err = events
            .append("gone", expected, vec![ev("T", 3)])
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::STORE_CONFLICT);
        assert_eq!(err.context_value("deleted"), Some("true"));
    }
    let err = events.delete_stream("gone").await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::NOT_FOUND);
    let err = events.truncate_stream("gone", 0).await.unwrap_err();
    assert_eq!(err.context_value("deleted"), Some("true"));

    // Other readers: the deleted events are gone, the remaining positions are unchanged.
    let all = events.read_all(0, 10).await.unwrap();
    assert_eq!(positions(&all), [4]);
    assert_eq!(all[0].stream, "kept");
    assert_eq!(count_rows(t).await, "1");
    let r = events
        .append("kept", ExpectedVersion::Exact(0), vec![ev("T", 10)])
        .await
        .unwrap();
    assert_eq!(r.first_position, 5, "positions are never reused");
    store.close().await;
}

async fn bad_input_is_refused_naming_the_field(t: &Target) {
    let store = t.options().max_payload_bytes(100).open().await.unwrap();
    let events = store.events();
    let field = |err: Error| err.context_value("field").map(str::to_owned);
    let append = |stream: &str, batch: Vec<NewEvent>| {
        let events = events.clone();
        let stream = stream.to_owned();
        async move {
            events
                .append(&stream, ExpectedVersion::Any, batch)
                .await
                .unwrap_err()
        }
    };

    assert_eq!(
        field(append("", vec![ev("T", 0)]).await).as_deref(),
        Some("stream")
    );
    assert_eq!(
        field(append(&"s".repeat(256), vec![ev("T", 0)]).await).as_deref(),
        Some("stream")
    );
    assert_eq!(field(append("s", vec![]).await).as_deref(), Some("events"));
    assert_eq!(
        field(append("s", vec![ev("", 0)]).await).as_deref(),
        Some("event_type")
    );
    assert_eq!(
        field(append("s", vec![ev("T", 0).schema_version(0)]).await).as_deref(),
        Some("schema_version")
    );
    assert_eq!(
        field(append("s", vec![ev("T", 0).id("")]).await).as_deref(),
        Some("id")
    );
    assert_eq!(
        field(append("s", vec![ev("T", 0).agent_id("a".repeat(300))]).await).as_deref(),
        Some("agent_id")
    );
    for not_object in [json!(null), json!("text"), json!([1]), json!(7)] {
        let err = append("s", vec![NewEvent::new("T", not_object)]).await;
        assert_eq!(err.code(), ErrorCode::INVALID_INPUT);
        assert_eq!(field(err).as_deref(), Some("data"));
    }
    let err = append("s", vec![ev("T", 0).metadata(json!("m"))]).await;
    assert_eq!(field(err).as_deref(), Some("metadata"));
    let err = append("s", vec![NewEvent::new("T", json!({"k": "x".repeat(200)}))]).await;
    assert_eq!(err.code(), ErrorCode::STORE_PAYLOAD_TOO_LARGE);
    assert_eq!(field(err).as_deref(), Some("data"));
    let err = append(
        "s",
        vec![ev("T", 0).metadata(json!({"k": "x".repeat(200)}))],
    )
    .await;
    assert_eq!(err.code(), ErrorCode::STORE_PAYLOAD_TOO_LARGE);
    assert_eq!(field(err).as_deref(), Some("metadata"));

    // Absurd limits on every read path.
    for limit in [0, 10_001, usize::MAX] {
        let err = events.read_all(0, limit).await.unwrap_err();
        assert_eq!(field(err).as_deref(), Some("limit"));
        let err = events
            .read_stream("s", Direction::Forward, 0, limit)
            .await
            .unwrap_err();
        assert_eq!(field(err).as_deref(), Some("limit"));
    }
    let err = events.read_all(u64::MAX, 10).await.unwrap_err();
    assert_eq!(field(err).as_deref(), Some("after"));
    let err = events.subscribe(0).page_size(0).unwrap_err();
    assert_eq!(field(err).as_deref(), Some("page_size"));
    let err = events.persistent_subscription("").await.unwrap_err();
    assert_eq!(field(err).as_deref(), Some("name"));

    // Nothing was stored by any of it.
    assert_eq!(count_rows(t).await, "0");
    assert_eq!(events.head_position().await.unwrap(), 0);
    assert_eq!(events.stream_version("s").await.unwrap(), None);
    store.close().await;
}

async fn events_survive_reopen(t: &Target) {
    let store = t.options().open().await.unwrap();
    store
        .events()
        .append("s", ExpectedVersion::NoStream, vec![ev("T", 0), ev("T", 1)])
        .await
        .unwrap();
    store.close().await;

    let store = t.options().open().await.unwrap();
    let events = store.events();
    let read = events
        .read_stream("s", Direction::Forward, 0, 10)
        .await
        .unwrap();
    assert_eq!(versions(&read), [0, 1]);
    assert_eq!(read[1].data, json!({"n": 1}));
    let r = events
        .append("s", ExpectedVersion::Exact(1), vec![ev("T", 2)])
        .await
        .unwrap();
    assert_eq!((r.first_position, r.stream_version), (3, 2));
    store.close().await;
}
