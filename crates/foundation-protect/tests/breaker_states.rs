//! Behaviour of one breaker through its states, driven by a `ManualClock`.

use std::sync::Arc;
use std::time::Duration;

use foundation_core::{Error, ErrorCode, ManualClock, TelemetryBus};
use foundation_protect::breaker::{
    BreakerConfig, BreakerState, CallRejected, CircuitBreaker, ClassThresholds, OTHER_CALLER,
    OpenBackoff, ProbeResult, SlowCall, StateChanged, TransitionReason, WindowConfig,
};
use foundation_protect::outcome::{FnClassifier, Outcome};

fn config() -> BreakerConfig {
    BreakerConfig {
        window: WindowConfig::Count { size: 10 },
        minimum_calls: 4,
        failure_rate_threshold: 50.0,
        open_duration: Duration::from_secs(10),
        half_open_probes: 2,
        ..BreakerConfig::default()
    }
}

fn breaker(config: BreakerConfig) -> (CircuitBreaker, ManualClock) {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder("db")
        .config(config)
        .clock(clock.clock())
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    (b, clock)
}

fn run(b: &CircuitBreaker, outcome: Outcome, n: usize) {
    for _ in 0..n {
        b.try_acquire().unwrap().record(outcome);
    }
}

/// Trips `b` (closed, default `config()`) open.
fn trip(b: &CircuitBreaker) {
    run(b, Outcome::Network, 4);
    assert_eq!(b.state(), BreakerState::Open);
}

#[test]
fn trips_at_the_failure_rate() {
    let (b, _) = breaker(config());
    run(&b, Outcome::Success, 4);
    run(&b, Outcome::Network, 3);
    assert_eq!(b.state(), BreakerState::Closed, "3/7 failures < 50%");
    run(&b, Outcome::Timeout, 1);
    assert_eq!(b.state(), BreakerState::Open, "4/8 failures = 50%");
    let s = b.status();
    assert!(matches!(
        s.last_transition.unwrap().reason,
        TransitionReason::FailureRate { rate, threshold } if rate == 50.0 && threshold == 50.0
    ));
    assert_eq!(s.consecutive_trips, 1);
}

#[test]
fn no_trip_before_the_minimum_and_the_call_reaching_it_decides() {
    let (b, _) = breaker(config());
    run(&b, Outcome::Network, 3);
    assert_eq!(b.state(), BreakerState::Closed, "3 calls < minimum 4");
    run(&b, Outcome::Success, 1);
    assert_eq!(
        b.state(),
        BreakerState::Open,
        "3/4 failures once 4 calls are in"
    );
}

#[test]
fn an_open_breaker_refuses_with_retry_after_and_its_name() {
    let (b, clock) = breaker(config());
    trip(&b);
    clock.advance(Duration::from_secs(4));
    let err = b.try_acquire().unwrap_err();
    assert!(err.is(ErrorCode::CIRCUIT_OPEN));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(6)));
    assert_eq!(err.context_value("breaker"), Some("db"));
    assert_eq!(b.status().open_remaining, Some(Duration::from_secs(6)));
}

#[test]
fn half_open_admits_exactly_the_probes_and_closes_when_they_succeed() {
    let (b, clock) = breaker(config());
    trip(&b);
    clock.advance(Duration::from_secs(10));
    let p1 = b.try_acquire().unwrap();
    assert_eq!(b.state(), BreakerState::HalfOpen);
    let p2 = b.try_acquire().unwrap();
    assert!(p1.is_probe() && p2.is_probe());
    let full = b.try_acquire().unwrap_err();
    assert!(full.is(ErrorCode::CIRCUIT_HALF_OPEN_FULL));
    p1.record(Outcome::Success);
    assert_eq!(b.state(), BreakerState::HalfOpen, "one probe still out");
    let probes = b.status().probes.unwrap();
    assert_eq!(
        (probes.reserved, probes.finished, probes.required),
        (2, 1, 2)
    );
    p2.record(Outcome::Success);
    assert_eq!(b.state(), BreakerState::Closed);
    assert_eq!(
        b.status().window.calls(),
        0,
        "closing starts a fresh window"
    );
}

