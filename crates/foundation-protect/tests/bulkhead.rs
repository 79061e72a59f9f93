//! Bulkhead behaviour: concurrency bound, FIFO admission, bounded line, wait timeout,
//! cancellation, run-time limits.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use foundation_core::{Error, ErrorCode, TelemetryBus};
use foundation_protect::bulkhead::{
    Bulkhead, BulkheadConfig, BulkheadLimitsChanged, BulkheadRejected, RejectReason,
};
use parking_lot::Mutex;
use tokio::time::Instant;

fn bulkhead(max_concurrent: usize, max_waiting: usize, max_wait_ms: u64) -> Bulkhead {
    Bulkhead::builder()
        .name("db")
        .config(BulkheadConfig {
            max_concurrent,
            max_waiting,
            max_wait: Duration::from_millis(max_wait_ms),
        })
        .bus(TelemetryBus::new())
        .build()
        .unwrap()
}

/// Yields until `cond` holds (tasks make progress in between; no wall-clock sleep); fails
/// rather than hangs if it never does.
async fn until(mut cond: impl FnMut() -> bool) {
    for _ in 0..100_000 {
        if cond() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("condition never became true");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn never_more_than_max_concurrent_calls_in_flight() {
    let b = bulkhead(4, 10_000, 60_000);
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..400)
        .map(|_| {
            let (b, in_flight, peak) = (b.clone(), in_flight.clone(), peak.clone());
            tokio::spawn(async move {
                let _permit = b.acquire().await.unwrap();
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                for _ in 0..3 {
                    tokio::task::yield_now().await;
                }
                in_flight.fetch_sub(1, Ordering::SeqCst);
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert!(peak.load(Ordering::SeqCst) <= 4);
    assert!(peak.load(Ordering::SeqCst) >= 1);
    let s = b.status();
    assert_eq!((s.in_flight, s.waiting, s.rejected), (0, 0, 0));
}

#[tokio::test(start_paused = true)]
async fn waiters_are_admitted_in_arrival_order() {
    let b = bulkhead(1, 100, 60_000);
    let holder = b.acquire().await.unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..10 {
        let (b2, order) = (b.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = b2.acquire().await.unwrap();
            order.lock().push(i);
            tokio::task::yield_now().await;
        }));
        until(|| b.status().waiting == i + 1).await;
    }
    drop(holder);
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(*order.lock(), (0..10).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn a_full_waiting_line_refuses_at_once() {
    let bus = TelemetryBus::new();
    let mut sub = bus.subscribe(8);
    let b = Bulkhead::builder()
        .name("db")
        .config(BulkheadConfig {
            max_concurrent: 1,
            max_waiting: 2,
            max_wait: Duration::from_secs(60),
        })
        .bus(bus)
        .build()
        .unwrap();
    let _holder = b.acquire().await.unwrap();
    let waiters: Vec<_> = (0..2)
        .map(|_| {
            let b = b.clone();
            tokio::spawn(async move { b.acquire().await.map(drop) })
        })
        .collect();
    until(|| b.status().waiting == 2).await;
    let t0 = Instant::now();
    let err = b.acquire().await.unwrap_err();
    assert_eq!(t0.elapsed(), Duration::ZERO);
    assert!(err.is(ErrorCode::BULKHEAD_FULL));
    assert_eq!(err.context_value("bulkhead"), Some("db"));
    let s = b.status();
    assert_eq!(
        (s.in_flight, s.waiting, s.rejected, s.timed_out),
        (1, 2, 1, 0)
    );
    let ev = sub.try_recv().unwrap();
    let rejected = ev.downcast_ref::<BulkheadRejected>().unwrap();
    assert_eq!(rejected.reason, RejectReason::Full);
    assert_eq!((rejected.in_flight, rejected.waiting), (1, 2));
    for w in waiters {
        w.abort();
    }
}

#[tokio::test(start_paused = true)]
async fn waiting_longer_than_max_wait_times_out_and_leaves_the_line() {
    let b = bulkhead(1, 5, 250);
    let holder = b.acquire().await.unwrap();
    let t0 = Instant::now();
    let err = b.acquire().await.unwrap_err();
    assert_eq!(t0.elapsed(), Duration::from_millis(250));
    assert!(err.is(ErrorCode::BULKHEAD_WAIT_TIMEOUT));
    assert_eq!(err.context_value("max_wait_ms"), Some("250"));
    let s = b.status();
    assert_eq!((s.waiting, s.rejected, s.timed_out), (0, 1, 1));
    drop(holder);
    assert!(b.try_acquire().is_ok());
}

#[tokio::test(start_paused = true)]
async fn no_waiting_line_means_full_is_refused_immediately() {
    let b = bulkhead(2, 0, 1000);
    let _a = b.acquire().await.unwrap();
    let _b = b.acquire().await.unwrap();
    assert!(b.acquire().await.unwrap_err().is(ErrorCode::BULKHEAD_FULL));
    assert!(b.try_acquire().unwrap_err().is(ErrorCode::BULKHEAD_FULL));
}

#[tokio::test(start_paused = true)]
async fn cancelled_waiters_leave_the_line_and_never_leak_a_slot() {
    let b = bulkhead(1, 10, 60_000);
    let holder = b.acquire().await.unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..3 {
        let (b2, order) = (b.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            let _p = b2.acquire().await.unwrap();
            order.lock().push(i);
        }));
        until(|| b.status().waiting == i + 1).await;
    }
    // The middle waiter gives up.
    tasks.remove(1).abort();
    until(|| b.status().waiting == 2).await;
    drop(holder);
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(*order.lock(), vec![0, 2]);
    let s = b.status();
    assert_eq!((s.in_flight, s.waiting), (0, 0));
    assert!(b.try_acquire().is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_waiter_dropped_after_being_handed_the_slot_gives_it_back() {
    let b = bulkhead(1, 10, 60_000);
    let holder = b.acquire().await.unwrap();
    let mut waiter = Box::pin(b.acquire());
    assert!(futures::poll!(waiter.as_mut()).is_pending());
    assert_eq!(b.status().waiting, 1);
    // The slot is handed to the waiter, which is dropped before it ever sees it.
    drop(holder);
    drop(waiter);
    let s = b.status();
    assert_eq!((s.in_flight, s.waiting), (0, 0));
    let p = b.try_acquire().unwrap();
    assert!(b.try_acquire().is_err());
    drop(p);
}

#[tokio::test(start_paused = true)]
async fn limits_change_at_run_time() {
    let bus = TelemetryBus::new();
    let mut sub = bus.subscribe_prefix("foundation.bulkhead.limits", 8);
    let b = Bulkhead::builder()
        .config(BulkheadConfig {
            max_concurrent: 2,
            max_waiting: 10,
            max_wait: Duration::from_secs(60),
        })
        .bus(bus)
        .build()
        .unwrap();
    let p1 = b.acquire().await.unwrap();
    let p2 = b.acquire().await.unwrap();
    let shrink = BulkheadConfig {
        max_concurrent: 1,
        max_waiting: 10,
        max_wait: Duration::from_secs(60),
    };
    b.set_limits(shrink.clone()).unwrap();
    assert_eq!(b.status().max_concurrent, 1);
    assert_eq!(b.status().in_flight, 2);
    drop(p1);
    // Still one in flight: the lowered limit is reached, nothing is free.
    assert_eq!(b.status().in_flight, 1);
    assert!(b.try_acquire().is_err());
    drop(p2);
    let p3 = b.try_acquire().unwrap();
    assert!(b.try_acquire().is_err());

    // Growing admits waiters at once.
    let waiter = {
        let b = b.clone();
        tokio::spawn(async move { b.acquire().await.map(drop) })
    };
    until(|| b.status().waiting == 1).await;
    b.set_limits(BulkheadConfig {
        max_concurrent: 3,
        ..shrink
    })
    .unwrap();
    waiter.await.unwrap().unwrap();
    let q1 = b.try_acquire().unwrap();
    let q2 = b.try_acquire().unwrap();
    assert!(b.try_acquire().is_err());
    drop((p3, q1, q2));
    assert_eq!(b.status().in_flight, 0);
    let _three: Vec<_> = (0..3).map(|_| b.try_acquire().unwrap()).collect();

    let events = sub.drain();
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[1]
            .downcast_ref::<BulkheadLimitsChanged>()
            .unwrap()
            .max_concurrent,
        3
    );
}

#[tokio::test(start_paused = true)]
async fn shrinking_then_growing_before_calls_finish_keeps_the_count_exact() {
    let b = bulkhead(4, 0, 1000);
    let held: Vec<_> = (0..4).map(|_| b.try_acquire().unwrap()).collect();
    let mut cfg = BulkheadConfig {
        max_concurrent: 1,
        max_waiting: 0,
        max_wait: Duration::from_secs(1),
    };
    b.set_limits(cfg.clone()).unwrap();
    cfg.max_concurrent = 3;
    b.set_limits(cfg).unwrap();
    drop(held);
    let again: Vec<_> = std::iter::from_fn(|| b.try_acquire().ok())
        .take(10)
        .collect();
    assert_eq!(again.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn run_holds_a_slot_for_the_duration_of_the_call() {
    let b = bulkhead(1, 0, 1000);
    let b2 = b.clone();
    let v = b
        .run(async move {
            assert!(b2.try_acquire().is_err());
            Ok::<_, Error>(7)
        })
        .await
        .unwrap();
    assert_eq!(v, 7);
    assert!(b.try_acquire().is_ok());
}

#[test]
fn bad_configs_are_refused_naming_the_field() {
    let field = |c: BulkheadConfig| -> Vec<String> {
        let err = Bulkhead::new(c).unwrap_err();
        assert!(err.is(ErrorCode::INVALID_CONFIG));
        err.context_values("field").map(str::to_string).collect()
    };
    let ok = BulkheadConfig::default();
    assert_eq!(
        field(BulkheadConfig {
            max_concurrent: 0,
            ..ok.clone()
        }),
        vec!["bulkhead.max_concurrent"]
    );
    assert_eq!(
        field(BulkheadConfig {
            max_concurrent: usize::MAX,
            ..ok.clone()
        }),
        vec!["bulkhead.max_concurrent"]
    );
    assert_eq!(
        field(BulkheadConfig {
            max_waiting: usize::MAX,
            ..ok.clone()
        }),
        vec!["bulkhead.max_waiting"]
    );
    assert_eq!(
        field(BulkheadConfig {
            max_wait: Duration::ZERO,
            ..ok.clone()
        }),
        vec!["bulkhead.max_wait_ms"]
    );
    let err = Bulkhead::builder().name("").build().unwrap_err();
    assert_eq!(err.context_value("field"), Some("bulkhead.name"));
    // set_limits validates too and leaves the limits alone.
    let b = Bulkhead::new(ok.clone()).unwrap();
    assert!(
        b.set_limits(BulkheadConfig {
            max_concurrent: 0,
            ..ok
        })
        .is_err()
    );
    assert_eq!(b.status().max_concurrent, 32);
}

#[test]
fn config_reads_from_toml_and_refuses_unknown_fields() {
    let c: BulkheadConfig =
        toml::from_str("max_concurrent = 8\nmax_waiting = 0\nmax_wait_ms = 1500").unwrap();
    assert_eq!(
        c,
        BulkheadConfig {
            max_concurrent: 8,
            max_waiting: 0,
            max_wait: Duration::from_millis(1500)
        }
    );
    let err = toml::from_str::<BulkheadConfig>("max_concurrency = 8").unwrap_err();
    assert!(err.to_string().contains("max_concurrency"));
    let err = toml::from_str::<BulkheadConfig>("max_concurrent = -1").unwrap_err();
    assert!(err.to_string().contains("max_concurrent"), "{err}");
}

mod model {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        TryAcquire,
        Release(usize),
        SetLimit(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => Just(Op::TryAcquire),
            2 => any::<usize>().prop_map(Op::Release),
            1 => (1usize..8).prop_map(Op::SetLimit),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Against a counter model: a slot is free exactly when fewer calls hold one than
        /// the current limit, however the limit moved while calls were in flight.
        #[test]
        fn try_acquire_succeeds_exactly_when_below_the_current_limit(
            start in 1usize..8,
            ops in proptest::collection::vec(op(), 1..60),
        ) {
            let b = bulkhead(start, 0, 1000);
            let mut limit = start;
            let mut held = Vec::new();
            for op in ops {
                match op {
                    Op::TryAcquire => {
                        let got = b.try_acquire();
                        prop_assert_eq!(got.is_ok(), held.len() < limit);
                        if let Ok(p) = got {
                            held.push(p);
                        }
                    }
                    Op::Release(i) => {
                        if !held.is_empty() {
                            held.swap_remove(i % held.len());
                        }
                    }
                    Op::SetLimit(n) => {
                        b.set_limits(BulkheadConfig {
                            max_concurrent: n,
                            max_waiting: 0,
                            max_wait: Duration::from_secs(1),
                        })
                        .unwrap();
                        limit = n;
                    }
                }
                prop_assert_eq!(b.status().in_flight, held.len());
            }
        }
    }
}
