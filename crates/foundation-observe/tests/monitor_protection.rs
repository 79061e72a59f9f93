//! The monitor as a protection's call observer: every call recorded, refusals as errors.

use std::sync::Arc;
use std::time::Duration;

use foundation_core::{Error, ErrorCode, TelemetryBus};
use foundation_observe::monitor::{Monitor, PROTECTION_OPERATION, Window};
use foundation_protect::protection::{ManualGate, PressureLevel, Protection};

#[tokio::test(start_paused = true)]
async fn every_protected_call_is_recorded_and_refusals_count_as_errors() {
    let monitor = Monitor::builder().bus(TelemetryBus::new()).build().unwrap();
    let gate = ManualGate::new();
    let protection = Protection::builder("inventory")
        .observer(Arc::new(monitor.clone()))
        .memory_gate(Arc::new(gate.clone()))
        .build()
        .unwrap();
    for _ in 0..3 {
        protection
            .run(|_ctx| async {
                tokio::time::sleep(Duration::from_millis(8)).await;
                Ok::<_, Error>(())
            })
            .await
            .unwrap();
    }
    let failed = protection
        .run(|_ctx| async { Err::<(), _>(Error::new(ErrorCode::APPLICATION, "no stock")) })
        .await;
    assert!(failed.is_err());
    gate.set(PressureLevel::Critical);
    let refused = protection
        .run(|_ctx| async { Ok::<_, Error>(()) })
        .await
        .unwrap_err();
    assert!(refused.is(ErrorCode::MEMORY_PRESSURE));

    let s = monitor
        .summary(
            PROTECTION_OPERATION,
            &[("protection", "inventory")],
            Window::Minute,
        )
        .unwrap();
    assert_eq!((s.count, s.errors), (5, 2));
    // tokio's timer rounds a sleep up to its next millisecond tick.
    let max = s.max.unwrap();
    assert!(
        max >= Duration::from_millis(8)
            && max <= Duration::from_millis(9) + Duration::from_millis(9) / 128,
        "{max:?}"
    );
}
