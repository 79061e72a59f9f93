//! Concurrent appenders on a multi-threaded runtime: global positions stay gapless and in
//! commit order, stream versions stay gapless, expected-version checks stay exact, and a
//! subscription running alongside sees every event once, in order.

use std::time::Duration;

use foundation_core::error::ErrorCode;
use foundation_store::testing::Target;
use foundation_store::{ExpectedVersion, NewEvent};
use serde_json::json;

const WRITERS: usize = 8;
const APPENDS_PER_WRITER: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_concurrent_appends_are_gapless() {
    let target = Target::sqlite();
    concurrent_appends_are_gapless(&target).await;
    target.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_appends_are_gapless() {
    let Some(target) = Target::postgres() else {
        return;
    };
    concurrent_appends_are_gapless(&target).await;
    target.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_racing_exact_appends_let_exactly_one_win() {
    let target = Target::sqlite();
    racing_exact_appends_let_exactly_one_win(&target).await;
    target.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_racing_exact_appends_let_exactly_one_win() {
    let Some(target) = Target::postgres() else {
        return;
    };
    racing_exact_appends_let_exactly_one_win(&target).await;
    target.cleanup().await;
}

async fn concurrent_appends_are_gapless(t: &Target) {
    let store = t
        .options()
        .max_connections(WRITERS as u32 + 2)
        .busy_timeout(Duration::from_secs(30))
        .open()
        .await
        .unwrap();
    let events = store.events();

    // A subscriber reads from the start while the writers run.
    let reader = events.clone();
    let total_expected = (WRITERS * APPENDS_PER_WRITER * 3) as u64;
    let subscriber = tokio::spawn(async move {
        let mut sub = reader.subscribe(0).page_size(7).unwrap();
        let mut seen = Vec::new();
        while seen.len() < total_expected as usize {
            seen.push(sub.next().await.unwrap().position);
        }
        seen
    });

    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let events = events.clone();
        writers.push(tokio::spawn(async move {
            let own = format!("own-{w}");
            for i in 0..APPENDS_PER_WRITER {
                // Two events to a stream every writer shares, one to the writer's own stream
                // with an exact expected version.
                let shared = format!("shared-{}", i % 3);
                events
                    .append(
                        &shared,
                        ExpectedVersion::Any,
                        vec![
                            NewEvent::new("T", json!({"w": w, "i": i})),
                            NewEvent::new("T", json!({"w": w, "i": i})),
                        ],
                    )
                    .await
                    .unwrap();
                let expected = if i == 0 {
                    ExpectedVersion::NoStream
                } else {
                    ExpectedVersion::Exact(i as u64 - 1)
                };
                events
                    .append(&own, expected, vec![NewEvent::new("T", json!({"i": i}))])
                    .await
                    .unwrap();
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }

    assert_eq!(events.head_position().await.unwrap(), total_expected);
    let max_min_count = t
        .raw(
            "SELECT CAST(MAX(position) AS TEXT) || ' ' || CAST(MIN(position) AS TEXT) || ' ' \
             || CAST(COUNT(*) AS TEXT) FROM foundation_events",
        )
        .await;
    assert_eq!(
        max_min_count,
        Some(format!("{total_expected} 1 {total_expected}")),
        "as stored: positions 1..=total without a hole"
    );
    let all = events.read_all(0, 10_000).await.unwrap();
    let positions: Vec<u64> = all.iter().map(|e| e.position).collect();
    assert_eq!(positions, (1..=total_expected).collect::<Vec<_>>());
    // Every stream's versions are 0..n in position order, and batches stay contiguous.
    let mut streams = std::collections::BTreeMap::<&str, Vec<u64>>::new();
    for e in &all {
        streams
            .entry(e.stream.as_str())
            .or_default()
            .push(e.version);
    }
    assert_eq!(streams.len(), 3 + WRITERS);
    for (stream, versions) in &streams {
        assert_eq!(
            versions,
            &(0..versions.len() as u64).collect::<Vec<_>>(),
            "stream {stream}"
        );
    }
    // The two events of one batch sit at consecutive positions: batches never interleave.
    for pair in all.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a.stream.starts_with("shared") && a.version % 2 == 0 {
            assert_eq!(
                (b.stream.as_str(), b.version),
                (a.stream.as_str(), a.version + 1)
            );
        }
    }

    let seen = tokio::time::timeout(Duration::from_secs(30), subscriber)
        .await
        .expect("subscriber caught up")
        .unwrap();
    assert_eq!(seen, (1..=total_expected).collect::<Vec<_>>());
    store.close().await;
}

async fn racing_exact_appends_let_exactly_one_win(t: &Target) {
    let store = t
        .options()
        .max_connections(WRITERS as u32)
        .busy_timeout(Duration::from_secs(30))
        .open()
        .await
        .unwrap();
    let events = store.events();
    events
        .append(
            "race",
            ExpectedVersion::NoStream,
            vec![NewEvent::new("T", json!({}))],
        )
        .await
        .unwrap();
    let mut racers = Vec::new();
    for w in 0..WRITERS {
        let events = events.clone();
        racers.push(tokio::spawn(async move {
            events
                .append(
                    "race",
                    ExpectedVersion::Exact(0),
                    vec![NewEvent::new("T", json!({"w": w}))],
                )
                .await
        }));
    }
    let mut wins = 0;
    for racer in racers {
        match racer.await.unwrap() {
            Ok(result) => {
                wins += 1;
                assert_eq!(result.stream_version, 1);
            }
            Err(err) => {
                assert_eq!(err.code(), ErrorCode::EVENT_WRONG_EXPECTED_VERSION);
                assert_eq!(err.context_value("actual"), Some("1"));
            }
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(events.stream_version("race").await.unwrap(), Some(1));
    assert_eq!(events.head_position().await.unwrap(), 2);
    store.close().await;
}
