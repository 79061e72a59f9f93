//! The Redis backend: the GCRA script against the real server, two OS processes sharing one
//! quota, and each policy when Redis is unreachable.
//!
//! Tests that need Redis read `FOUNDATION_TEST_REDIS_URL` and skip (printing why) when it
//! is unset. Every test uses its own key prefix. The two-process test runs this test binary
//! twice more as helper processes (`redis_worker_process`, ignored in normal runs).
#![cfg(feature = "redis")]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use foundation_core::{ErrorCode, TelemetryBus};
use foundation_protect::limiter::{
    LimiterBackendUnavailable, OnUnavailable, Quota, RedisBackendConfig, RedisRateLimiter,
};

const WORKER_PREFIX: &str = "FOUNDATION_LIMITER_WORKER_PREFIX";

fn redis_url() -> Option<String> {
    let url = std::env::var("FOUNDATION_TEST_REDIS_URL").ok();
    if url.is_none() {
        println!("skipping: FOUNDATION_TEST_REDIS_URL is not set");
    }
    url
}

fn unique_prefix(test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("foundation:test:{test}:{}:{nanos}:", std::process::id())
}

fn redis_limiter(url: &str, prefix: &str, quota: Quota, policy: OnUnavailable) -> RedisRateLimiter {
    RedisRateLimiter::builder()
        .name("shared")
        .redis(RedisBackendConfig {
            url: url.to_string(),
            key_prefix: prefix.to_string(),
            on_unavailable: policy,
            ..RedisBackendConfig::default()
        })
        .quota(quota)
        .bus(TelemetryBus::new())
        .build()
        .unwrap()
}

/// One permit per 20 minutes, burst 3: the script admits exactly the burst, denies with the
/// schedule's `retry_after`, keeps keys apart and refuses more than the burst.
#[tokio::test]
async fn script_admits_the_burst_and_reports_retry_after() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("script");
    let quota = Quota::new(3, Duration::from_secs(3_600));
    let l = redis_limiter(&url, &prefix, quota, OnUnavailable::FailClosed);
    for _ in 0..3 {
        l.check("alice").await.unwrap();
    }
    let err = l.check("alice").await.unwrap_err();
    assert!(err.is(ErrorCode::RATE_LIMITED), "{err}");
    assert_eq!(err.context_value("key"), Some("alice"));
    let retry = err.retry_after().unwrap();
    assert!(retry <= Duration::from_secs(1_200), "{retry:?}");
    assert!(retry > Duration::from_secs(1_190), "{retry:?}");
    l.check_n("bob", 3).await.unwrap();
    let err = l.check_n("carol", 4).await.unwrap_err();
    assert!(err.is(ErrorCode::RATE_LIMIT_EXCEEDS_CAPACITY));
    assert!(l.is_available());
    let status = l.status();
    assert_eq!((status.admitted, status.denied), (6, 1));

    // The key expires when the bucket would be full again (bounded Redis memory).
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let ttl: i64 = redis::cmd("PTTL")
        .arg(format!("{prefix}shared:alice"))
        .query_async(&mut con)
        .await
        .unwrap();
    assert!(ttl > 3_500_000 && ttl <= 3_600_001, "{ttl}");
}

/// `set_quota` keeps each key's schedule in Redis.
#[tokio::test]
async fn set_quota_keeps_the_keys_in_redis() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("set-quota");
    let l = redis_limiter(
        &url,
        &prefix,
        Quota::new(2, Duration::from_secs(3_600)),
        OnUnavailable::FailClosed,
    );
    l.check_n("k", 2).await.unwrap();
    l.set_quota(Quota::new(4, Duration::from_secs(7_200)))
        .unwrap();
    // Two 30-minute permits remain of the new burst of 4 (the schedule is 1 h ahead).
    l.check_n("k", 2).await.unwrap();
    assert!(l.check("k").await.is_err());
}

