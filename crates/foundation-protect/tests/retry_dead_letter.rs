//! Operations that retrying gives up on reach the dead-letter sink with every attempt.

use std::sync::Arc;
use std::time::Duration;

use foundation_core::{Error, ErrorCode, TelemetryBus};
use foundation_protect::retry::{
    Backoff, DeadLetter, DeadLetterFailed, DeadLetterSink, GiveUpReason, InMemoryDeadLetterSink,
    Retry, RetryConfig,
};
use futures::future::BoxFuture;

fn retry_with(sink: Arc<dyn DeadLetterSink>, bus: TelemetryBus) -> Retry {
    Retry::builder()
        .name("charge")
        .config(RetryConfig {
            max_attempts: 3,
            backoff: Backoff::Constant {
                delay: Duration::from_millis(10),
            },
            ..RetryConfig::default()
        })
        .dead_letter(sink)
        .bus(bus)
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_dead_letter_receives_every_attempts_error_and_the_payload() {
    let sink = Arc::new(InMemoryDeadLetterSink::new(8));
    let retry = retry_with(sink.clone(), TelemetryBus::new());
    let err = retry
        .run_with_payload(serde_json::json!({"order": 17}), |attempt| async move {
            Err::<(), _>(Error::new(ErrorCode::NETWORK, format!("reset #{attempt}")))
        })
        .await
        .unwrap_err();
    assert!(err.is(ErrorCode::RETRY_EXHAUSTED));
    let letters = sink.letters();
    assert_eq!(letters.len(), 1);
    let letter = &letters[0];
    assert_eq!(letter.operation, "charge");
    assert_eq!(letter.reason, GiveUpReason::MaxAttempts);
    assert_eq!(letter.payload, Some(serde_json::json!({"order": 17})));
    let attempts: Vec<(u32, ErrorCode, bool)> = letter
        .attempts
        .iter()
        .map(|a| {
            (
                a.attempt,
                a.code,
                a.message.contains(&format!("reset #{}", a.attempt)),
            )
        })
        .collect();
    assert_eq!(
        attempts,
        vec![
            (1, ErrorCode::NETWORK, true),
            (2, ErrorCode::NETWORK, true),
            (3, ErrorCode::NETWORK, true)
        ]
    );
    // Letters serialize for inspection.
    let json = serde_json::to_value(letter).unwrap();
    assert_eq!(json["attempts"][2]["code"], "core.network");
}

#[tokio::test(start_paused = true)]
async fn a_non_retryable_failure_is_dead_lettered_after_one_attempt() {
    let sink = Arc::new(InMemoryDeadLetterSink::new(8));
    let retry = retry_with(sink.clone(), TelemetryBus::new());
    let err = retry
        .run(|_| async { Err::<(), _>(Error::new(ErrorCode::APPLICATION, "declined")) })
        .await
        .unwrap_err();
    assert!(err.is(ErrorCode::APPLICATION));
    let letters = sink.drain();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].attempts.len(), 1);
    assert_eq!(letters[0].reason, GiveUpReason::NotRetryable);
    assert!(letters[0].payload.is_none());
    assert!(sink.is_empty());
}

#[tokio::test(start_paused = true)]
async fn success_sends_nothing() {
    let sink = Arc::new(InMemoryDeadLetterSink::new(8));
    let retry = retry_with(sink.clone(), TelemetryBus::new());
    retry
        .run(|attempt| async move {
            if attempt == 1 {
                Err(Error::new(ErrorCode::NETWORK, "reset"))
            } else {
                Ok(())
            }
        })
        .await
        .unwrap();
    assert!(sink.is_empty());
}

#[test]
fn the_in_memory_sink_is_bounded_and_drops_the_oldest() {
    let sink = InMemoryDeadLetterSink::new(2);
    for i in 0..5 {
        sink.push(DeadLetter {
            operation: format!("op{i}"),
            reason: GiveUpReason::MaxAttempts,
            attempts: Vec::new(),
            payload: None,
        });
    }
    assert_eq!(sink.len(), 2);
    assert_eq!(sink.dropped(), 3);
    let names: Vec<String> = sink.letters().into_iter().map(|l| l.operation).collect();
    assert_eq!(names, vec!["op3", "op4"]);
}

#[tokio::test(start_paused = true)]
async fn a_failing_sink_is_reported_but_never_replaces_the_error() {
    struct Broken;
    impl DeadLetterSink for Broken {
        fn send(&self, _: DeadLetter) -> BoxFuture<'_, Result<(), Error>> {
            Box::pin(async { Err(Error::new(ErrorCode::UNAVAILABLE, "dlq down")) })
        }
    }
    let bus = TelemetryBus::new();
    let mut sub = bus.subscribe_prefix("foundation.retry.dead_letter", 8);
    let retry = retry_with(Arc::new(Broken), bus);
    let err = retry
        .run(|_| async { Err::<(), _>(Error::new(ErrorCode::NETWORK, "reset")) })
        .await
        .unwrap_err();
    assert!(err.is(ErrorCode::RETRY_EXHAUSTED));
    let events = sub.drain();
    assert_eq!(events.len(), 1);
    let failed = events[0].downcast_ref::<DeadLetterFailed>().unwrap();
    assert_eq!(failed.code, ErrorCode::UNAVAILABLE);
    assert_eq!(failed.retry.as_ref(), "charge");
}
