//! Task supervisor behaviour: ownership, panics, shutdown, children, bounded maps.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use foundation_core::{ErrorCode, TelemetryBus};
use foundation_runtime::task::{
    TaskPanicked, TaskSupervisor, TaskSupervisorStopped, map_ordered, map_unordered,
};
use futures::{StreamExt, stream};

/// Sets its flag when dropped: proves a task's state was dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn spawned_task_output_is_joined() {
    let tasks = TaskSupervisor::new("t").unwrap();
    let handle = tasks.spawn("add", async { 40 + 2 });
    assert_eq!(handle.name(), "add");
    assert_eq!(handle.await.unwrap(), 42);
    assert_eq!(tasks.live(), 0);
}

#[tokio::test(start_paused = true)]
async fn panic_is_an_error_and_an_event_not_a_panic() {
    let bus = TelemetryBus::new();
    let mut events = bus.subscribe(16);
    let tasks = TaskSupervisor::with_bus("t", bus).unwrap();
    let handle = tasks.spawn("boom", async {
        panic!("kaboom");
    });
    let err = handle.await.unwrap_err();
    assert!(err.is(ErrorCode::APPLICATION));
    assert!(err.message().contains("kaboom"));
    assert_eq!(err.context_value("task"), Some("boom"));
    let event = events.try_recv().expect("panic event");
    let panicked = event.downcast_ref::<TaskPanicked>().unwrap();
    assert_eq!(panicked.task, "boom");
    assert_eq!(tasks.live(), 0);
}

