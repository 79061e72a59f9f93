//! Retry as a tower layer, alone and around the timeout layer.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use foundation_core::{Error, ErrorCode, TelemetryBus};
use foundation_protect::retry::{Backoff, Retry, RetryConfig, RetryLayer};
use foundation_protect::timeout::{Timeout, TimeoutConfig, TimeoutLayer};
use tokio::time::Instant;
use tower::{ServiceBuilder, ServiceExt, service_fn};

fn retry(max_attempts: u32) -> Retry {
    Retry::builder()
        .config(RetryConfig {
            max_attempts,
            backoff: Backoff::Constant {
                delay: Duration::from_millis(10),
            },
            ..RetryConfig::default()
        })
        .bus(TelemetryBus::new())
        .build()
        .unwrap()
}

fn code(err: &(dyn std::error::Error + Send + Sync + 'static)) -> ErrorCode {
    err.downcast_ref::<Error>().unwrap().code()
}

#[tokio::test(start_paused = true)]
async fn failed_requests_are_retried_until_exhausted() {
    let calls = Arc::new(AtomicU32::new(0));
    let seen = calls.clone();
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(retry(3)))
        .service(service_fn(move |_: ()| {
            seen.fetch_add(1, Ordering::SeqCst);
            async { Err::<(), _>(Error::new(ErrorCode::UNAVAILABLE, "503")) }
        }));
    let err = svc.oneshot(()).await.unwrap_err();
    assert_eq!(code(&*err), ErrorCode::RETRY_EXHAUSTED);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn foreign_errors_are_not_retried_and_keep_their_source() {
    #[derive(Debug)]
    struct Teapot;
    impl std::fmt::Display for Teapot {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("418")
        }
    }
    impl std::error::Error for Teapot {}

    let calls = Arc::new(AtomicU32::new(0));
    let seen = calls.clone();
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(retry(3)))
        .service(service_fn(move |_: ()| {
            seen.fetch_add(1, Ordering::SeqCst);
            async { Err::<(), _>(Teapot) }
        }));
    let err = svc.oneshot(()).await.unwrap_err();
    assert_eq!(code(&*err), ErrorCode::APPLICATION);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let source = std::error::Error::source(err.downcast_ref::<Error>().unwrap()).unwrap();
    assert!(source.is::<Teapot>());
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_attempt_is_retried() {
    let calls = Arc::new(AtomicU32::new(0));
    let seen = calls.clone();
    let timeout = Timeout::builder()
        .config(TimeoutConfig {
            duration: Duration::from_millis(100),
        })
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(retry(3)))
        .layer(TimeoutLayer::new(timeout))
        .service(service_fn(move |x: u32| {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    tokio::time::sleep(Duration::from_secs(10)).await;
                }
                Ok::<_, Error>(x)
            }
        }));
    let t0 = Instant::now();
    assert_eq!(svc.oneshot(5).await.unwrap(), 5);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(t0.elapsed(), Duration::from_millis(110));
}
