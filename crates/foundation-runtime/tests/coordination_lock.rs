//! LocalLock: exclusion, FIFO, timeout, release on holder death, bad input.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use foundation_core::ErrorCode;
use foundation_runtime::coordination::{LocalLock, Lock};
use foundation_runtime::task::TaskSupervisor;
use parking_lot::Mutex;

const SEC: Duration = Duration::from_secs(1);

#[tokio::test(start_paused = true)]
async fn second_acquirer_times_out_with_a_clear_error() {
    let locks = LocalLock::new();
    let _held = locks.acquire("job", "a", SEC).await.unwrap();
    let err = locks.acquire("job", "b", SEC).await.unwrap_err();
    assert!(err.is(ErrorCode::TIMEOUT));
    assert_eq!(err.context_value("lock"), Some("job"));
    assert_eq!(err.context_value("held_by"), Some("a"));
    assert_eq!(locks.holder("job").as_deref(), Some("a"));
}

#[tokio::test(start_paused = true)]
async fn different_names_do_not_exclude_each_other() {
    let locks = LocalLock::new();
    let _a = locks.acquire("x", "a", SEC).await.unwrap();
    let _b = locks.acquire("y", "b", SEC).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn lock_is_released_when_its_holder_panics() {
    let locks = LocalLock::new();
    let tasks = TaskSupervisor::new("t").unwrap();
    let (held_tx, held_rx) = tokio::sync::oneshot::channel();
    let holder = {
        let locks = locks.clone();
        tasks.spawn("holder", async move {
            let _guard = locks.acquire("job", "doomed", SEC).await.unwrap();
            held_tx.send(()).unwrap();
            tokio::time::sleep(Duration::from_millis(10)).await;
            panic!("holder died");
        })
    };
    held_rx.await.unwrap();
    assert_eq!(locks.holder("job").as_deref(), Some("doomed"));
    let guard = locks
        .acquire("job", "survivor", Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(guard.holder(), "survivor");
    assert!(holder.await.unwrap_err().is(ErrorCode::APPLICATION));
    drop(guard);
    assert!(locks.is_empty(), "no bookkeeping left behind");
}

#[tokio::test(start_paused = true)]
async fn waiters_are_served_in_arrival_order() {
    let locks = LocalLock::new();
    let tasks = TaskSupervisor::new("t").unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let first = locks.acquire("job", "first", SEC).await.unwrap();
    let mut handles = Vec::new();
    for i in 0..5 {
        let (locks, order) = (locks.clone(), order.clone());
        handles.push(tasks.spawn("waiter", async move {
            let _g = locks
                .acquire("job", &format!("w{i}"), SEC * 10)
                .await
                .unwrap();
            order.lock().push(i);
            tokio::time::sleep(Duration::from_millis(1)).await;
        }));
        // Let waiter i enqueue before waiter i + 1.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    drop(first);
    for h in handles {
        h.await.unwrap();
    }
    assert_eq!(*order.lock(), vec![0, 1, 2, 3, 4]);
    assert!(locks.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn never_two_holders_at_once() {
    let locks = LocalLock::new();
    let tasks = TaskSupervisor::new("t").unwrap();
    let inside = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for i in 0..64 {
        let (locks, inside) = (locks.clone(), inside.clone());
        handles.push(tasks.spawn("contender", async move {
            for _ in 0..20 {
                let _g = locks
                    .acquire("shared", &format!("c{i}"), Duration::from_secs(60))
                    .await
                    .unwrap();
                assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                tokio::task::yield_now().await;
                inside.fetch_sub(1, Ordering::SeqCst);
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    assert!(locks.is_empty());
}

#[tokio::test(start_paused = true)]
async fn generic_over_the_trait() {
    async fn with_lock<L: Lock>(lock: &L) -> bool {
        lock.acquire("n", "h", SEC).await.is_ok()
    }
    assert!(with_lock(&LocalLock::new()).await);
}

#[tokio::test(start_paused = true)]
async fn bad_input_names_the_field() {
    let locks = LocalLock::new();
    for (name, holder, timeout, field) in [
        ("", "h", SEC, "name"),
        ("n", "", SEC, "holder"),
        ("n", "h", Duration::ZERO, "timeout"),
    ] {
        let err = locks.acquire(name, holder, timeout).await.unwrap_err();
        assert!(err.is(ErrorCode::INVALID_INPUT));
        assert_eq!(err.context_value("field"), Some(field));
    }
    assert!(locks.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_waiter_leaves_nothing_behind() {
    let locks = LocalLock::new();
    let held = locks.acquire("job", "a", SEC).await.unwrap();
    let gave_up =
        tokio::time::timeout(Duration::from_millis(5), locks.acquire("job", "b", SEC)).await;
    assert!(gave_up.is_err());
    drop(held);
    assert!(locks.is_empty());
    let _again = locks.acquire("job", "c", SEC).await.unwrap();
}
