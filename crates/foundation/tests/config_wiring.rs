//! Across crates: an operator's change through the config service's HTTP API re-configures
//! every breaker of a live `BreakerRegistry`, keeping their windows, and is stored as a
//! version that a rollback undoes.

use std::sync::Arc;

use foundation::config::{Config, ConfigService, LayerSet, Live, Schema, Secrets};
use foundation::prelude::*;
use foundation::protect::breaker::{BreakerRegistry, BreakerState, RegistryConfig};
use serde_json::{Value as Json, json};

const FILE: &str = "[breakers.default]\nfailure_rate_threshold = 50.0\nminimum_calls = 10\n";

/// Records 4 failures and 6 successes: 40 % failed.
fn fail_40_percent(breaker: &CircuitBreaker) {
    for i in 0..10 {
        let _ = breaker.call_sync(|| {
            if i < 4 {
                Err(Error::new(ErrorCode::NETWORK, "down"))
            } else {
                Ok(())
            }
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_change_reconfigures_every_breaker_and_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!(
        "sqlite://{}",
        dir.path().join("node.db").display()
    ))
    .await
    .unwrap();
    let schema = Schema::new().validated::<RegistryConfig>("breakers");
    let layers = LayerSet::new().toml_str("node.toml", FILE);
    let (config, _) = Config::load(schema, Secrets::default(), layers).unwrap();
    let service = Arc::new(ConfigService::open(config, &store).await.unwrap());

    let live: Live<RegistryConfig> = service.config().live("breakers").unwrap();
    let registry = BreakerRegistry::new((*live.get()).clone()).unwrap();
    let (db, search) = (
        registry.get_or_create("db").unwrap(),
        registry.get_or_create("search").unwrap(),
    );
    let target = registry.clone();
    let mut binding = live.bind(&TelemetryBus::new(), move |c: &RegistryConfig| {
        target.reconfigure(c.clone())
    });
    binding.caught_up(0).await;
    fail_40_percent(&db);
    fail_40_percent(&search);
    assert_eq!(db.state(), BreakerState::Closed);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = foundation::config::http::router(Arc::clone(&service));
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = reqwest::Client::new();

    // An out-of-range threshold is refused over HTTP and nothing changes.
    let url = format!("{base}/config/values/breakers.default.failure_rate_threshold");
    let change = |value: f64| json!({"value": value, "author": "ops", "reason": "tune"});
    let refused = http.put(&url).json(&change(150.0)).send().await.unwrap();
    assert_eq!(refused.status(), 400);
    let body: Json = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "core.invalid_config");
    assert_eq!(live.changes(), 0);

    // A valid one is stored as version 2 and reaches both breakers, which trip on the 40 %
    // failures their windows already hold.
    let applied = http.put(&url).json(&change(30.0)).send().await.unwrap();
    assert_eq!(applied.status(), 200);
    let body: Json = applied.json().await.unwrap();
    assert_eq!(body["version"], 2);
    let status = binding.caught_up(live.changes()).await;
    assert!(status.last_error.is_none(), "{status:?}");
    assert_eq!(db.state(), BreakerState::Open);
    assert_eq!(search.state(), BreakerState::Open);
    assert_eq!(
        registry.get("db").unwrap().config().failure_rate_threshold,
        30.0
    );

    // A rollback to version 1 is version 3 and brings the old threshold back.
    let rolled = http
        .post(format!("{base}/config/versions/1/rollback"))
        .json(&json!({"author": "ops", "reason": "too eager"}))
        .send()
        .await
        .unwrap();
    assert_eq!(rolled.status(), 200);
    binding.caught_up(live.changes()).await;
    assert_eq!(db.config().failure_rate_threshold, 50.0);
    let history: Json = http
        .get(format!("{base}/config/versions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let reasons: Vec<&str> = history["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["too eager", "tune", "initial config"]);
    server.abort();
}
