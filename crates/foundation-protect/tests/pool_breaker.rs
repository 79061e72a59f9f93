//! The pool's backend breaker: once it trips, checkouts that need a connection fail fast
//! with `POOL_BACKEND_DOWN` carrying the last real connection error.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::Duration;

use foundation_core::{Error, ErrorCode, TelemetryBus};
use foundation_protect::breaker::{BreakerConfig, BreakerState, CircuitBreaker, WindowConfig};
use foundation_protect::pool::{Manager, Pool, PoolConfig};

#[derive(Clone, Default)]
struct Flaky(Arc<AtomicBool>);

impl Manager for Flaky {
    type Connection = u64;
    async fn create(&self) -> Result<u64, Error> {
        if self.0.load(SeqCst) {
            return Err(Error::new(
                ErrorCode::NETWORK,
                "connection refused by db:5432",
            ));
        }
        Ok(1)
    }
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_fails_checkouts_fast_with_the_last_connection_error() {
    let bus = TelemetryBus::new();
    let breaker = CircuitBreaker::builder("db")
        .bus(bus.clone())
        .config(BreakerConfig {
            window: WindowConfig::Count { size: 10 },
            minimum_calls: 2,
            failure_rate_threshold: 50.0,
            open_duration: Duration::from_secs(30),
            half_open_probes: 1,
            recovery_ramp: None,
            ..BreakerConfig::default()
        })
        .build()
        .unwrap();
    let down = Flaky::default();
    down.0.store(true, SeqCst);
    let pool = Pool::builder(down.clone())
        .name("db")
        .bus(bus)
        .breaker(breaker.clone())
        .config(PoolConfig {
            max_size: 2,
            checkout_timeout: Duration::from_secs(5),
            ..PoolConfig::default()
        })
        .build()
        .unwrap();

    for _ in 0..2 {
        let err = pool.get().await.unwrap_err();
        assert!(err.is(ErrorCode::POOL_CONNECT_FAILED), "{err}");
    }
    assert_eq!(breaker.state(), BreakerState::Open);

    let started = tokio::time::Instant::now();
    let err = pool.get().await.unwrap_err();
    assert_eq!(started.elapsed(), Duration::ZERO, "failed fast, no timeout");
    assert!(err.is(ErrorCode::POOL_BACKEND_DOWN), "{err}");
    assert!(
        err.message().contains("connection refused by db:5432"),
        "{err}"
    );
    assert!(
        err.context_value("last_error")
            .is_some_and(|e| e.contains("connection refused by db:5432"))
    );
    assert_eq!(err.context_value("pool"), Some("db"));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
    assert!(err.is_retryable());
    let s = pool.status();
    assert_eq!((s.connect_failures, s.backend_down, s.size), (2, 1, 0));

    // The backend recovers; after the open duration the probe create closes the breaker.
    down.0.store(false, SeqCst);
    tokio::time::sleep(Duration::from_secs(30)).await;
    let conn = pool.get().await.unwrap();
    assert_eq!(*conn, 1);
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn idle_connections_are_still_served_while_the_breaker_is_open() {
    let breaker = CircuitBreaker::builder("db")
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    let pool = Pool::builder(Flaky::default())
        .bus(TelemetryBus::new())
        .breaker(breaker.clone())
        .build()
        .unwrap();
    drop(pool.get().await.unwrap());
    breaker.force_open();
    assert_eq!(*pool.get().await.unwrap(), 1, "the idle connection");
    let _held = pool.get().await.unwrap();
    let err = pool.get().await.unwrap_err();
    assert!(err.is(ErrorCode::POOL_BACKEND_DOWN), "{err}");
    assert!(err.message().contains("none recorded"), "{err}");
}

#[derive(Clone, Default)]
struct BlackHole;

impl Manager for BlackHole {
    type Connection = u64;
    async fn create(&self) -> Result<u64, Error> {
        std::future::pending().await
    }
}

/// A backend that never answers (connects hang) must trip the breaker like one that
/// refuses: creates abandoned at the checkout timeout count as timeouts.
#[tokio::test(start_paused = true)]
async fn creates_that_never_answer_trip_the_breaker() {
    let breaker = CircuitBreaker::builder("db")
        .bus(TelemetryBus::new())
        .config(BreakerConfig {
            window: WindowConfig::Count { size: 10 },
            minimum_calls: 2,
            failure_rate_threshold: 50.0,
            open_duration: Duration::from_secs(30),
            ..BreakerConfig::default()
        })
        .build()
        .unwrap();
    let pool = Pool::builder(BlackHole)
        .name("db")
        .bus(TelemetryBus::new())
        .breaker(breaker.clone())
        .config(PoolConfig {
            max_size: 2,
            checkout_timeout: Duration::from_secs(5),
            ..PoolConfig::default()
        })
        .build()
        .unwrap();
    for _ in 0..2 {
        let err = pool.get().await.unwrap_err();
        assert!(err.is(ErrorCode::POOL_TIMEOUT), "{err}");
    }
    assert_eq!(breaker.state(), BreakerState::Open);
    let started = tokio::time::Instant::now();
    let err = pool.get().await.unwrap_err();
    assert_eq!(started.elapsed(), Duration::ZERO, "failed fast, no timeout");
    assert!(err.is(ErrorCode::POOL_BACKEND_DOWN), "{err}");
    assert!(err.message().contains("did not answer"), "{err}");
}