#[test]
fn failed_probes_reopen_with_a_growing_capped_open_duration() {
    let (b, clock) = breaker(BreakerConfig {
        open_backoff: OpenBackoff::Exponential {
            multiplier: 2.0,
            max_open_duration: Duration::from_secs(30),
        },
        ..config()
    });
    trip(&b);
    let mut expected = [20, 30, 30].into_iter();
    let mut open_for = Duration::from_secs(10);
    for trips in 2..=4 {
        clock.advance(open_for);
        b.try_acquire().unwrap().record(Outcome::Network);
        b.try_acquire().unwrap().record(Outcome::Success);
        assert_eq!(b.state(), BreakerState::Open, "1/2 probes failed = 50%");
        open_for = Duration::from_secs(expected.next().unwrap());
        let s = b.status();
        assert_eq!(s.consecutive_trips, trips);
        assert_eq!(s.open_remaining, Some(open_for));
    }
    // A successful round ends the run of trips: the next trip opens for the base duration.
    clock.advance(open_for);
    run(&b, Outcome::Success, 2);
    assert_eq!(b.state(), BreakerState::Closed);
    trip(&b);
    assert_eq!(b.status().open_remaining, Some(Duration::from_secs(10)));
}

#[test]
fn a_dropped_or_ignored_probe_gives_its_slot_back() {
    let (b, clock) = breaker(config());
    trip(&b);
    clock.advance(Duration::from_secs(10));
    let p1 = b.try_acquire().unwrap();
    let p2 = b.try_acquire().unwrap();
    drop(p1);
    p2.record(Outcome::Ignored);
    let probes = b.status().probes.unwrap();
    assert_eq!((probes.reserved, probes.finished), (0, 0));
    run(&b, Outcome::Success, 2);
    assert_eq!(b.state(), BreakerState::Closed);
}

#[test]
fn ignored_and_cancelled_calls_are_not_counted() {
    let (b, _) = breaker(config());
    run(&b, Outcome::Ignored, 20);
    drop(b.try_acquire().unwrap());
    assert_eq!(b.status().window.calls(), 0);
    // The default classifier ignores Foundation's own refusals.
    b.try_acquire()
        .unwrap()
        .record_error(&Error::new(ErrorCode::RATE_LIMITED, "slow down"));
    assert_eq!(b.status().window.calls(), 0);
}

#[test]
fn a_class_with_its_own_threshold_trips_below_the_overall_rate() {
    let (b, _) = breaker(BreakerConfig {
        class_thresholds: ClassThresholds {
            timeout: Some(20.0),
            ..ClassThresholds::default()
        },
        ..config()
    });
    run(&b, Outcome::Success, 7);
    run(&b, Outcome::Application, 1);
    assert_eq!(b.state(), BreakerState::Closed);
    run(&b, Outcome::Timeout, 2);
    assert_eq!(b.state(), BreakerState::Open, "2/10 timeouts = 20%");
    assert!(matches!(
        b.status().last_transition.unwrap().reason,
        TransitionReason::ClassRate {
            class: Outcome::Timeout,
            ..
        }
    ));
}

#[test]
fn the_classifier_decides_the_class() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder("api")
        .config(config())
        .clock(clock.clock())
        .classifier(Arc::new(FnClassifier(|e: &Error| {
            if e.message().contains("404") {
                Outcome::Ignored
            } else {
                Outcome::Application
            }
        })))
        .build()
        .unwrap();
    for _ in 0..10 {
        let r: Result<(), Error> = Err(Error::new(ErrorCode::APPLICATION, "HTTP 404"));
        b.try_acquire().unwrap().record_result(&r);
    }
    assert_eq!(b.state(), BreakerState::Closed);
    let r: Result<(), Error> = Err(Error::new(ErrorCode::APPLICATION, "HTTP 500"));
    for _ in 0..4 {
        b.try_acquire().unwrap().record_result(&r);
    }
    assert_eq!(b.state(), BreakerState::Open);
    assert_eq!(b.status().window.application, 4);
}

