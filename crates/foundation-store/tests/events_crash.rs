//! Crash test with real processes: a child appends events (single and batched) while this test
//! `kill -9`s it at random points, several times, on SQLite and on PostgreSQL. Afterwards every
//! append the child was told succeeded is there once, whole, with gapless global positions and
//! gapless stream versions.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use foundation_core::error::ErrorCode;
use foundation_store::on_each_backend;
use foundation_store::testing::{self, Target};
use foundation_store::{ExpectedVersion, NewEvent};
use serde_json::json;

const ROUNDS: usize = 4;
const STREAMS: u64 = 4;

/// Append `n` holds 1 to 3 events, ids `e{n}-{i}`, on stream `s{n % STREAMS}`.
fn append_size(n: u64) -> u64 {
    1 + n % 3
}

/// The child: appends from START upwards, printing `ACK n` once append `n` is acknowledged,
/// until it is killed.
#[test]
#[ignore = "run as a child process by the crash tests"]
fn events_crash_child() {
    testing::run_child(|options, start| async move {
        let store = options.open().await.unwrap();
        let events = store.events();
        for n in start.. {
            let batch = (0..append_size(n))
                .map(|i| NewEvent::new("Appended", json!({"n": n, "i": i})).id(format!("e{n}-{i}")))
                .collect();
            match events
                .append(&format!("s{}", n % STREAMS), ExpectedVersion::Any, batch)
                .await
            {
                Ok(_) => {}
                // Committed just before the previous child was killed: acknowledged now.
                Err(e) if e.code() == ErrorCode::STORE_CONFLICT => {}
                Err(e) => panic!("append {n}: {e}"),
            }
            let mut out = std::io::stdout().lock();
            writeln!(out, "ACK {n}").unwrap();
            out.flush().unwrap();
        }
    });
}

async fn kill_and_check(t: &Target) {
    // Blocking is fine here: nothing else runs on this test's runtime meanwhile.
    let acked = testing::kill_child_repeatedly("events_crash_child", t, ROUNDS);
    let store = t.options().open().await.unwrap();
    let events = store.events();
    let mut all = Vec::new();
    loop {
        let after = all
            .last()
            .map_or(0, |e: &foundation_store::RecordedEvent| e.position);
        let page = events.read_all(after, 1_000).await.unwrap();
        if page.is_empty() {
            break;
        }
        all.extend(page);
    }
    // Gapless global positions, no event twice.
    for (i, event) in all.iter().enumerate() {
        assert_eq!(
            event.position,
            i as u64 + 1,
            "a gap in the global positions"
        );
    }
    let ids: BTreeSet<&str> = all.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), all.len(), "an event was stored twice");
    // Gapless versions per stream.
    let mut versions: BTreeMap<&str, u64> = BTreeMap::new();
    for event in &all {
        let next = versions.entry(event.stream.as_str()).or_insert(0);
        assert_eq!(event.version, *next, "a gap in stream {}", event.stream);
        *next += 1;
    }
    // Every acknowledged append is there, whole and contiguous.
    let position: BTreeMap<&str, u64> = all.iter().map(|e| (e.id.as_str(), e.position)).collect();
    for n in 0..acked {
        let first = position
            .get(format!("e{n}-0").as_str())
            .unwrap_or_else(|| panic!("acknowledged append {n} lost"));
        for i in 1..append_size(n) {
            assert_eq!(
                position.get(format!("e{n}-{i}").as_str()),
                Some(&(first + i)),
                "append {n} is not whole and contiguous"
            );
        }
    }
    store.close().await;
}

on_each_backend!(kill_and_check);
