//! The config service's HTTP API: an axum router with absolute `/config…` routes, merged into
//! the node's router (`Router::merge`) as observe's routers are.
//!
//! | route | does |
//! | --- | --- |
//! | `GET /config` | `{"version", "values": [{"path", "value", "source"}], "agents": [id]}`; `?agent=ID` shows that agent's effective values |
//! | `GET /config/explain/{path}` | `{"path", "value", "chain": [source], "winner"}` for the dotted path; `?agent=ID` explains that agent's value |
//! | `PUT /config/values/{path}` | sets an override: `{"value": <json>, "author", "reason"}`; `?agent=ID` for that agent only → `{"version", "changes", "warnings"}` |
//! | `DELETE /config/values/{path}?author=…&reason=…` | removes the overrides at or under the path (`&agent=ID`: that agent's); 404 when there are none |
//! | `POST /config/reload` | reads the files again: `{"author", "reason"}` |
//! | `GET /config/versions?before=N&limit=N` | stored versions, newest first (at most 50 unless `limit`, up to 1000) |
//! | `GET /config/versions/{n}` | one version: `{"version", "author", "reason", "created_at_ms", "changes"}` |
//! | `POST /config/versions/{n}/rollback` | applies version `n` again as a new version: `{"author", "reason"}` |
//!
//! Every value is shown as the snapshot shows it: secrets are `"***"`. A value in a body is
//! JSON turned into a TOML value (a null or an array mixing types is refused, naming the
//! field). `DELETE` takes its author and reason from the query, as proxies may drop a
//! `DELETE` body. Bodies are capped at 64 KiB.
//!
//! Errors are `foundation_core::http`'s JSON (`{"error": {"code", "number", "message",
//! "context"}}`): 400 for malformed JSON, a missing or empty field, an oversized body or a
//! bad query (the context names the field), 400 `INVALID_CONFIG` for a value the schema
//! refuses (one `field` per bad field), 404 for an unknown version or override, 503 when the
//! store is down. A refused request changes nothing.

mod body;
mod value;

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use foundation_core::http::error_json;
use foundation_core::{Error, Result};
use serde::Deserialize;
use serde_json::{Value as JsonValue, json};

use self::body::Fields;
use self::value::to_toml;
use crate::json::to_json;
use crate::{Applied, ConfigService, Explanation, Version};

/// The largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// How many versions `GET /config/versions` lists unless `limit` says otherwise.
const DEFAULT_LIMIT: usize = 50;
/// The largest `limit` accepted.
const MAX_LIMIT: usize = 1000;

type Service = Arc<ConfigService>;
type Body = std::result::Result<Json<JsonValue>, JsonRejection>;

