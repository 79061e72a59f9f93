//! Crash test with real processes: a child appends events (single and batched) while this test
//! `kill -9`s it at random points, several times, on SQLite and on PostgreSQL. Afterwards every
//! append the child was told succeeded is there once, whole, with gapless global positions and
//! gapless stream versions.

mod store_support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use foundation_core::error::ErrorCode;
use foundation_store::{ExpectedVersion, NewEvent, StoreOptions, StoreUrl};
use serde_json::json;
use store_support::Target;

const URL_ENV: &str = "FOUNDATION_EVENTS_CRASH_URL";
const SCHEMA_ENV: &str = "FOUNDATION_EVENTS_CRASH_SCHEMA";
const START_ENV: &str = "FOUNDATION_EVENTS_CRASH_START";
const ROUNDS: usize = 4;
const STREAMS: u64 = 4;

/// Append `n` holds 1 to 3 events, ids `e{n}-{i}`, on stream `s{n % STREAMS}`.
fn append_size(n: u64) -> u64 {
    1 + n % 3
}

fn options(url: &str, schema: Option<&str>) -> StoreOptions {
    let options = StoreOptions::new(StoreUrl::parse(url).unwrap());
    match schema {
        Some(schema) => options.postgres_schema(schema),
        None => options,
    }
}

/// The child: appends from START upwards, printing `ACK n` once append `n` is acknowledged,
/// until it is killed.
#[test]
#[ignore = "run as a child process by the crash tests"]
fn events_crash_child() {
    let Ok(url) = std::env::var(URL_ENV) else {
        return;
    };
    let schema = std::env::var(SCHEMA_ENV).ok();
    let start: u64 = std::env::var(START_ENV).unwrap().parse().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let store = options(&url, schema.as_deref()).open().await.unwrap();
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

/// Runs and kills the child `ROUNDS` times; returns one past the highest acknowledged append.
fn run_and_kill(url: &str, schema: Option<&str>) -> u64 {
    let mut next = 0u64;
    for _ in 0..ROUNDS {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args(["--exact", "events_crash_child", "--ignored", "--nocapture"])
            .env(URL_ENV, url)
            .env(START_ENV, next.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(schema) = schema {
            command.env(SCHEMA_ENV, schema);
        }
        let mut child = command.spawn().unwrap();
        let kill_after = 10 + rand::random_range(0..90);
        let mut acked = 0;
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            if let Some(n) = line.unwrap().strip_prefix("ACK ") {
                next = n.parse::<u64>().unwrap() + 1;
                acked += 1;
                if acked == kill_after {
                    break;
                }
            }
        }
        assert_eq!(acked, kill_after, "the child stopped acknowledging early");
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    next
}

async fn kill_and_check(t: &Target) {
    let (url, schema) = match t {
        Target::Sqlite { path, .. } => (format!("sqlite://{}", path.display()), None),
        Target::Postgres { url, schema } => (url.clone(), Some(schema.clone())),
    };
    let acked = tokio::task::spawn_blocking({
        let (url, schema) = (url.clone(), schema.clone());
        move || run_and_kill(&url, schema.as_deref())
    })
    .await
    .unwrap();

    let store = options(&url, schema.as_deref()).open().await.unwrap();
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