/// Two OS processes hammer the same key: together they are admitted exactly the burst,
/// since one permit per 24 min refills and the test takes seconds.
#[tokio::test]
async fn two_processes_share_one_quota() {
    let Some(_url) = redis_url() else { return };
    let prefix = unique_prefix("two-processes");
    let exe = std::env::current_exe().unwrap();
    let spawn = || {
        tokio::process::Command::new(&exe)
            .args([
                "redis_worker_process",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(WORKER_PREFIX, &prefix)
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = tokio::join!(a.wait_with_output(), b.wait_with_output());
    let admitted = |out: std::process::Output| -> u64 {
        assert!(out.status.success(), "worker failed: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        let after = text
            .split("ADMITTED=")
            .nth(1)
            .unwrap_or_else(|| panic!("no count in {text}"));
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().unwrap()
    };
    let (a, b) = (admitted(a.unwrap()), admitted(b.unwrap()));
    assert!(a + b <= 60, "{a} + {b} admitted over a quota of 60");
    assert_eq!(a + b, 60, "{a} + {b}");
}

/// The helper process of `two_processes_share_one_quota` (run by it, not on its own).
#[tokio::test]
#[ignore = "helper process for two_processes_share_one_quota"]
async fn redis_worker_process() {
    let (Some(url), Ok(prefix)) = (redis_url(), std::env::var(WORKER_PREFIX)) else {
        return;
    };
    let l = redis_limiter(
        &url,
        &prefix,
        Quota::new(60, Duration::from_secs(86_400)),
        OnUnavailable::FailClosed,
    );
    let mut admitted = 0;
    for _ in 0..300 {
        match l.check("hot-key").await {
            Ok(()) => admitted += 1,
            Err(e) => assert!(e.is(ErrorCode::RATE_LIMITED), "{e}"),
        }
    }
    println!("ADMITTED={admitted}");
}

const CLOSED_PORT: &str = "redis://127.0.0.1:1";

#[tokio::test]
async fn unreachable_redis_fail_open_admits() {
    let bus = TelemetryBus::new();
    let mut events = bus.subscribe_prefix("foundation.limiter.", 16);
    let l = RedisRateLimiter::builder()
        .name("open")
        .redis(RedisBackendConfig {
            url: CLOSED_PORT.into(),
            on_unavailable: OnUnavailable::FailOpen,
            ..RedisBackendConfig::default()
        })
        .quota(Quota::per_second(1))
        .bus(bus)
        .build()
        .unwrap();
    for _ in 0..5 {
        l.check("k").await.unwrap();
    }
    assert!(!l.is_available());
    let got = events.drain();
    assert_eq!(
        got.len(),
        1,
        "one event for the failed attempt, then the retry interval"
    );
    let ev = got[0].downcast_ref::<LimiterBackendUnavailable>().unwrap();
    assert_eq!((&*ev.limiter, ev.policy), ("open", OnUnavailable::FailOpen));
}

#[tokio::test]
async fn unreachable_redis_fail_closed_refuses_with_backend_unavailable() {
    let l = redis_limiter(
        CLOSED_PORT,
        "x:",
        Quota::per_second(100),
        OnUnavailable::FailClosed,
    );
    for _ in 0..3 {
        let err = l.check("k").await.unwrap_err();
        assert!(err.is(ErrorCode::LIMITER_BACKEND_UNAVAILABLE), "{err}");
        assert!(err.is_retryable());
        assert_eq!(err.context_value("limiter"), Some("shared"));
        assert!(err.retry_after().is_some());
    }
}

#[tokio::test]
async fn unreachable_redis_local_policy_applies_the_quota_in_process() {
    let l = redis_limiter(
        CLOSED_PORT,
        "x:",
        Quota::new(2, Duration::from_secs(60)),
        OnUnavailable::Local,
    );
    l.check("a").await.unwrap();
    l.check("a").await.unwrap();
    let err = l.check("a").await.unwrap_err();
    assert!(err.is(ErrorCode::RATE_LIMITED), "{err}");
    // 30 s minus the little wall-clock time the test has taken.
    let retry = err.retry_after().unwrap();
    assert!(
        retry <= Duration::from_secs(30) && retry > Duration::from_secs(29),
        "{retry:?}"
    );
    l.check_n("b", 2).await.unwrap();
}

/// A server that accepts connections and never answers: the check gives up after the
/// timeouts (paused time makes them pass at once) instead of hanging.
#[tokio::test(start_paused = true)]
async fn a_silent_server_times_out_instead_of_hanging() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}", silent.local_addr().unwrap());
    let l = redis_limiter(
        &url,
        "x:",
        Quota::per_second(100),
        OnUnavailable::FailClosed,
    );
    let err = l.check("k").await.unwrap_err();
    assert!(err.is(ErrorCode::LIMITER_BACKEND_UNAVAILABLE), "{err}");
    drop(silent);
}

#[test]
fn bad_redis_config_names_the_field() {
    let err = RedisRateLimiter::builder()
        .redis(RedisBackendConfig {
            url: "http://nope".into(),
            key_prefix: String::new(),
            response_timeout_ms: 0,
            ..RedisBackendConfig::default()
        })
        .build()
        .unwrap_err();
    let fields: Vec<_> = err.context_values("field").collect();
    assert_eq!(
        fields,
        ["redis.url", "redis.key_prefix", "redis.response_timeout_ms"]
    );
}