#[test]
fn slow_calls_trip_at_the_slow_call_rate() {
    let bus = TelemetryBus::new();
    let mut slow_events = bus.subscribe_prefix("foundation.breaker.slow_call", 16);
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder("db")
        .config(BreakerConfig {
            slow_call_duration: Some(Duration::from_millis(100)),
            slow_call_rate_threshold: 50.0,
            ..config()
        })
        .clock(clock.clock())
        .bus(bus)
        .build()
        .unwrap();
    for i in 0..4 {
        let permit = b.try_acquire().unwrap();
        clock.advance(Duration::from_millis(if i % 2 == 0 { 150 } else { 10 }));
        permit.record(Outcome::Success);
    }
    assert_eq!(b.state(), BreakerState::Open, "2/4 slow = 50%");
    assert!(matches!(
        b.status().last_transition.unwrap().reason,
        TransitionReason::SlowCallRate { .. }
    ));
    let events = slow_events.drain();
    assert_eq!(events.len(), 2);
    let ev = events[0].downcast_ref::<SlowCall>().unwrap();
    assert_eq!(ev.duration, Duration::from_millis(150));
}

#[test]
fn a_time_window_forgets_old_failures() {
    let (b, clock) = breaker(BreakerConfig {
        window: WindowConfig::Time {
            duration: Duration::from_secs(10),
            buckets: 10,
        },
        ..config()
    });
    run(&b, Outcome::Network, 3);
    clock.advance(Duration::from_secs(11));
    assert_eq!(b.status().window.calls(), 0);
    run(&b, Outcome::Network, 1);
    assert_eq!(
        b.state(),
        BreakerState::Closed,
        "old failures left the window"
    );
    run(&b, Outcome::Network, 3);
    assert_eq!(b.state(), BreakerState::Open);
}

fn ramping(clock: &ManualClock) -> CircuitBreaker {
    let b = CircuitBreaker::builder("db")
        .config(BreakerConfig {
            recovery_ramp: Some(Duration::from_secs(10)),
            ramp_start_percent: 10.0,
            half_open_probes: 1,
            ..config()
        })
        .clock(clock.clock())
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    trip(&b);
    clock.advance(Duration::from_secs(10));
    run(&b, Outcome::Success, 1);
    b
}

fn admitted_of_100(b: &CircuitBreaker) -> usize {
    let mut admitted = 0;
    for _ in 0..100 {
        match b.try_acquire() {
            Ok(p) => {
                admitted += 1;
                p.record(Outcome::Success);
            }
            Err(e) => assert!(e.is(ErrorCode::CIRCUIT_RAMPING), "{e}"),
        }
    }
    admitted
}

#[test]
fn after_closing_the_ramp_admits_a_growing_fraction() {
    let clock = ManualClock::new();
    let b = ramping(&clock);
    assert_eq!(b.state(), BreakerState::Closed);
    assert_eq!(b.status().ramp_percent.map(f64::round), Some(10.0));
    assert_eq!(admitted_of_100(&b), 10);
    clock.advance(Duration::from_secs(5));
    assert_eq!(b.status().ramp_percent.map(f64::round), Some(55.0));
    let mid = admitted_of_100(&b);
    assert!((54..=56).contains(&mid), "{mid}");
    clock.advance(Duration::from_secs(5));
    assert_eq!(admitted_of_100(&b), 100);
    assert_eq!(b.status().ramp_percent, None);
}

#[test]
fn a_trip_during_the_ramp_is_a_repeated_trip() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder("db")
        .config(BreakerConfig {
            recovery_ramp: Some(Duration::from_secs(10)),
            ramp_start_percent: 100.0,
            half_open_probes: 1,
            open_backoff: OpenBackoff::Linear {
                step: Duration::from_secs(5),
                max_open_duration: Duration::from_secs(60),
            },
            ..config()
        })
        .clock(clock.clock())
        .build()
        .unwrap();
    trip(&b);
    clock.advance(Duration::from_secs(10));
    run(&b, Outcome::Success, 1);
    assert!(b.status().ramp_percent.is_some());
    trip(&b);
    assert_eq!(b.status().consecutive_trips, 2);
    assert_eq!(b.status().open_remaining, Some(Duration::from_secs(15)));
}

