//! The config service's HTTP API over a real socket: values, explain, overrides (the
//! service's and an agent's), reload, versions and rollback; secrets redacted in every view;
//! bad requests refused with the structured JSON error and the config left as it was.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use foundation_config::{Config, ConfigService, LayerSet, Schema, Secrets};
use foundation_core::{Validate, Validator};
use foundation_store::Store;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
struct Db {
    host: String,
    port: u16,
    password: String,
}

impl Validate for Db {
    fn validate_into(&self, v: &mut Validator) {
        v.non_empty("host", &self.host);
        v.check(self.port >= 1024, "port", "must be at least 1024");
    }
}

struct Api {
    addr: SocketAddr,
    server: JoinHandle<()>,
    client: reqwest::Client,
    store: Store,
    file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Api {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Api {
    async fn start() -> Api {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("app.toml");
        std::fs::write(&file, "[app]\nname = 'first'\n").unwrap();
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let store = Store::open(&url).await.unwrap();
        let layers = LayerSet::new()
            .defaults(&toml::toml! { [db] host = "localhost" port = 5432 password = "hunter22" })
            .toml_file(&file);
        let schema = Schema::new()
            .validated::<Db>("db")
            .json_schema("app", json!({"type": "object"}))
            .unwrap();
        let (config, _) = Config::load(schema, Secrets::default(), layers).unwrap();
        let service = Arc::new(ConfigService::open(config, &store).await.unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = foundation_config::http::router(service);
        let server = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Api {
            addr,
            server,
            client: reqwest::Client::new(),
            store,
            file,
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Status and JSON body; every answer is JSON and never shows a secret.
    async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        let text = response.text().await.unwrap();
        assert_eq!(content_type, "application/json", "{text}");
        for secret in ["hunter22", "s3cret"] {
            assert!(!text.contains(secret), "a secret is shown: {text}");
        }
        (status, serde_json::from_str(&text).unwrap())
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.client.get(self.url(path))).await
    }

    async fn with_body(&self, method: reqwest::Method, path: &str, body: String) -> (u16, Value) {
        let request = self
            .client
            .request(method, self.url(path))
            .header("content-type", "application/json")
            .body(body);
        self.send(request).await
    }

    async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.with_body(reqwest::Method::PUT, path, body.to_string())
            .await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.with_body(reqwest::Method::POST, path, body.to_string())
            .await
    }

    async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(self.client.delete(self.url(path))).await
    }

    /// The value at `path` in `GET /config` (with `query`), and its source.
    async fn value(&self, query: &str, path: &str) -> Option<(Value, String)> {
        let (status, body) = self.get(&format!("/config{query}")).await;
        assert_eq!(status, 200, "{body}");
        body["values"].as_array().unwrap().iter().find_map(|v| {
            (v["path"] == path).then(|| (v["value"].clone(), v["source"].as_str().unwrap().into()))
        })
    }
}

fn by(author: &str) -> Value {
    json!({"author": author, "reason": "testing"})
}

fn set_body(value: Value) -> Value {
    json!({"value": value, "author": "ops", "reason": "testing"})
}

/// The error's code and context, checking its shape and status.
fn error(status: u16, body: &Value, expected: u16) -> (String, Value) {
    assert_eq!(status, expected, "{body}");
    let e = &body["error"];
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(e["number"].as_u64().is_some(), "{body}");
    assert!(e["context"].is_object(), "{body}");
    (
        e["code"].as_str().unwrap().to_string(),
        e["context"].clone(),
    )
}

#[tokio::test]
async fn values_explain_and_set_show_sources_and_redact_secrets() {
    let api = Api::start().await;
    let (status, body) = api.get("/config").await;
    assert_eq!(status, 200);
    assert_eq!(body["version"], 1);
    assert_eq!(body["agents"], json!([]));
    assert_eq!(
        api.value("", "db.port").await,
        Some((json!(5432), "defaults".to_string()))
    );
    assert_eq!(api.value("", "db.password").await.unwrap().0, "***");
    let file_source = format!("file {}:2", api.file.display());
    assert_eq!(
        api.value("", "app.name").await,
        Some((json!("first"), file_source))
    );

    let (status, body) = api
        .put("/config/values/db.port", set_body(json!(6000)))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], 2);
    assert_eq!(body["warnings"], json!([]));
    assert_eq!(
        body["changes"],
        json!([{"path": "db.port", "agent": null, "before": "5432", "after": "6000"}])
    );
    let (status, body) = api.get("/config/explain/db.port").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"path": "db.port", "value": 6000, "chain": ["defaults", "override"], "winner": "override"})
    );

    let (status, body) = api
        .put("/config/values/db.password", set_body(json!("s3cret")))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["changes"][0]["before"], "\"***\"");
    assert_eq!(body["changes"][0]["after"], "\"***\"");
    let (_, body) = api.get("/config/explain/db.password").await;
    assert_eq!(body["value"], "***");
    assert_eq!(body["winner"], "override");
    let (_, body) = api.get("/config/explain/db").await;
    assert_eq!(body["value"]["password"], "***");
    assert_eq!(body["value"]["port"], 6000);

    // Tables and arrays become TOML values; an unset path explains as nothing.
    let (status, _) = api
        .put(
            "/config/values/app.tags",
            set_body(json!({"list": ["a", "b"], "on": true})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(api.value("", "app.tags.list.1").await.unwrap().0, "b");
    let (_, body) = api.get("/config/explain/app.nothing").await;
    assert_eq!(body["value"], Value::Null);
    assert_eq!(body["winner"], Value::Null);

    let (status, body) = api
        .delete("/config/values/db.port?author=ops&reason=back")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["changes"][0]["after"], "5432");
    let (status, body) = api
        .delete("/config/values/db.port?author=ops&reason=again")
        .await;
    let (code, context) = error(status, &body, 404);
    assert_eq!(code, "core.not_found");
    assert_eq!(context["field"], "db.port");
}

