//! Trace propagation through the facade (a child context per call, in scope while it runs)
//! and the call observer. The call's span is checked in `protection_span.rs`.

use std::sync::Arc;
use std::time::Duration;

use foundation_core::trace::{TraceContext, TraceState};
use foundation_core::{Error, ErrorCode, TelemetryBus};
use foundation_protect::breaker::BreakerConfig;
use foundation_protect::protection::{
    CallObserver, CallRecord, ManualGate, PressureLevel, Protection, ProtectionBuilder,
};
use foundation_protect::retry::{Backoff, RetryConfig};
use parking_lot::Mutex;

fn quiet(name: &str) -> ProtectionBuilder {
    Protection::builder(name).bus(TelemetryBus::new())
}

fn retry_twice() -> RetryConfig {
    RetryConfig {
        max_attempts: 3,
        backoff: Backoff::Constant {
            delay: Duration::from_millis(10),
        },
        ..RetryConfig::default()
    }
}

#[tokio::test]
async fn without_a_current_context_the_call_is_untraced() {
    let p = quiet("plain").build().unwrap();
    let (seen, current) = p
        .run(|ctx| async move { Ok::<_, Error>((ctx.trace().cloned(), TraceContext::current())) })
        .await
        .unwrap();
    assert!(seen.is_none());
    assert!(current.is_none());
}

#[tokio::test(start_paused = true)]
async fn each_call_runs_in_a_child_of_the_current_context() {
    let p = quiet("traced").retry(retry_twice()).build().unwrap();
    let root = TraceContext::new_root().with_tracestate(TraceState::parse("vendor=abc"));

    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let first = root
        .clone()
        .scope(p.run(move |ctx| {
            let record = record.clone();
            async move {
                let trace = ctx.trace().cloned().expect("the call is traced");
                assert_eq!(TraceContext::current().as_ref(), Some(&trace));
                assert_eq!(ctx.traceparent(), Some(trace.traceparent()));
                assert_eq!(ctx.tracestate().as_deref(), Some("vendor=abc"));
                record.lock().push(trace);
                if ctx.attempt() < 3 {
                    Err(Error::new(ErrorCode::NETWORK, "reset"))
                } else {
                    Ok(())
                }
            }
        }))
        .await;
    first.unwrap();

    // One child per call: every attempt of the call shares it.
    let attempts = seen.lock().clone();
    assert_eq!(attempts.len(), 3);
    let call = &attempts[0];
    assert!(attempts.iter().all(|t| t == call));
    assert_eq!(call.trace_id(), root.trace_id());
    assert_ne!(call.span_id(), root.span_id());

    // A second call gets a span of its own, in the same trace; the caller's context is back.
    let (second, after) = root
        .clone()
        .scope(async {
            let second = p
                .run(|ctx| async move { Ok::<_, Error>(ctx.trace().cloned()) })
                .await
                .unwrap()
                .unwrap();
            (second, TraceContext::current())
        })
        .await;
    assert_eq!(second.trace_id(), root.trace_id());
    assert_ne!(second.span_id(), call.span_id());
    assert_eq!(after.as_ref(), Some(&root));
}

#[derive(Debug, Clone, PartialEq)]
struct Seen {
    protection: String,
    elapsed: Duration,
    attempts: u32,
    error: Option<ErrorCode>,
}

#[derive(Default)]
struct Recorder(Mutex<Vec<Seen>>);

impl CallObserver for Recorder {
    fn observe(&self, call: &CallRecord<'_>) {
        self.0.lock().push(Seen {
            protection: call.protection.to_string(),
            elapsed: call.elapsed,
            attempts: call.attempts,
            error: call.error.map(Error::code),
        });
    }
}

impl Recorder {
    fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.0.lock())
    }
}

#[tokio::test(start_paused = true)]
async fn the_observer_is_told_each_calls_outcome_and_elapsed_time() {
    let recorder = Arc::new(Recorder::default());
    let p = quiet("orders")
        .retry(retry_twice())
        .observer(recorder.clone())
        .build()
        .unwrap();

    // Two failures, then a success: 3 attempts, 3 × 100 ms of work and 2 × 10 ms of backoff.
    p.run(|ctx| async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if ctx.attempt() < 3 {
            Err(Error::new(ErrorCode::NETWORK, "reset"))
        } else {
            Ok(())
        }
    })
    .await
    .unwrap();
    // A call that fails for good: the caller's error is what the observer sees.
    let err = p
        .run(|_| async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            Err::<(), _>(Error::new(ErrorCode::APPLICATION, "bad request"))
        })
        .await
        .unwrap_err();
    assert!(err.is(ErrorCode::APPLICATION));

    assert_eq!(
        recorder.take(),
        vec![
            Seen {
                protection: "orders".into(),
                elapsed: Duration::from_millis(320),
                attempts: 3,
                error: None,
            },
            Seen {
                protection: "orders".into(),
                elapsed: Duration::from_millis(5),
                attempts: 1,
                error: Some(ErrorCode::APPLICATION),
            },
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn the_observer_is_told_of_refusals_by_every_stage() {
    let recorder = Arc::new(Recorder::default());
    let gate = ManualGate::new();
    let p = quiet("refusing")
        .memory_gate(Arc::new(gate.clone()))
        .circuit_breaker(BreakerConfig::default())
        .observer(recorder.clone())
        .build()
        .unwrap();
    let call = |_| async { Ok::<_, Error>(()) };

    gate.set(PressureLevel::Critical);
    assert!(p.run(call).await.is_err());
    gate.set(PressureLevel::Low);
    p.breaker().unwrap().force_open();
    assert!(p.run(call).await.is_err());

    let seen = recorder.take();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].attempts, 0);
    assert_eq!(seen[0].error, Some(ErrorCode::MEMORY_PRESSURE));
    assert_eq!(seen[0].elapsed, Duration::ZERO);
    assert_eq!(seen[1].attempts, 1);
    assert_eq!(seen[1].error, Some(ErrorCode::CIRCUIT_FORCED_OPEN));
}
