//! A health endpoint to load from a second process (`wrk`), beside a bare axum handler that
//! returns the same bytes, for `scripts/health_load.sh`.
//!
//! `cargo run --release -p foundation-bench --example health_server -- 127.0.0.1:18080`
//! serves:
//! - `/health/ready`: a `HealthAggregator` with five cached checks (TTL 1 s): a store ping
//!   on an embedded SQLite store, breakers, memory pressure, and two closures;
//! - `/static`: a bare axum handler returning a fixed `application/health+json` body of the
//!   same size, the ceiling for any health endpoint on this server.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use foundation_observe::health::builtin::{
    BreakersCheck, BreakersCheckConfig, MemoryCheck, MemoryCheckConfig, StoreCheck,
    StoreCheckConfig,
};
use foundation_observe::health::{
    CheckOptions, Group, HealthAggregator, HealthConfig, Observation, Scope, check_fn,
};
use foundation_protect::breaker::BreakerRegistry;
use foundation_protect::protection::ManualGate;
use foundation_store::Store;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18080".to_string());
    let store = Store::open("sqlite::memory:").await.expect("store");
    let health = HealthAggregator::new(HealthConfig::default()).expect("aggregator");
    let ready = || {
        CheckOptions::new()
            .ttl(Duration::from_secs(1))
            .groups(&[Group::Readiness])
    };
    health
        .register(
            StoreCheck::new(
                store,
                foundation_core::Clock::tokio(),
                StoreCheckConfig::default(),
            )
            .expect("store check"),
            ready().critical(true),
        )
        .unwrap();
    let breakers = BreakerRegistry::builder().build().unwrap();
    breakers.get_or_create("payments").unwrap();
    health
        .register(
            BreakersCheck::new(breakers, BreakersCheckConfig::default()).unwrap(),
            ready(),
        )
        .unwrap();
    health
        .register(
            MemoryCheck::new(Arc::new(ManualGate::new()), MemoryCheckConfig::default()).unwrap(),
            ready(),
        )
        .unwrap();
    health
        .register(
            check_fn("cache", "hitRatio", || async {
                Observation::pass().value(0.97)
            }),
            ready(),
        )
        .unwrap();
    health
        .register(
            check_fn("disk", "utilization", || async {
                Observation::pass().value(41).unit("percent")
            }),
            ready(),
        )
        .unwrap();

    let body = health
        .report(Scope::group(Group::Readiness))
        .await
        .to_json()
        .to_string();
    let app = Router::new()
        .route(
            "/static",
            get(move || {
                let body = body.clone();
                async move { ([(header::CONTENT_TYPE, "application/health+json")], body) }
            }),
        )
        .merge(health.router());
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    eprintln!("health_server listening on http://{addr}");
    axum::serve(listener, app).await.expect("serve");
}
