//! `acquire`: fair (first come, first served), and never more admissions than the quota in
//! any window, however many tasks wait; `check` under many threads.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use foundation_core::{ErrorCode, ManualClock, TelemetryBus};
use foundation_protect::limiter::{Algorithm, Quota, RateLimiter};
use parking_lot::Mutex;
use tokio::time::Instant;

fn limiter(algorithm: Algorithm, quota: Quota) -> RateLimiter {
    RateLimiter::builder()
        .name("acquire")
        .algorithm(algorithm)
        .quota(quota)
        .bus(TelemetryBus::new())
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn waiters_are_served_in_arrival_order() {
    for algorithm in Algorithm::ALL {
        let l = limiter(algorithm, Quota::per_second(10).with_burst(1));
        l.acquire().await.unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..20 {
            let (l, order) = (l.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                l.acquire().await.unwrap();
                order.lock().push(i);
            }));
            // Let task i join the line before task i + 1 starts.
            tokio::task::yield_now().await;
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock(), (0..20).collect::<Vec<_>>(), "{algorithm}");
    }
}

#[tokio::test(start_paused = true)]
async fn acquire_waits_for_retry_after_and_refuses_only_impossible_requests() {
    let l = limiter(Algorithm::Gcra, Quota::per_second(10).with_burst(2));
    let t0 = Instant::now();
    for _ in 0..4 {
        l.acquire().await.unwrap();
    }
    assert_eq!(t0.elapsed(), Duration::from_millis(200));
    let err = l.acquire_n(3).await.unwrap_err();
    assert!(err.is(ErrorCode::RATE_LIMIT_EXCEEDS_CAPACITY));
}

#[tokio::test(start_paused = true)]
async fn leaky_bucket_acquire_shapes_to_the_steady_rate() {
    let l = limiter(Algorithm::LeakyBucket, Quota::per_second(10).with_burst(5));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let l = l.clone();
        tasks.push(tokio::spawn(async move {
            l.acquire().await.unwrap();
            t0.elapsed()
        }));
    }
    let mut at = Vec::new();
    for t in tasks {
        at.push(t.await.unwrap());
    }
    at.sort();
    let expected: Vec<_> = (0..10).map(|i| Duration::from_millis(100 * i)).collect();
    assert_eq!(at, expected);
}

/// A leaky-bucket `acquire` given up while it waits for its slot (dropped, e.g. by a
/// timeout) hands the slot back when nobody queued behind it, so abandoned waits don't
/// delay the callers that come after.
#[tokio::test(start_paused = true)]
async fn an_abandoned_leaky_bucket_wait_gives_its_slot_back() {
    let l = limiter(Algorithm::LeakyBucket, Quota::per_second(10).with_burst(5));
    l.acquire().await.unwrap(); // leaves at 0; the queue drains at 100 ms
    for _ in 0..3 {
        let gave_up = tokio::time::timeout(Duration::from_millis(1), l.acquire()).await;
        assert!(gave_up.is_err(), "its slot was 100 ms away");
    }
    let t0 = Instant::now();
    l.acquire().await.unwrap();
    assert_eq!(
        t0.elapsed(),
        Duration::from_millis(97),
        "right after the first"
    );
}

/// Most permits any interval of length `len` may see under a quota.
fn bound(algorithm: Algorithm, q: Quota, len: Duration) -> u64 {
    let per = q.period.as_nanos() as u64;
    let len = len.as_nanos() as u64;
    match algorithm {
        // Aligned windows: an interval of length L touches at most L/P + 1 windows.
        Algorithm::FixedWindow => u64::from(q.rate) * (len / per + 1),
        // The approximation admits at most `rate` in any aligned window as well.
        Algorithm::SlidingWindow => u64::from(q.rate) * (len / per + 1),
        // Buckets: the burst plus one permit per emission interval.
        _ => u64::from(q.burst) + len / (per / u64::from(q.rate)),
    }
}

/// 200 tasks each acquire permits in a loop on paused time; every admission's instant is
/// recorded, and for every window of one period (starting at each admission) the permits
/// admitted stay within the quota.
#[tokio::test(start_paused = true)]
async fn many_waiting_tasks_never_exceed_the_quota_in_any_window() {
    for algorithm in Algorithm::ALL {
        let quota = Quota::new(20, Duration::from_millis(100)).with_burst(5);
        let l = limiter(algorithm, quota);
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..200u32 {
            let (l, log) = (l.clone(), log.clone());
            tasks.push(tokio::spawn(async move {
                for _ in 0..3 {
                    let n = 1 + i % 2;
                    l.acquire_n(n).await.unwrap();
                    log.lock().push((Instant::now(), n));
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let mut log = log.lock().clone();
        log.sort_by_key(|(t, _)| *t);
        let total: u64 = log.iter().map(|(_, n)| u64::from(*n)).sum();
        assert_eq!(total, 900);
        for (i, (start, _)) in log.iter().enumerate() {
            let in_window: u64 = log[i..]
                .iter()
                .take_while(|(t, _)| *t < *start + quota.period)
                .map(|(_, n)| u64::from(*n))
                .sum();
            let max = bound(algorithm, quota, quota.period);
            assert!(in_window <= max, "{algorithm}: {in_window} > {max} at {i}");
        }
        assert_eq!(l.status().admitted, 900);
    }
}

/// Many OS threads race `check` on one limiter whose clock stands still: exactly the burst
/// is admitted.
#[test]
fn racing_threads_admit_exactly_the_burst() {
    for algorithm in Algorithm::ALL {
        let time = ManualClock::new();
        let l = RateLimiter::builder()
            .algorithm(algorithm)
            .quota(Quota::per_second(1_000).with_burst(1_000))
            .clock(time.clock())
            .bus(TelemetryBus::new())
            .build()
            .unwrap();
        let admitted = Arc::new(AtomicU64::new(0));
        std::thread::scope(|s| {
            for _ in 0..8 {
                let (l, admitted) = (l.clone(), admitted.clone());
                s.spawn(move || {
                    for _ in 0..1_000 {
                        if l.check().is_ok() {
                            admitted.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        let expected = if algorithm == Algorithm::LeakyBucket {
            1
        } else {
            1_000
        };
        assert_eq!(admitted.load(Ordering::Relaxed), expected, "{algorithm}");
        // The limiter's own counter (per-thread lines, then a shared one) is exact too.
        let status = l.status();
        assert_eq!(status.admitted, expected, "{algorithm}");
        assert_eq!(status.denied, 8_000 - expected, "{algorithm}");
    }
}

/// The same on a multi-thread tokio runtime with many tasks calling `check` while time
/// stands still: only the burst gets through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_tasks_on_a_multi_thread_runtime_take_only_the_burst() {
    let time = ManualClock::new();
    let l = RateLimiter::builder()
        .quota(Quota::per_second(50).with_burst(50))
        .clock(time.clock())
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    let admitted = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let (l, admitted) = (l.clone(), admitted.clone());
        tasks.spawn(async move {
            if l.check().is_ok() {
                admitted.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    assert_eq!(admitted.load(Ordering::Relaxed), 50);
}