#[test]
fn manual_control_overrides_the_state_machine() {
    let (b, _) = breaker(config());
    b.force_open();
    assert_eq!(b.state(), BreakerState::ForcedOpen);
    let err = b.try_acquire().unwrap_err();
    assert!(err.is(ErrorCode::CIRCUIT_FORCED_OPEN));
    assert_eq!(err.retry_after(), None);

    b.force_close();
    assert_eq!(b.state(), BreakerState::Closed);
    trip(&b);
    b.force_close();
    assert_eq!(b.state(), BreakerState::Closed);

    b.disable();
    run(&b, Outcome::Network, 50);
    assert_eq!(b.state(), BreakerState::Disabled);
    assert_eq!(b.status().window.calls(), 0, "disabled counts nothing");

    b.metrics_only();
    run(&b, Outcome::Network, 50);
    assert_eq!(b.state(), BreakerState::MetricsOnly);
    let s = b.status();
    assert_eq!((s.window.network, s.failure_rate), (10, 100.0));

    b.reset();
    let s = b.status();
    assert_eq!(s.state, BreakerState::Closed);
    assert_eq!(s.window.calls(), 0);
    assert_eq!(s.last_transition.unwrap().reason, TransitionReason::Reset);
}

#[test]
fn permits_taken_before_a_transition_count_nothing_after_it() {
    let (b, _) = breaker(config());
    let stale: Vec<_> = (0..4).map(|_| b.try_acquire().unwrap()).collect();
    b.force_open();
    b.force_close();
    for p in stale {
        p.record(Outcome::Network);
    }
    assert_eq!(b.state(), BreakerState::Closed);
    assert_eq!(b.status().window.calls(), 0);
}

#[test]
fn reconfiguration_keeps_the_state_and_the_window() {
    let (b, _) = breaker(config());
    run(&b, Outcome::Success, 6);
    run(&b, Outcome::Network, 2);
    b.reconfigure(BreakerConfig {
        failure_rate_threshold: 80.0,
        ..config()
    })
    .unwrap();
    assert_eq!(b.status().window.calls(), 8, "same shape: same window");

    // A new shape carries the counts over.
    b.reconfigure(BreakerConfig {
        window: WindowConfig::Count { size: 50 },
        failure_rate_threshold: 80.0,
        ..config()
    })
    .unwrap();
    let s = b.status();
    assert_eq!((s.window.network, s.window.success), (2, 6));
    assert_eq!(b.config().window, WindowConfig::Count { size: 50 });

    // Back to the original shape, and a threshold the window already breaches: trips now.
    b.reconfigure(BreakerConfig {
        failure_rate_threshold: 25.0,
        ..config()
    })
    .unwrap();
    assert_eq!(b.state(), BreakerState::Open);

    // An invalid config changes nothing.
    let err = b
        .reconfigure(BreakerConfig {
            failure_rate_threshold: 101.0,
            ..config()
        })
        .unwrap_err();
    assert_eq!(
        err.context_value("field"),
        Some("breaker.failure_rate_threshold")
    );
    assert_eq!(b.config().failure_rate_threshold, 25.0);
    assert_eq!(b.state(), BreakerState::Open);
}

#[test]
fn slow_call_detection_can_be_switched_on_live() {
    let (b, clock) = breaker(config());
    b.reconfigure(BreakerConfig {
        slow_call_duration: Some(Duration::from_millis(50)),
        slow_call_rate_threshold: 100.0,
        ..config()
    })
    .unwrap();
    for _ in 0..4 {
        let p = b.try_acquire().unwrap();
        clock.advance(Duration::from_millis(60));
        p.record(Outcome::Success);
    }
    assert_eq!(b.status().window.slow, 4);
    assert_eq!(b.state(), BreakerState::Open);
}

#[test]
fn per_caller_counts_are_bounded_with_an_other_bucket() {
    let (b, _) = breaker(BreakerConfig {
        max_tracked_callers: 2,
        minimum_calls: 10,
        ..config()
    });
    b.try_acquire_for("agent-a")
        .unwrap()
        .record(Outcome::Success);
    b.try_acquire_for("agent-b")
        .unwrap()
        .record(Outcome::Network);
    for name in ["agent-c", "agent-d"] {
        b.try_acquire_for(name).unwrap().record(Outcome::Timeout);
    }
    b.force_open();
    let err = b.try_acquire_for("agent-a").unwrap_err();
    assert_eq!(err.context_value("caller"), Some("agent-a"));
    let callers = b.status().callers;
    let names: Vec<&str> = callers.iter().map(|c| c.caller.as_str()).collect();
    assert_eq!(names, ["agent-a", "agent-b", OTHER_CALLER]);
    assert_eq!((callers[0].success, callers[0].rejected), (1, 1));
    assert_eq!(callers[1].network, 1);
    assert_eq!(callers[2].timeout, 2);
    b.reset();
    assert!(b.status().callers.is_empty());
}

