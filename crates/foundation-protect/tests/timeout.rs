//! Timeout behaviour: deadline, cancellation of the inner future, overrides, layer.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use foundation_core::{Error, ErrorCode, TelemetryBus};
use foundation_protect::timeout::{Timeout, TimeoutConfig, TimeoutElapsed, TimeoutLayer};
use tokio::time::Instant;
use tower::{ServiceBuilder, ServiceExt, service_fn};

fn timeout_ms(ms: u64, bus: TelemetryBus) -> Timeout {
    Timeout::builder()
        .name("search")
        .config(TimeoutConfig {
            duration: Duration::from_millis(ms),
        })
        .bus(bus)
        .build()
        .unwrap()
}

/// Sets its flag when dropped.
struct DropFlag(Arc<AtomicBool>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn a_call_within_its_deadline_returns_its_own_result() {
    let t = timeout_ms(100, TelemetryBus::new());
    let v = t
        .run(async {
            tokio::time::sleep(Duration::from_millis(99)).await;
            Ok::<_, Error>("done")
        })
        .await
        .unwrap();
    assert_eq!(v, "done");
    let err = t
        .run(async { Err::<(), _>(Error::new(ErrorCode::NETWORK, "reset")) })
        .await
        .unwrap_err();
    assert!(err.is(ErrorCode::NETWORK));
}

#[tokio::test(start_paused = true)]
async fn an_overrun_fails_at_the_deadline_and_drops_the_inner_future() {
    let bus = TelemetryBus::new();
    let mut sub = bus.subscribe(4);
    let t = timeout_ms(250, bus);
    let dropped = Arc::new(AtomicBool::new(false));
    let guard = DropFlag(dropped.clone());
    let t0 = Instant::now();
    let err = t
        .run(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
            Ok::<_, Error>(())
        })
        .await
        .unwrap_err();
    assert_eq!(t0.elapsed(), Duration::from_millis(250));
    assert!(dropped.load(Ordering::SeqCst), "inner future not dropped");
    assert!(err.is(ErrorCode::TIMEOUT));
    assert_eq!(err.context_value("timeout"), Some("250"));
    assert_eq!(err.context_value("name"), Some("search"));
    let ev = sub.try_recv().unwrap();
    assert_eq!(ev.name(), "foundation.timeout.elapsed");
    assert_eq!(
        ev.downcast_ref::<TimeoutElapsed>().unwrap().duration,
        Duration::from_millis(250)
    );
}

#[tokio::test(start_paused = true)]
async fn run_with_overrides_the_deadline_for_one_call() {
    let t = timeout_ms(1000, TelemetryBus::new());
    let t0 = Instant::now();
    let err = t
        .run_with(
            Duration::from_millis(10),
            std::future::pending::<Result<(), Error>>(),
        )
        .await
        .unwrap_err();
    assert_eq!(t0.elapsed(), Duration::from_millis(10));
    assert_eq!(err.context_value("timeout"), Some("10"));
    // The configured deadline is unchanged.
    assert_eq!(t.duration(), Duration::from_millis(1000));
}

#[tokio::test(start_paused = true)]
async fn set_config_changes_the_deadline_and_validates() {
    let t = timeout_ms(1000, TelemetryBus::new());
    t.set_config(TimeoutConfig {
        duration: Duration::from_millis(5),
    })
    .unwrap();
    let t0 = Instant::now();
    let _ = t.run(std::future::pending::<Result<(), Error>>()).await;
    assert_eq!(t0.elapsed(), Duration::from_millis(5));
    let err = t
        .set_config(TimeoutConfig {
            duration: Duration::ZERO,
        })
        .unwrap_err();
    assert_eq!(err.context_value("field"), Some("timeout.duration_ms"));
    assert_eq!(t.duration(), Duration::from_millis(5));
}

#[test]
fn bad_configs_are_refused_naming_the_field() {
    let err = Timeout::new(TimeoutConfig {
        duration: Duration::ZERO,
    })
    .unwrap_err();
    assert!(err.is(ErrorCode::INVALID_CONFIG));
    assert_eq!(err.context_value("field"), Some("timeout.duration_ms"));
    let err = Timeout::builder().name(" ").build().unwrap_err();
    assert_eq!(err.context_value("field"), Some("timeout.name"));
    let c: TimeoutConfig = toml::from_str("duration_ms = 750").unwrap();
    assert_eq!(c.duration, Duration::from_millis(750));
    assert!(toml::from_str::<TimeoutConfig>("duration = 750").is_err());
}

#[tokio::test(start_paused = true)]
async fn the_layer_times_out_slow_requests_and_drops_them() {
    let t = timeout_ms(100, TelemetryBus::new());
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = dropped.clone();
    let svc = ServiceBuilder::new()
        .layer(TimeoutLayer::new(t))
        .service(service_fn(move |slow: bool| {
            let guard = DropFlag(flag.clone());
            async move {
                let _guard = guard;
                if slow {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
                Ok::<_, Error>(slow)
            }
        }));
    assert!(!svc.clone().oneshot(false).await.unwrap());
    dropped.store(false, Ordering::SeqCst);
    let t0 = Instant::now();
    let err = svc.oneshot(true).await.unwrap_err();
    assert_eq!(t0.elapsed(), Duration::from_millis(100));
    assert!(dropped.load(Ordering::SeqCst));
    assert_eq!(
        err.downcast_ref::<Error>().unwrap().code(),
        ErrorCode::TIMEOUT
    );
}