/// The routes above over `service`.
pub fn router(service: Arc<ConfigService>) -> Router {
    Router::new()
        .route("/config", get(values))
        .route("/config/explain/{*path}", get(explain))
        .route("/config/values/{*path}", put(set).delete(unset))
        .route("/config/reload", post(reload))
        .route("/config/versions", get(versions))
        .route("/config/versions/{version}", get(version))
        .route("/config/versions/{version}/rollback", post(rollback))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(service)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentQuery {
    agent: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UnsetQuery {
    agent: Option<String>,
    author: Option<String>,
    reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    before: Option<u64>,
    limit: Option<usize>,
}

fn reply(result: Result<JsonValue>) -> Response {
    match result {
        Ok(body) => (StatusCode::OK, Json(body)).into_response(),
        Err(err) => error_json(&err),
    }
}

fn query<T>(query: std::result::Result<Query<T>, QueryRejection>) -> Result<T> {
    query
        .map(|Query(q)| q)
        .map_err(|e| Error::invalid_input("query", e.body_text()))
}

/// The `agent` of a query, which must not be blank when given.
fn agent(agent: Option<String>) -> Result<Option<String>> {
    match agent {
        Some(a) if a.trim().is_empty() => Err(Error::invalid_input("agent", "empty")),
        other => Ok(other),
    }
}

/// A dotted path from the URL: non-empty segments.
fn dotted(path: &str) -> Result<&str> {
    if path.split('.').any(str::is_empty) {
        return Err(Error::invalid_input(
            "path",
            format_args!(
                "`{}` is not a dotted path",
                foundation_core::http::echo(path)
            ),
        ));
    }
    Ok(path)
}

fn version_number(raw: &str) -> Result<u64> {
    raw.parse().map_err(|_| {
        Error::invalid_input(
            "version",
            format_args!(
                "`{}` is not a version number",
                foundation_core::http::echo(raw)
            ),
        )
    })
}

async fn values(
    State(s): State<Service>,
    q: std::result::Result<Query<AgentQuery>, QueryRejection>,
) -> Response {
    reply(query(q).and_then(|q| {
        let agent = agent(q.agent)?;
        let snapshot = s.config().snapshot();
        let values: Vec<JsonValue> = snapshot
            .values(agent.as_deref())
            .into_iter()
            .map(|(path, value, source)| {
                json!({"path": path, "value": to_json(&value), "source": source.to_string()})
            })
            .collect();
        let agents: Vec<&str> = snapshot.agents().collect();
        Ok(json!({"version": snapshot.version(), "values": values, "agents": agents}))
    }))
}

async fn explain(
    State(s): State<Service>,
    Path(path): Path<String>,
    q: std::result::Result<Query<AgentQuery>, QueryRejection>,
) -> Response {
    reply(query(q).and_then(|q| {
        let path = dotted(&path)?;
        let config = s.config();
        Ok(explanation(&match agent(q.agent)? {
            Some(agent) => config.effective(&agent, path),
            None => config.explain(path),
        }))
    }))
}

fn explanation(e: &Explanation) -> JsonValue {
    json!({
        "path": e.path,
        "value": e.value.as_ref().map(to_json),
        "chain": e.chain.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "winner": e.winner().map(ToString::to_string),
    })
}

fn applied(a: Applied) -> JsonValue {
    let warnings: Vec<JsonValue> = a
        .warnings
        .iter()
        .map(|p| json!({"field": p.field, "message": p.message}))
        .collect();
    json!({"version": a.version, "changes": a.changes, "warnings": warnings})
}

fn shown(v: Version) -> JsonValue {
    json!({
        "version": v.version,
        "author": v.author,
        "reason": v.reason,
        "created_at_ms": v.created_at_ms,
        "changes": v.changes,
    })
}

async fn set(
    State(s): State<Service>,
    Path(path): Path<String>,
    q: std::result::Result<Query<AgentQuery>, QueryRejection>,
    body: Body,
) -> Response {
    let result = async {
        let agent = agent(query(q)?.agent)?;
        let path = dotted(&path)?;
        let mut fields = Fields::parse(body, &["value", "author", "reason"])?;
        let value = to_toml("value", fields.take("value")?)?;
        let by = fields.attribution()?;
        match agent {
            Some(agent) => s.set_for(&agent, path, value, by).await,
            None => s.set(path, value, by).await,
        }
    };
    reply(result.await.map(applied))
}

async fn unset(
    State(s): State<Service>,
    Path(path): Path<String>,
    q: std::result::Result<Query<UnsetQuery>, QueryRejection>,
) -> Response {
    let result = async {
        let q = query(q)?;
        let path = dotted(&path)?;
        let by = body::attribution(q.author, q.reason)?;
        match agent(q.agent)? {
            Some(agent) => s.unset_for(&agent, path, by).await,
            None => s.unset(path, by).await,
        }
    };
    reply(result.await.map(applied))
}

async fn reload(State(s): State<Service>, body: Body) -> Response {
    let result = async {
        let by = Fields::parse(body, &["author", "reason"])?.attribution()?;
        s.reload(by).await
    };
    reply(result.await.map(applied))
}

async fn versions(
    State(s): State<Service>,
    q: std::result::Result<Query<HistoryQuery>, QueryRejection>,
) -> Response {
    let result = async {
        let q = query(q)?;
        let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(Error::invalid_input(
                "limit",
                format_args!("{limit} is not between 1 and {MAX_LIMIT}"),
            ));
        }
        let list = s.history(q.before, limit).await?;
        Ok(json!({"versions": list.into_iter().map(shown).collect::<Vec<_>>()}))
    };
    reply(result.await)
}

async fn version(State(s): State<Service>, Path(raw): Path<String>) -> Response {
    let result = async { s.version(version_number(&raw)?).await };
    reply(result.await.map(shown))
}

async fn rollback(State(s): State<Service>, Path(raw): Path<String>, body: Body) -> Response {
    let result = async {
        let version = version_number(&raw)?;
        let by = Fields::parse(body, &["author", "reason"])?.attribution()?;
        s.rollback(version, by).await
    };
    reply(result.await.map(applied))
}
