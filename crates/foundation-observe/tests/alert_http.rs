//! The alerting HTTP API over a real socket: fire, list with filters, get, acknowledge,
//! resolve, silences, status, and structured JSON errors for bad requests.

mod alert_support;

use foundation_core::TelemetryBus;
use foundation_observe::alert::{AlertConfig, AlertManager};
use foundation_observe::health::{HealthAggregator, HealthConfig};
use serde_json::{Value, json};

use alert_support::Server;

struct Api {
    server: Server,
    client: reqwest::Client,
}

impl Api {
    async fn start() -> Api {
        let alerts = AlertManager::builder()
            .config(AlertConfig::default())
            .bus(TelemetryBus::new())
            .build()
            .unwrap();
        let health = HealthAggregator::new(HealthConfig::default()).unwrap();
        // Mounted beside the health routes, as the node does.
        let router = alerts.router().merge(health.router());
        Api {
            server: Server::serve(router).await,
            client: reqwest::Client::new(),
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string());
        let text = response.text().await.unwrap();
        assert_eq!(content_type.as_deref(), Some("application/json"), "{text}");
        (status, serde_json::from_str(&text).unwrap())
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.client.get(self.server.url(path))).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let request = self
            .client
            .post(self.server.url(path))
            .header("content-type", "application/json")
            .body(body.to_string());
        self.send(request).await
    }

    async fn post_raw(&self, path: &str, body: &'static str) -> (u16, Value) {
        let request = self
            .client
            .post(self.server.url(path))
            .header("content-type", "application/json")
            .body(body);
        self.send(request).await
    }

    async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(self.client.delete(self.server.url(path))).await
    }
}

/// The error's code, number and field, checking its shape.
fn error(body: &Value) -> (String, u64, Option<String>) {
    let e = &body["error"];
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(e["context"].is_object(), "{body}");
    (
        e["code"].as_str().unwrap().to_string(),
        e["number"].as_u64().unwrap(),
        e["context"]["field"].as_str().map(str::to_string),
    )
}

#[tokio::test]
async fn alerts_are_fired_listed_acknowledged_and_resolved_over_http() {
    let api = Api::start().await;
    let (status, fired) = api
        .post(
            "/alerts",
            json!({
                "labels": {"alertname": "DiskFull", "host": "db-1"},
                "annotations": {"summary": "disk full"},
                "severity": "critical"
            }),
        )
        .await;
    assert_eq!(status, 201, "{fired}");
    assert_eq!(fired["state"], "firing");
    assert_eq!(fired["labels"]["severity"], "critical");
    assert_eq!(fired["receivers"], json!(["log"]));
    let fp = fired["fingerprint"].as_str().unwrap().to_string();
    api.post(
        "/alerts",
        json!({"labels": {"alertname": "Slow", "severity": "warning"}}),
    )
    .await;

    let (status, list) = api.get("/alerts?state=firing").await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 2);
    let (_, critical) = api
        .get("/alerts?filter=severity%3D~%22crit.*%22&filter=host%3Ddb-1&receiver=log")
        .await;
    assert_eq!(critical.as_array().unwrap().len(), 1, "{critical}");
    assert_eq!(critical[0]["fingerprint"], fp.as_str());

    let (status, one) = api.get(&format!("/alerts/{fp}")).await;
    assert_eq!(status, 200);
    assert_eq!(one["annotations"]["summary"], "disk full");

    let (status, acked) = api
        .post(
            &format!("/alerts/{fp}/ack"),
            json!({"by": "alice", "comment": "on it"}),
        )
        .await;
    assert_eq!(status, 200, "{acked}");
    assert_eq!(acked["acknowledged"]["by"], "alice");

    let (status, resolved) = api.post(&format!("/alerts/{fp}/resolve"), json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(resolved["state"], "resolved");
    assert!(resolved["endsAt"].is_string());
    let (_, done) = api.get("/alerts?state=resolved").await;
    assert_eq!(done.as_array().unwrap().len(), 1);

    let (status, report) = api.get("/alerts/status").await;
    assert_eq!(status, 200);
    assert_eq!(report["alerts"]["firing"], 1);
    assert_eq!(report["alerts"]["resolved"], 1);
    assert_eq!(report["receivers"][0]["name"], "log");
    assert_eq!(report["receivers"][0]["down"], false);
}