#[test]
fn events_tell_state_changes_rejections_and_probe_results() {
    let bus = TelemetryBus::new();
    let mut events = bus.subscribe_prefix("foundation.breaker.", 64);
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder("db")
        .config(BreakerConfig {
            half_open_probes: 1,
            ..config()
        })
        .clock(clock.clock())
        .bus(bus)
        .build()
        .unwrap();
    trip(&b);
    b.try_acquire().unwrap_err();
    clock.advance(Duration::from_secs(10));
    run(&b, Outcome::Success, 1);
    let got = events.drain();
    let names: Vec<&str> = got.iter().map(|e| e.name()).collect();
    assert_eq!(
        names,
        [
            "foundation.breaker.state_change",
            "foundation.breaker.call_rejected",
            "foundation.breaker.state_change",
            "foundation.breaker.probe_result",
            "foundation.breaker.state_change",
        ]
    );
    let opened = got[0].downcast_ref::<StateChanged>().unwrap();
    assert_eq!(
        (opened.from, opened.to),
        (BreakerState::Closed, BreakerState::Open)
    );
    assert_eq!(got[0].source(), "db");
    let rejected = got[1].downcast_ref::<CallRejected>().unwrap();
    assert_eq!(rejected.code, ErrorCode::CIRCUIT_OPEN);
    let probe = got[3].downcast_ref::<ProbeResult>().unwrap();
    assert_eq!(
        (probe.outcome, probe.finished, probe.required),
        (Outcome::Success, 1, 1)
    );
    let closed = got[4].downcast_ref::<StateChanged>().unwrap();
    assert_eq!(closed.reason, TransitionReason::ProbesSucceeded);
}

#[test]
fn status_serializes_for_operators() {
    let (b, _) = breaker(config());
    run(&b, Outcome::Network, 1);
    run(&b, Outcome::Success, 1);
    let json = serde_json::to_value(b.status()).unwrap();
    assert_eq!(json["state"], "closed");
    assert_eq!(json["window"]["network"], 1);
    assert_eq!(json["failure_rate"], 50.0);
}

#[tokio::test(start_paused = true)]
async fn call_records_the_result_and_fallback_answers_refusals() {
    let b = CircuitBreaker::builder("svc")
        .config(config())
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    for _ in 0..4 {
        let r: Result<(), Error> = b
            .call(|| async { Err(Error::new(ErrorCode::NETWORK, "reset")) })
            .await;
        assert!(r.unwrap_err().is(ErrorCode::NETWORK));
    }
    assert_eq!(b.state(), BreakerState::Open);
    let r = b
        .call_with_fallback(
            || async { Ok::<_, Error>("live") },
            |refusal| {
                assert!(refusal.is(ErrorCode::CIRCUIT_OPEN));
                Ok("cached")
            },
        )
        .await;
    assert_eq!(r.unwrap(), "cached");
    assert!(b.call_sync(|| Ok::<_, Error>(1)).is_err());

    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(b.call(|| async { Ok::<_, Error>(7) }).await.unwrap(), 7);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_call_counts_nothing_and_frees_its_probe() {
    let b = CircuitBreaker::builder("svc")
        .config(BreakerConfig {
            half_open_probes: 1,
            ..config()
        })
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    trip(&b);
    tokio::time::advance(Duration::from_secs(10)).await;
    let slow_probe = b.call(|| async {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok::<_, Error>(())
    });
    let timed_out = tokio::time::timeout(Duration::from_secs(1), slow_probe).await;
    assert!(timed_out.is_err());
    let probes = b.status().probes.unwrap();
    assert_eq!((probes.reserved, probes.finished), (0, 0));
    b.call(|| async { Ok::<_, Error>(()) }).await.unwrap();
    assert_eq!(b.state(), BreakerState::Closed);
}
