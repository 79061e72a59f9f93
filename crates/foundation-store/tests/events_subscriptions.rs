//! Catch-up and persistent subscriptions on every backend.

use std::time::Duration;

use foundation_core::error::ErrorCode;
use foundation_store::on_each_backend;
use foundation_store::testing::Target;
use foundation_store::{EventStore, ExpectedVersion, NewEvent, RecordedEvent};
use serde_json::json;

on_each_backend!(
    catch_up_starts_mid_history_and_goes_live_exactly_once,
    slow_consumer_never_blocks_writers,
    subscription_skips_events_removed_by_retention,
    persistent_subscription_resumes_from_its_checkpoint_after_reopen,
    closed_store_ends_a_waiting_subscription_with_an_error,
);

/// A bound on waits that must finish: a hang fails the test instead of blocking the suite.
const LIMIT: Duration = Duration::from_secs(10);

async fn append_n(events: &EventStore, stream: &str, n: usize) {
    let batch = (0..n)
        .map(|i| NewEvent::new("T", json!({ "i": i })))
        .collect();
    events
        .append(stream, ExpectedVersion::Any, batch)
        .await
        .unwrap();
}

fn positions(events: &[RecordedEvent]) -> Vec<u64> {
    events.iter().map(|e| e.position).collect()
}

async fn catch_up_starts_mid_history_and_goes_live_exactly_once(t: &Target) {
    let store = t.options().open().await.unwrap();
    let events = store.events();
    for _ in 0..10 {
        append_n(&events, "history", 1).await;
    }
    let mut sub = events.subscribe(4).page_size(3).unwrap();
    assert_eq!(sub.position(), 4);
    let mut got = vec![sub.next().await.unwrap(), sub.next().await.unwrap()];
    // Appends land while the subscription is half-way through its history (and through a
    // page it already read).
    append_n(&events, "during", 5).await;
    while let Some(event) = sub.try_next().await.unwrap() {
        got.push(event);
    }
    assert_eq!(positions(&got), (5..=15).collect::<Vec<_>>());
    assert_eq!(sub.position(), 15);

    // Live: the consumer waits for events appended after it caught up.
    let consumer = tokio::spawn(async move {
        let mut live = Vec::new();
        for _ in 0..3 {
            live.push(sub.next().await.unwrap());
        }
        (sub, live)
    });
    append_n(&events, "live", 1).await;
    append_n(&events, "live", 2).await;
    let (mut sub, live) = tokio::time::timeout(LIMIT, consumer)
        .await
        .expect("live events delivered")
        .unwrap();
    assert_eq!(positions(&live), [16, 17, 18]);
    assert_eq!(live[0].stream, "live");
    assert!(sub.try_next().await.unwrap().is_none(), "nothing twice");
    store.close().await;
}

async fn slow_consumer_never_blocks_writers(t: &Target) {
    let store = t.options().open().await.unwrap();
    let events = store.events();
    let mut idle = events.subscribe(0).page_size(10).unwrap();
    assert!(idle.try_next().await.unwrap().is_none());
    // The subscriber reads nothing while 2,000 events are written: writers never wait on it.
    for _ in 0..4 {
        append_n(&events, "busy", 500).await;
    }
    assert_eq!(events.head_position().await.unwrap(), 2_000);
    // It later reads everything from storage, in order, once.
    let mut expected = 1;
    while let Some(event) = idle.try_next().await.unwrap() {
        assert_eq!(event.position, expected);
        expected += 1;
    }
    assert_eq!(expected, 2_001);
    store.close().await;
}

async fn subscription_skips_events_removed_by_retention(t: &Target) {
    let store = t.options().open().await.unwrap();
    let events = store.events();
    append_n(&events, "a", 2).await; // 1, 2
    append_n(&events, "b", 2).await; // 3, 4
    append_n(&events, "a", 2).await; // 5, 6
    let mut sub = events.subscribe(0).page_size(2).unwrap();
    assert_eq!(sub.next().await.unwrap().position, 1);
    events.delete_stream("b").await.unwrap();
    events.truncate_stream("a", 3).await.unwrap(); // removes versions 0..=2: positions 1, 2, 5
    let mut rest = Vec::new();
    while let Some(event) = sub.try_next().await.unwrap() {
        rest.push(event);
    }
    // Position 2 was already in the page read before the truncation; 3, 4 and 5 are gone.
    assert_eq!(positions(&rest), [2, 6]);
    store.close().await;
}

async fn persistent_subscription_resumes_from_its_checkpoint_after_reopen(t: &Target) {
    let store = t.options().open().await.unwrap();
    let events = store.events();
    append_n(&events, "s", 5).await;
    assert_eq!(events.checkpoint("projector").await.unwrap(), None);
    let mut sub = events.persistent_subscription("projector").await.unwrap();
    assert_eq!(sub.name(), "projector");
    assert_eq!(sub.checkpoint(), 0);
    for want in 1..=3 {
        assert_eq!(sub.next().await.unwrap().position, want);
    }
    sub.ack(3).await.unwrap();
    assert_eq!(sub.checkpoint(), 3);
    // Delivered but not acknowledged: redelivered after a restart.
    assert_eq!(sub.next().await.unwrap().position, 4);
    // Acknowledging what was not delivered, or going back, is refused and stores nothing.
    let err = sub.ack(5).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::INVALID_INPUT);
    assert_eq!(err.context_value("field"), Some("position"));
    let err = sub.ack(2).await.unwrap_err();
    assert_eq!(err.context_value("field"), Some("position"));
    store.close().await;

    let store = t.options().open().await.unwrap();
    let events = store.events();
    assert_eq!(events.checkpoint("projector").await.unwrap(), Some(3));
    let mut sub = events.persistent_subscription("projector").await.unwrap();
    assert_eq!((sub.checkpoint(), sub.position()), (3, 3));
    assert_eq!(sub.next().await.unwrap().position, 4);
    assert_eq!(sub.next().await.unwrap().position, 5);
    sub.ack(5).await.unwrap();
    assert!(sub.try_next().await.unwrap().is_none());
    // Each consumer has its own checkpoint.
    let mut other = events.persistent_subscription("auditor").await.unwrap();
    assert_eq!(other.next().await.unwrap().position, 1);
    store.close().await;

    let store = t.options().open().await.unwrap();
    assert_eq!(
        store.events().checkpoint("projector").await.unwrap(),
        Some(5)
    );
    assert_eq!(store.events().checkpoint("auditor").await.unwrap(), None);
    store.close().await;
    let stored = t
        .raw("SELECT CAST(position AS TEXT) FROM foundation_event_checkpoints WHERE name = 'projector'")
        .await;
    assert_eq!(stored.as_deref(), Some("5"));
}

async fn closed_store_ends_a_waiting_subscription_with_an_error(t: &Target) {
    let store = t.options().open().await.unwrap();
    let mut sub = store.events().subscribe(0);
    assert!(sub.try_next().await.unwrap().is_none());
    store.close().await;
    let err = tokio::time::timeout(LIMIT, sub.next())
        .await
        .expect("no hang")
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::STORE_UNAVAILABLE);
}
