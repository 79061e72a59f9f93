//! The bulkhead as a tower layer.

use std::time::Duration;

use foundation_core::{Error, ErrorCode, TelemetryBus};
use foundation_protect::bulkhead::{Bulkhead, BulkheadConfig, BulkheadLayer};
use tokio::sync::oneshot;
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};

fn bulkhead(max_waiting: usize) -> Bulkhead {
    Bulkhead::builder()
        .config(BulkheadConfig {
            max_concurrent: 1,
            max_waiting,
            max_wait: Duration::from_millis(100),
        })
        .bus(TelemetryBus::new())
        .build()
        .unwrap()
}

fn code(err: &(dyn std::error::Error + Send + Sync + 'static)) -> ErrorCode {
    err.downcast_ref::<Error>().unwrap().code()
}

#[tokio::test(start_paused = true)]
async fn requests_hold_a_slot_until_their_response_and_overflow_is_refused() {
    let b = bulkhead(0);
    let svc = ServiceBuilder::new()
        .layer(BulkheadLayer::new(b.clone()))
        .service(service_fn(|rx: oneshot::Receiver<u32>| async move {
            rx.await
                .map_err(|_| Error::new(ErrorCode::APPLICATION, "dropped"))
        }));

    let (tx, rx) = oneshot::channel();
    let first = tokio::spawn(svc.clone().oneshot(rx));
    tokio::task::yield_now().await;
    assert_eq!(b.status().in_flight, 1);

    let (_tx2, rx2) = oneshot::channel();
    let err = svc.clone().oneshot(rx2).await.unwrap_err();
    assert_eq!(code(&*err), ErrorCode::BULKHEAD_FULL);

    tx.send(5).unwrap();
    assert_eq!(first.await.unwrap().unwrap(), 5);
    assert_eq!(b.status().in_flight, 0);
}

#[tokio::test(start_paused = true)]
async fn a_waiting_request_is_served_when_the_slot_frees_or_times_out() {
    let b = bulkhead(4);
    let mut svc = ServiceBuilder::new()
        .layer(BulkheadLayer::new(b.clone()))
        .service(service_fn(|x: u32| async move { Ok::<_, Error>(x * 2) }));

    let holder = b.acquire().await.unwrap();
    let waiting = svc.ready().await.unwrap().call(21);
    let waiting = tokio::spawn(waiting);
    tokio::task::yield_now().await;
    assert_eq!(b.status().waiting, 1);
    drop(holder);
    assert_eq!(waiting.await.unwrap().unwrap(), 42);

    let _holder = b.acquire().await.unwrap();
    let err = svc.ready().await.unwrap().call(1).await.unwrap_err();
    assert_eq!(code(&*err), ErrorCode::BULKHEAD_WAIT_TIMEOUT);
}

#[tokio::test]
async fn inner_errors_pass_through() {
    let svc = ServiceBuilder::new()
        .layer(BulkheadLayer::new(bulkhead(0)))
        .service(service_fn(|_: ()| async {
            Err::<(), _>(Error::new(ErrorCode::NETWORK, "reset"))
        }));
    let err = svc.oneshot(()).await.unwrap_err();
    assert_eq!(code(&*err), ErrorCode::NETWORK);
}
