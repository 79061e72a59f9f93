//! The breaker as tower middleware.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use foundation_core::{ErrorCode, TelemetryBus};
use foundation_protect::breaker::{
    BreakerConfig, BreakerState, CircuitBreaker, CircuitBreakerLayer, WindowConfig,
};
use tower::{Service, ServiceBuilder, ServiceExt};

fn breaker() -> CircuitBreaker {
    CircuitBreaker::builder("upstream")
        .config(BreakerConfig {
            window: WindowConfig::Count { size: 10 },
            minimum_calls: 3,
            open_duration: Duration::from_secs(5),
            half_open_probes: 1,
            ..BreakerConfig::default()
        })
        .bus(TelemetryBus::new())
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_layer_records_results_and_refuses_without_calling_the_inner_service() {
    let breaker = breaker();
    let reached = Arc::new(AtomicUsize::new(0));
    let failing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let (r, f) = (reached.clone(), failing.clone());
    // The inner service's error is io::Error, which converts into Foundation's Error.
    let mut svc = ServiceBuilder::new()
        .layer(CircuitBreakerLayer::new(breaker.clone()))
        .service_fn(move |req: &'static str| {
            r.fetch_add(1, Ordering::SeqCst);
            let fail = f.load(Ordering::SeqCst);
            async move {
                if fail {
                    Err(io::Error::from(io::ErrorKind::ConnectionRefused))
                } else {
                    Ok(req.len())
                }
            }
        });

    for _ in 0..3 {
        let err = svc.ready().await.unwrap().call("ping").await.unwrap_err();
        assert!(err.is(ErrorCode::NETWORK), "{err}");
    }
    assert_eq!(breaker.state(), BreakerState::Open);
    assert_eq!(breaker.status().window.network, 3);

    let refused = svc.ready().await.unwrap().call("ping").await.unwrap_err();
    assert!(refused.is(ErrorCode::CIRCUIT_OPEN));
    assert_eq!(
        reached.load(Ordering::SeqCst),
        3,
        "refused before the inner service"
    );

    tokio::time::advance(Duration::from_secs(5)).await;
    failing.store(false, Ordering::SeqCst);
    assert_eq!(svc.ready().await.unwrap().call("ping").await.unwrap(), 4);
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_response_future_frees_its_probe() {
    let breaker = breaker();
    breaker.force_open();
    breaker.force_close();
    for _ in 0..3 {
        breaker
            .try_acquire()
            .unwrap()
            .record(foundation_protect::outcome::Outcome::Timeout);
    }
    tokio::time::advance(Duration::from_secs(5)).await;
    let mut svc = ServiceBuilder::new()
        .layer(CircuitBreakerLayer::new(breaker.clone()))
        .service_fn(|_: ()| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok::<_, io::Error>(())
        });
    let fut = svc.ready().await.unwrap().call(());
    assert_eq!(breaker.status().probes.unwrap().reserved, 1);
    drop(fut);
    assert_eq!(breaker.status().probes.unwrap().reserved, 0);
}
