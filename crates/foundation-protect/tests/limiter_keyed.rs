//! Keyed limiters: one quota per key, and memory bounded by `max_keys` under a million
//! distinct keys.

use std::time::Duration;

use foundation_core::{ErrorCode, ManualClock, TelemetryBus};
use foundation_protect::limiter::{Algorithm, KeyedRateLimiter, Quota};

fn keyed<K>(
    algorithm: Algorithm,
    quota: Quota,
    max_keys: usize,
) -> (KeyedRateLimiter<K>, ManualClock) {
    let time = ManualClock::new();
    let l = KeyedRateLimiter::builder()
        .name("per-user")
        .algorithm(algorithm)
        .quota(quota)
        .max_keys(max_keys)
        .clock(time.clock())
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    (l, time)
}

#[test]
fn each_key_has_its_own_quota() {
    for algorithm in Algorithm::ALL {
        let (l, time) = keyed::<String>(algorithm, Quota::new(1, Duration::from_millis(500)), 100);
        l.check("alice").unwrap();
        let err = l.check("alice").unwrap_err();
        assert!(err.is(ErrorCode::RATE_LIMITED), "{algorithm}");
        assert_eq!(err.context_value("key"), Some("alice"));
        assert_eq!(err.context_value("limiter"), Some("per-user"));
        l.check("bob").unwrap();
        time.advance(err.retry_after().unwrap());
        l.check("alice").unwrap();
        assert_eq!(l.len(), 2);
    }
}

#[test]
fn idle_keys_are_swept_and_busy_keys_keep_their_state() {
    let (l, time) = keyed(Algorithm::Gcra, Quota::per_second(10).with_burst(2), 100);
    l.check_n("busy", 2).unwrap();
    l.check("idle").unwrap();
    time.advance(Duration::from_millis(100));
    // "idle" has refilled; "busy" still owes 100 ms.
    assert_eq!(l.sweep(), 1);
    assert_eq!(l.len(), 1);
    assert!(l.check_n("busy", 2).is_err());
}

#[test]
fn a_full_table_of_busy_keys_refuses_new_keys_until_one_is_idle() {
    let (l, time) = keyed(Algorithm::Gcra, Quota::per_second(10).with_burst(1), 1);
    l.check("a").unwrap();
    let err = l.check("b").unwrap_err();
    assert!(err.is(ErrorCode::RATE_LIMITED));
    assert_eq!(err.context_value("reason"), Some("max_keys"));
    assert_eq!(err.retry_after(), Some(Duration::from_millis(100)));
    time.advance(Duration::from_millis(100));
    l.check("b").unwrap();
    assert_eq!(l.len(), 1);
}

/// A million distinct keys from two threads, time moving 1 µs per request: every request
/// is admitted (each key is new) and the table never holds more than `max_keys` keys,
/// because keys idle for a millisecond or two (one emission interval, or the window's end)
/// are evicted as new ones arrive. GCRA takes the million; the other algorithms share the
/// eviction code and take 40 000 each, to keep the suite fast in debug builds.
#[test]
fn a_million_distinct_keys_stay_within_max_keys() {
    for algorithm in Algorithm::ALL {
        let quota = Quota::new(1, Duration::from_millis(1));
        let (l, time) = keyed::<u64>(algorithm, quota, 4_096);
        let keys: u64 = if algorithm == Algorithm::Gcra {
            1_000_000
        } else {
            40_000
        };
        let peak = std::thread::scope(|s| {
            let workers: Vec<_> = (0..2u64)
                .map(|t| {
                    let (l, time) = (&l, &time);
                    s.spawn(move || {
                        let mut peak = 0;
                        for i in (t..keys).step_by(2) {
                            time.advance(Duration::from_micros(1));
                            l.check(&i).unwrap();
                            if i % 4_096 < 2 {
                                peak = peak.max(l.len());
                            }
                        }
                        peak
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().unwrap())
                .max()
                .unwrap()
        });
        assert!(peak <= l.max_keys(), "{algorithm}: {peak}");
        assert!(peak > 0);
        assert!(l.len() <= l.max_keys());
        assert_eq!(l.status().admitted, keys);
    }
}

/// After a quota change that makes keys idle sooner, a full table frees them for new keys
/// at once instead of waiting until they would have been idle under the old quota.
#[test]
fn a_faster_quota_lets_new_keys_replace_keys_that_became_idle() {
    for algorithm in [
        Algorithm::TokenBucket,
        Algorithm::FixedWindow,
        Algorithm::SlidingWindow,
    ] {
        let (l, time) = keyed(algorithm, Quota::new(1, Duration::from_secs(10)), 1);
        l.check("a").unwrap();
        let err = l.check("b").unwrap_err();
        assert_eq!(err.context_value("reason"), Some("max_keys"));
        l.set_quota(Quota::new(1, Duration::from_millis(1)))
            .unwrap();
        time.advance(Duration::from_millis(5));
        l.check("b").unwrap_or_else(|e| panic!("{algorithm}: {e}"));
        assert_eq!(l.len(), 1);
    }
}

/// As for the direct limiter: a keyed leaky-bucket `acquire` given up while it waits for
/// its slot hands the slot back when nobody queued behind it on that key.
#[tokio::test(start_paused = true)]
async fn an_abandoned_keyed_leaky_bucket_wait_gives_its_slot_back() {
    let l = KeyedRateLimiter::<String>::builder()
        .algorithm(Algorithm::LeakyBucket)
        .quota(Quota::per_second(10).with_burst(5))
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    l.acquire_n("k", 1).await.unwrap(); // the queue drains at 100 ms
    for _ in 0..3 {
        let gave_up = tokio::time::timeout(Duration::from_millis(1), l.acquire_n("k", 1)).await;
        assert!(gave_up.is_err(), "its slot was 100 ms away");
    }
    let t0 = tokio::time::Instant::now();
    l.acquire_n("k", 1).await.unwrap();
    assert_eq!(
        t0.elapsed(),
        Duration::from_millis(97),
        "right after the first"
    );
}