#[tokio::test]
async fn agent_overrides_apply_to_that_agent_only() {
    let api = Api::start().await;
    let (status, body) = api
        .put("/config/values/db.port?agent=a1", set_body(json!(7001)))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["changes"][0]["agent"], "a1");

    let (_, body) = api.get("/config").await;
    assert_eq!(body["agents"], json!(["a1"]));
    assert_eq!(api.value("", "db.port").await.unwrap().0, 5432);
    assert_eq!(
        api.value("?agent=a1", "db.port").await,
        Some((json!(7001), "agent a1".to_string()))
    );
    assert_eq!(
        api.value("?agent=a1", "db.host").await.unwrap().0,
        "localhost"
    );
    assert_eq!(
        api.value("?agent=a1", "db.password").await.unwrap().0,
        "***"
    );

    let (_, body) = api.get("/config/explain/db.port?agent=a1").await;
    assert_eq!(body["chain"], json!(["defaults", "agent a1"]));
    assert_eq!(body["winner"], "agent a1");
    let (_, body) = api.get("/config/explain/db.port").await;
    assert_eq!(body["winner"], "defaults");

    // Removing the service's override does not touch the agent's.
    let (status, _) = api
        .delete("/config/values/db.port?author=ops&reason=none")
        .await;
    assert_eq!(status, 404);
    let (status, body) = api
        .delete("/config/values/db.port?agent=a1&author=ops&reason=done")
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = api.get("/config").await;
    assert_eq!(body["agents"], json!([]));
}