#[tokio::test]
async fn silences_are_created_listed_and_deleted_over_http() {
    let api = Api::start().await;
    let (status, created) = api
        .post(
            "/alerts/silences",
            json!({
                "matchers": [{"name": "alertname", "op": "=", "value": "Noisy"}, "team=~\"db|web\""],
                "duration_ms": 3_600_000,
                "createdBy": "bob",
                "comment": "maintenance"
            }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], "active");
    let id = created["id"].as_u64().unwrap();

    let (_, fired) = api
        .post(
            "/alerts",
            json!({"labels": {"alertname": "Noisy", "team": "db"}}),
        )
        .await;
    assert_eq!(fired["silencedBy"], json!([id]));

    let (_, list) = api.get("/alerts/silences").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["matchers"][1]["op"], "=~");
    let (status, one) = api.get(&format!("/alerts/silences/{id}")).await;
    assert_eq!((status, one["createdBy"].as_str()), (200, Some("bob")));

    let (status, expired) = api.delete(&format!("/alerts/silences/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(expired["status"], "expired");
    let fp = fired["fingerprint"].as_str().unwrap();
    let (_, now) = api.get(&format!("/alerts/{fp}")).await;
    assert_eq!(now["silencedBy"], json!([]));
}

#[tokio::test]
async fn bad_requests_get_structured_errors_naming_the_field() {
    let api = Api::start().await;
    let bad = |code: &str, number: u64, field: Option<&str>| {
        (code.to_string(), number, field.map(str::to_string))
    };
    let invalid = |field: &str| bad("core.invalid_input", 1002, Some(field));

    let (status, body) = api.post_raw("/alerts", "{not json").await;
    assert_eq!((status, error(&body)), (400, invalid("body")));
    let (status, body) = api.post("/alerts", json!({"labels": {"team": "db"}})).await;
    assert_eq!((status, error(&body)), (400, invalid("labels.alertname")));
    let (status, body) = api
        .post(
            "/alerts",
            json!({"labels": {"alertname": "X", "1bad": "y"}}),
        )
        .await;
    assert_eq!((status, error(&body)), (400, invalid("labels.1bad")));
    let (status, body) = api
        .post(
            "/alerts",
            json!({"labels": {"alertname": "X"}, "severity": "loud"}),
        )
        .await;
    assert_eq!((status, error(&body)), (400, invalid("body")));
    let (status, body) = api
        .post(
            "/alerts",
            json!({"labels": {"alertname": "X", "severity": "loud"}}),
        )
        .await;
    assert_eq!((status, error(&body)), (400, invalid("labels.severity")));

    let (status, body) = api.get("/alerts?filter=severity%3D~%22(%22").await;
    assert_eq!((status, error(&body)), (400, invalid("filter")));
    assert!(body["error"]["message"].as_str().unwrap().contains("regex"));
    let (status, body) = api.get("/alerts?filter=nooperator").await;
    assert_eq!((status, error(&body)), (400, invalid("filter")));
    let (status, body) = api.get("/alerts?state=burning").await;
    assert_eq!((status, error(&body)), (400, invalid("state")));
    let (status, body) = api.get("/alerts?color=red").await;
    assert_eq!((status, error(&body)), (400, invalid("query")));

    for path in ["/alerts/00000000000000ff", "/alerts/not-a-fingerprint"] {
        let (status, body) = api.get(path).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(error(&body), bad("core.not_found", 1003, None), "{body}");
        assert!(body["error"]["context"]["alert"].is_string(), "{body}");
    }
    let (status, _) = api
        .post("/alerts/00000000000000ff/ack", json!({"by": "me"}))
        .await;
    assert_eq!(status, 404);
    let (status, _) = api
        .post("/alerts/00000000000000ff/resolve", json!({}))
        .await;
    assert_eq!(status, 404);
    let (status, body) = api.delete("/alerts/silences/42").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["context"]["silence"], "42");
    let (status, _) = api.get("/alerts/silences/abc").await;
    assert_eq!(status, 404);

    let (_, fired) = api
        .post("/alerts", json!({"labels": {"alertname": "X"}}))
        .await;
    let fp = fired["fingerprint"].as_str().unwrap();
    let (status, body) = api
        .post(&format!("/alerts/{fp}/ack"), json!({"by": ""}))
        .await;
    assert_eq!((status, error(&body)), (400, invalid("by")));
    let (status, body) = api
        .post(&format!("/alerts/{fp}/ack"), json!({"comment": "who?"}))
        .await;
    assert_eq!((status, error(&body)), (400, invalid("body")));

    let (status, body) = api
        .post(
            "/alerts/silences",
            json!({"matchers": ["a=~\"[\""], "duration_ms": 1000, "createdBy": "me"}),
        )
        .await;
    assert_eq!((status, error(&body)), (400, invalid("matchers[0]")));
    let (status, body) = api
        .post(
            "/alerts/silences",
            json!({"matchers": ["a=b"], "endsAt": "yesterday", "createdBy": "me"}),
        )
        .await;
    assert_eq!((status, error(&body)), (400, invalid("endsAt")));
}
