//! `Store::ping`: a cheap round trip that health checks use, on every backend.

use foundation_core::error::ErrorCode;
use foundation_store::on_each_backend;
use foundation_store::testing::Target;

on_each_backend!(ping_answers_while_open_and_is_unavailable_once_closed);

async fn ping_answers_while_open_and_is_unavailable_once_closed(t: &Target) {
    let store = t.options().open().await.unwrap();
    store.ping().await.unwrap();
    store.close().await;
    let err = store.ping().await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::STORE_UNAVAILABLE, "{err:?}");
    assert_eq!(err.context_value("operation"), Some("ping"));
}
