//! The tower layer in a `ServiceBuilder` stack: reject mode and wait mode.

use std::time::Duration;

use foundation_core::{Error, ErrorCode, TelemetryBus};
use foundation_protect::limiter::{OnLimit, Quota, RateLimitLayer, RateLimiter};
use tokio::time::Instant;
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};

fn limiter(quota: Quota) -> RateLimiter {
    RateLimiter::builder()
        .name("http")
        .quota(quota)
        .bus(TelemetryBus::new())
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn reject_mode_refuses_over_the_quota_with_rate_limited() {
    let mut svc = ServiceBuilder::new()
        .layer(RateLimitLayer::new(limiter(Quota::per_second(2))))
        .service_fn(|x: u32| async move { Ok::<_, BoxError>(x + 1) });
    assert_eq!(svc.ready().await.unwrap().call(1).await.unwrap(), 2);
    assert_eq!(svc.ready().await.unwrap().call(2).await.unwrap(), 3);
    let err = svc.ready().await.unwrap().call(3).await.unwrap_err();
    let err = err.downcast::<Error>().unwrap();
    assert!(err.is(ErrorCode::RATE_LIMITED));
    assert_eq!(err.retry_after(), Some(Duration::from_millis(500)));
    assert_eq!(err.context_value("limiter"), Some("http"));
    tokio::time::advance(Duration::from_millis(500)).await;
    assert_eq!(svc.ready().await.unwrap().call(4).await.unwrap(), 5);
}

#[tokio::test(start_paused = true)]
async fn wait_mode_delays_requests_until_admitted() {
    let svc = ServiceBuilder::new()
        .layer(
            RateLimitLayer::new(limiter(Quota::per_second(10).with_burst(1)))
                .on_limit(OnLimit::Wait),
        )
        .service_fn(|x: u32| async move { Ok::<_, Error>(x) });
    let t0 = Instant::now();
    let mut calls = Vec::new();
    for i in 0..5 {
        calls.push(tokio::spawn(svc.clone().oneshot(i)));
    }
    for (i, c) in calls.into_iter().enumerate() {
        assert_eq!(c.await.unwrap().unwrap(), i as u32);
    }
    assert_eq!(t0.elapsed(), Duration::from_millis(400));
}