#[tokio::test(start_paused = true)]
async fn aborted_task_yields_shutdown_error() {
    let tasks = TaskSupervisor::new("t").unwrap();
    let handle = tasks.spawn("forever", std::future::pending::<()>());
    handle.abort();
    assert!(handle.await.unwrap_err().is(ErrorCode::SHUTDOWN));
    tokio::task::yield_now().await;
    assert_eq!(tasks.live(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn live_count_returns_to_zero_after_100_000_tasks() {
    let tasks = TaskSupervisor::new("many").unwrap();
    let mut handles = Vec::with_capacity(100_000);
    for i in 0..100_000u64 {
        handles.push(tasks.spawn("n", async move { i }));
    }
    let mut sum = 0;
    for handle in handles {
        sum += handle.await.unwrap();
    }
    assert_eq!(sum, (0..100_000u64).sum::<u64>());
    assert_eq!(tasks.live(), 0);
    let report = tasks.shutdown(Duration::from_secs(5)).await;
    assert!(report.aborted.is_empty());
    assert_eq!(tasks.live(), 0);
}

#[tokio::test(start_paused = true)]
async fn shutdown_aborts_overrunning_tasks_and_awaits_them() {
    let bus = TelemetryBus::new();
    let mut events = bus.subscribe(16);
    let tasks = TaskSupervisor::with_bus("t", bus).unwrap();
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = DropFlag(dropped.clone());
    let _stuck = tasks.spawn("stuck", async move {
        let _flag = flag;
        std::future::pending::<()>().await;
    });
    let _quick = tasks.spawn("quick", tokio::time::sleep(Duration::from_millis(10)));
    let report = tasks.shutdown(Duration::from_secs(1)).await;
    assert!(
        dropped.load(Ordering::SeqCst),
        "state dropped by the time shutdown returns"
    );
    assert_eq!(report.completed, 1);
    assert_eq!(report.aborted, vec!["stuck".to_owned()]);
    assert_eq!(tasks.live(), 0);
    let event = events.try_recv().expect("shutdown event");
    assert_eq!(
        event
            .downcast_ref::<TaskSupervisorStopped>()
            .unwrap()
            .aborted,
        vec!["stuck".to_owned()]
    );
}

#[tokio::test(start_paused = true)]
async fn spawn_after_shutdown_is_refused() {
    let tasks = TaskSupervisor::new("t").unwrap();
    tasks.shutdown(Duration::from_millis(1)).await;
    assert!(tasks.is_closed());
    let err = tasks.spawn("late", async {}).await.unwrap_err();
    assert!(err.is(ErrorCode::SHUTDOWN));
    assert_eq!(tasks.live(), 0);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_owner_aborts_its_tasks() {
    let tasks = TaskSupervisor::new("t").unwrap();
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = DropFlag(dropped.clone());
    let handle = tasks.spawn("stuck", async move {
        let _flag = flag;
        std::future::pending::<()>().await;
    });
    tokio::task::yield_now().await;
    drop(tasks);
    assert!(handle.await.unwrap_err().is(ErrorCode::SHUTDOWN));
    assert!(dropped.load(Ordering::SeqCst));
}

#[tokio::test(start_paused = true)]
async fn children_stop_with_their_parent() {
    let parent = TaskSupervisor::new("parent").unwrap();
    let child = parent.child("child").unwrap();
    assert_eq!(child.name(), "parent/child");
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = DropFlag(dropped.clone());
    let _h = child.spawn("stuck", async move {
        let _flag = flag;
        std::future::pending::<()>().await;
    });
    let report = parent.shutdown(Duration::from_millis(100)).await;
    assert_eq!(report.aborted, vec!["stuck".to_owned()]);
    assert!(dropped.load(Ordering::SeqCst));
    assert!(child.is_closed());
    assert_eq!(child.live(), 0);
}

#[tokio::test(start_paused = true)]
async fn empty_names_are_refused() {
    let err = TaskSupervisor::new("").unwrap_err();
    assert!(err.is(ErrorCode::INVALID_INPUT));
    assert_eq!(err.context_value("field"), Some("name"));
    let parent = TaskSupervisor::new("p").unwrap();
    assert_eq!(
        parent.child("").unwrap_err().context_value("field"),
        Some("name")
    );
}

#[tokio::test(start_paused = true)]
async fn map_ordered_keeps_order_and_reports_timeouts_and_panics_per_item() {
    let results: Vec<_> = map_ordered(
        stream::iter(0..6u64),
        2,
        Duration::from_millis(100),
        |i| async move {
            match i {
                2 => {
                    tokio::time::sleep(Duration::from_secs(10)).await;
                    Ok(i)
                }
                4 => panic!("bad item"),
                _ => {
                    tokio::time::sleep(Duration::from_millis(10 * (6 - i))).await;
                    Ok(i * 10)
                }
            }
        },
    )
    .unwrap()
    .collect()
    .await;
    assert_eq!(results.len(), 6);
    for (i, r) in results.iter().enumerate() {
        match i {
            2 => assert!(r.as_ref().unwrap_err().is(ErrorCode::TIMEOUT)),
            4 => assert!(r.as_ref().unwrap_err().is(ErrorCode::APPLICATION)),
            _ => assert_eq!(*r.as_ref().unwrap(), i as u64 * 10),
        }
    }
}

async fn max_in_flight(ordered: bool, limit: usize) -> usize {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let f = {
        let (in_flight, max) = (in_flight.clone(), max.clone());
        move |i: u64| {
            let (in_flight, max) = (in_flight.clone(), max.clone());
            async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                max.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(1 + i % 7)).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                Ok(i)
            }
        }
    };
    let items = stream::iter(0..200u64);
    let timeout = Duration::from_secs(1);
    let n = if ordered {
        map_ordered(items, limit, timeout, f).unwrap().count().await
    } else {
        map_unordered(items, limit, timeout, f)
            .unwrap()
            .count()
            .await
    };
    assert_eq!(n, 200);
    max.load(Ordering::SeqCst)
}

#[tokio::test(start_paused = true)]
async fn maps_never_exceed_the_limit() {
    for limit in [1, 3, 16] {
        assert_eq!(max_in_flight(true, limit).await, limit);
        assert_eq!(max_in_flight(false, limit).await, limit);
    }
}

#[tokio::test(start_paused = true)]
async fn map_unordered_yields_fast_items_first() {
    let results: Vec<u64> = map_unordered(
        stream::iter([30u64, 10, 20]),
        3,
        Duration::from_secs(1),
        |ms| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(ms)
        },
    )
    .unwrap()
    .map(Result::unwrap)
    .collect()
    .await;
    assert_eq!(results, vec![10, 20, 30]);
}

#[tokio::test(start_paused = true)]
async fn map_bad_input_names_the_field() {
    let ok = |i: u64| async move { Ok(i) };
    let err = map_ordered(stream::iter(0..1u64), 0, Duration::from_secs(1), ok)
        .err()
        .unwrap();
    assert_eq!(err.context_value("field"), Some("limit"));
    let err = map_unordered(stream::iter(0..1u64), 1, Duration::ZERO, ok)
        .err()
        .unwrap();
    assert_eq!(err.context_value("field"), Some("per_item_timeout"));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Whatever the item durations and limit, `map_ordered` yields every item in input order.
    #[test]
    fn map_ordered_preserves_input_order(
        delays in proptest::collection::vec(0u64..50, 0..40),
        limit in 1usize..8,
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let out: Vec<u64> = runtime.block_on(async {
            map_ordered(stream::iter(delays.clone()), limit, Duration::from_secs(1), |ms| async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(ms)
            })
            .unwrap()
            .map(Result::unwrap)
            .collect()
            .await
        });
        proptest::prop_assert_eq!(out, delays);
    }
}