#[tokio::test]
async fn reload_reads_the_files_again() {
    let api = Api::start().await;
    std::fs::write(&api.file, "[app]\nname = 'second'\n").unwrap();
    assert_eq!(api.value("", "app.name").await.unwrap().0, "first");
    let (status, body) = api.post("/config/reload", by("deployer")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], 2);
    assert_eq!(
        body["changes"],
        json!([{"path": "app.name", "agent": null, "before": "\"first\"", "after": "\"second\""}])
    );
    assert_eq!(api.value("", "app.name").await.unwrap().0, "second");
    let (_, body) = api.get("/config/versions/2").await;
    assert_eq!(body["author"], "deployer");
}

#[tokio::test]
async fn versions_list_newest_first_and_rollback_makes_a_new_version() {
    let api = Api::start().await;
    for port in [6000, 7000] {
        let (status, _) = api
            .put("/config/values/db.port", set_body(json!(port)))
            .await;
        assert_eq!(status, 200);
    }
    let (status, _) = api
        .put("/config/values/db.password", set_body(json!("s3cret")))
        .await;
    assert_eq!(status, 200);

    let (status, body) = api.get("/config/versions").await;
    assert_eq!(status, 200);
    let numbers: Vec<u64> = body["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [4, 3, 2, 1]);
    let (_, body) = api.get("/config/versions?before=4&limit=2").await;
    let numbers: Vec<&Value> = body["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| &v["version"])
        .collect();
    assert_eq!(numbers, [&json!(3), &json!(2)]);

    let (status, first) = api.get("/config/versions/1").await;
    assert_eq!(status, 200);
    assert_eq!(first["author"], "foundation");
    assert!(first["created_at_ms"].as_i64().unwrap() > 0);
    let password = first["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == "db.password")
        .unwrap();
    assert_eq!(password["after"], "\"***\"");
    let (_, fourth) = api.get("/config/versions/4").await;
    assert_eq!(fourth["changes"][0]["after"], "\"***\"");

    let (status, body) = api.post("/config/versions/2/rollback", by("ops")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], 5);
    let port = body["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == "db.port")
        .unwrap();
    assert_eq!(port["before"], "7000");
    assert_eq!(port["after"], "6000");
    assert_eq!(api.value("", "db.port").await.unwrap().0, 6000);
    let (_, body) = api.get("/config/versions/5").await;
    assert_eq!(body["author"], "ops");
}

/// Sends a bad request, checks its error, and that the config did not change.
async fn refused(api: &Api, request: reqwest::RequestBuilder, status: u16) -> (String, Value) {
    let (_, before) = api.get("/config").await;
    let (got, body) = api.send(request).await;
    let outcome = error(got, &body, status);
    let (_, after) = api.get("/config").await;
    assert_eq!(before, after, "the config changed");
    outcome
}

fn put(api: &Api, path: &str, body: impl Into<String>) -> reqwest::RequestBuilder {
    api.client
        .put(api.url(path))
        .header("content-type", "application/json")
        .body(body.into())
}

#[tokio::test]
async fn bad_requests_are_refused_with_structured_errors() {
    let api = Api::start().await;
    let path = "/config/values/db.port";
    let field = |context: &Value| context["field"].clone();

    let (code, context) = refused(&api, put(&api, path, "{\"value\": 1,"), 400).await;
    assert_eq!(
        (code.as_str(), field(&context)),
        ("core.invalid_input", json!("body"))
    );

    for (missing, body) in [
        ("value", json!({"author": "ops", "reason": "r"})),
        ("author", json!({"value": 6000, "reason": "r"})),
        ("reason", json!({"value": 6000, "author": "ops"})),
        (
            "author",
            json!({"value": 6000, "author": " ", "reason": "r"}),
        ),
    ] {
        let (code, context) = refused(&api, put(&api, path, body.to_string()), 400).await;
        assert_eq!(
            (code.as_str(), field(&context)),
            ("core.invalid_input", json!(missing))
        );
    }
    let unknown = json!({"value": 1, "author": "a", "reason": "r", "extra": 1}).to_string();
    let (_, context) = refused(&api, put(&api, path, unknown), 400).await;
    assert_eq!(field(&context), "extra");

    for (value, at) in [
        (json!(null), "value"),
        (json!([1, "two"]), "value"),
        (json!({"a": [true, null]}), "value.a.1"),
    ] {
        let body = set_body(value).to_string();
        let (code, context) = refused(&api, put(&api, "/config/values/app.x", body), 400).await;
        assert_eq!(
            (code.as_str(), field(&context)),
            ("core.invalid_input", json!(at))
        );
    }

    let huge = set_body(json!("x".repeat(70 * 1024))).to_string();
    let (code, context) = refused(&api, put(&api, "/config/values/app.x", huge), 400).await;
    assert_eq!(code, "core.invalid_input");
    assert_eq!(field(&context), "body");
    assert_eq!(context["limit"], "65536");

    // Every bad field is named.
    let body = set_body(json!({"host": "", "port": 80})).to_string();
    let (code, context) = refused(&api, put(&api, "/config/values/db", body), 400).await;
    assert_eq!(code, "core.invalid_config");
    assert_eq!(field(&context), json!(["db.host", "db.port"]));
    let body = set_body(json!("not a port")).to_string();
    let (code, context) = refused(&api, put(&api, path, body), 400).await;
    assert_eq!(
        (code.as_str(), field(&context)),
        ("core.invalid_config", json!("db.port"))
    );

    let (_, context) = refused(
        &api,
        put(
            &api,
            "/config/values/db..port",
            set_body(json!(1)).to_string(),
        ),
        400,
    )
    .await;
    assert_eq!(field(&context), "path");

    let blank_agent = put(
        &api,
        "/config/values/db.port?agent=",
        set_body(json!(6000)).to_string(),
    );
    let (_, context) = refused(&api, blank_agent, 400).await;
    assert_eq!(field(&context), "agent");

    let delete = api
        .client
        .delete(api.url("/config/values/db.port?reason=r"));
    let (_, context) = refused(&api, delete, 400).await;
    assert_eq!(field(&context), "author");

    let reload = api
        .client
        .post(api.url("/config/reload"))
        .header("content-type", "application/json")
        .body(json!({"author": "ops"}).to_string());
    let (_, context) = refused(&api, reload, 400).await;
    assert_eq!(field(&context), "reason");
}

#[tokio::test]
async fn unknown_versions_and_bad_queries_are_refused() {
    let api = Api::start().await;
    let (status, body) = api.get("/config/versions/99").await;
    let (code, context) = error(status, &body, 404);
    assert_eq!(code, "core.not_found");
    assert_eq!(context["version"], "99");

    let rollback = api
        .client
        .post(api.url("/config/versions/99/rollback"))
        .header("content-type", "application/json")
        .body(by("ops").to_string());
    let (code, _) = refused(&api, rollback, 404).await;
    assert_eq!(code, "core.not_found");
    let (status, _) = api.get("/config/versions").await;
    assert_eq!(status, 200);

    let (status, body) = api.get("/config/versions/latest").await;
    assert_eq!(error(status, &body, 400).1["field"], "version");
    let (status, body) = api.get("/config/versions?limit=0").await;
    assert_eq!(error(status, &body, 400).1["field"], "limit");
    let (status, body) = api.get("/config/versions?before=soon").await;
    let (_, context) = error(status, &body, 400);
    assert_eq!(context["field"], "query");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("before"),
        "{body}"
    );
}

#[tokio::test]
async fn a_store_that_is_down_refuses_changes_and_keeps_the_config() {
    let api = Api::start().await;
    api.store.close().await;
    let (code, _) = refused(
        &api,
        put(
            &api,
            "/config/values/db.port",
            set_body(json!(6000)).to_string(),
        ),
        503,
    )
    .await;
    assert_eq!(code, "store.unavailable");
    assert_eq!(api.value("", "db.port").await.unwrap().0, 5432);
    let (status, body) = api.get("/config/versions").await;
    assert_eq!(error(status, &body, 503).0, "store.unavailable");
}
