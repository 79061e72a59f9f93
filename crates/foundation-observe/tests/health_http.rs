//! The health router over a real socket: `application/health+json`, 200/503, the liveness
//! and readiness groups, `?deep`, a check's history, and JSON errors for bad requests.

use std::net::SocketAddr;
use std::time::Duration;

use foundation_observe::health::{
    CheckOptions, Depth, Group, HealthAggregator, HealthCheck, HealthConfig, HealthStatus,
    Observation, check_fn,
};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A server on 127.0.0.1, stopped when dropped.
struct Server {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Server {
    async fn start(health: &HealthAggregator) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = health.router();
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Server { addr, task }
    }

    /// GETs `path`: the status, the content type and the body as JSON.
    async fn get(&self, path: &str) -> (u16, String, Value) {
        let stream = TcpStream::connect(self.addr).await.unwrap();
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        let connection = tokio::spawn(connection);
        let request = hyper::Request::get(path)
            .header(hyper::header::HOST, self.addr.to_string())
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(hyper::header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        drop(sender);
        connection.await.unwrap().unwrap();
        let json = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("{path}: body is not JSON ({e}): {body:?}"));
        (status, content_type, json)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn fixed(component: &str, status: HealthStatus) -> impl HealthCheck {
    check_fn(component, "status", move || async move {
        Observation::with_status(status).output(format!("always {status}"))
    })
}

fn checks_of(body: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = body["checks"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn health_answers_health_json_with_200_for_pass_and_warn_and_503_for_fail() {
    let health = HealthAggregator::new(HealthConfig {
        service_id: Some("orders".into()),
        ..HealthConfig::default()
    })
    .unwrap();
    health
        .register(
            fixed("db", HealthStatus::Pass),
            CheckOptions::new().critical(true),
        )
        .unwrap();
    let server = Server::start(&health).await;

    let (status, content_type, body) = server.get("/health").await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/health+json");
    assert_eq!(body["status"], "pass");
    assert_eq!(body["serviceId"], "orders");
    assert_eq!(body["checks"]["db:status"][0]["status"], "pass");

    health
        .register(fixed("cache", HealthStatus::Fail), CheckOptions::new())
        .unwrap();
    let (status, _, body) = server.get("/health").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("warn")));

    health
        .register(
            fixed("disk", HealthStatus::Fail),
            CheckOptions::new().critical(true),
        )
        .unwrap();
    let (status, content_type, body) = server.get("/health").await;
    assert_eq!((status, body["status"].as_str()), (503, Some("fail")));
    assert_eq!(content_type, "application/health+json");
    assert_eq!(body["checks"]["disk:status"][0]["output"], "always fail");
}

#[tokio::test]
async fn live_and_ready_report_their_own_groups() {
    let health = HealthAggregator::new(HealthConfig::default()).unwrap();
    health
        .register(
            fixed("process", HealthStatus::Pass),
            CheckOptions::new().groups(&[Group::Liveness]),
        )
        .unwrap();
    health
        .register(
            fixed("db", HealthStatus::Fail),
            CheckOptions::new()
                .critical(true)
                .groups(&[Group::Readiness]),
        )
        .unwrap();
    let server = Server::start(&health).await;

    let (status, _, live) = server.get("/health/live").await;
    assert_eq!((status, checks_of(&live)), (200, vec!["process:status"]));
    let (status, _, ready) = server.get("/health/ready").await;
    assert_eq!((status, checks_of(&ready)), (503, vec!["db:status"]));
    let (_, _, all) = server.get("/health").await;
    assert_eq!(checks_of(&all), ["db:status", "process:status"]);
}

#[tokio::test]
async fn the_deep_parameter_adds_deep_checks() {
    let health = HealthAggregator::new(HealthConfig::default()).unwrap();
    health
        .register(fixed("db", HealthStatus::Pass), CheckOptions::new())
        .unwrap();
    health
        .register(
            fixed("search", HealthStatus::Pass),
            CheckOptions::new().depth(Depth::Deep),
        )
        .unwrap();
    let server = Server::start(&health).await;

    for path in ["/health", "/health/ready?deep=false", "/health?deep=0"] {
        let (_, _, body) = server.get(path).await;
        assert_eq!(checks_of(&body), ["db:status"], "{path}");
    }
    for path in ["/health?deep=true", "/health/ready?deep", "/health?deep=1"] {
        let (_, _, body) = server.get(path).await;
        assert_eq!(checks_of(&body), ["db:status", "search:status"], "{path}");
    }
}

#[tokio::test]
async fn a_malformed_or_unknown_query_parameter_gets_a_400_json_error() {
    let health = HealthAggregator::new(HealthConfig::default()).unwrap();
    let server = Server::start(&health).await;

    let (status, content_type, body) = server.get("/health?deep=maybe").await;
    assert_eq!(status, 400);
    assert_eq!(content_type, "application/json");
    assert_eq!(body["error"]["code"], "core.invalid_input");
    assert_eq!(body["error"]["context"]["field"], "deep");
    assert_eq!(
        body["error"]["message"],
        "deep: must be true, false, 1 or 0, got \"maybe\""
    );

    let (status, _, body) = server.get("/health/live?verbose=1").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["context"]["field"], "query");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown parameter \"verbose\""),
        "{body}"
    );
}

#[tokio::test]
async fn a_checks_history_is_served_and_an_unknown_check_is_404() {
    let health = HealthAggregator::new(HealthConfig {
        cache_ttl: Duration::ZERO,
        ..HealthConfig::default()
    })
    .unwrap();
    health
        .register(
            check_fn("db", "responseTime", || async {
                Observation::pass().value(4).unit("ms")
            }),
            CheckOptions::new(),
        )
        .unwrap();
    let server = Server::start(&health).await;
    server.get("/health").await;
    server.get("/health/ready").await;

    let (status, content_type, body) = server.get("/health/checks/db:responseTime").await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/health+json");
    // Two reports ran it, and asking for it ran it once more (its TTL is zero).
    let runs = body["checks"]["db:responseTime"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    assert!(runs.iter().all(|r| r["observedValue"] == 4));

    let (status, content_type, body) = server.get("/health/checks/db:nope").await;
    assert_eq!(status, 404);
    assert_eq!(content_type, "application/json");
    assert_eq!(body["error"]["code"], "core.not_found");
    assert_eq!(body["error"]["context"]["check"], "db:nope");
}
