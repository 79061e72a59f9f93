//! The HTTP API, an axum router the node mounts with `Router::merge` (absolute routes).
//!
//! | route | does |
//! | --- | --- |
//! | `GET /alerts` | lists alerts; query `state`, `receiver`, and any number of `filter` matchers (`filter=severity%3D~"warning\|critical"`) |
//! | `POST /alerts` | fires an alert: `{"labels": {...}, "annotations": {...}, "severity": "critical"}` → 201 |
//! | `GET /alerts/{fingerprint}` | one alert |
//! | `POST /alerts/{fingerprint}/ack` | acknowledges it: `{"by": "...", "comment": "..."}` |
//! | `POST /alerts/{fingerprint}/resolve` | resolves it |
//! | `GET /alerts/silences` | lists silences |
//! | `POST /alerts/silences` | creates one: `{"matchers": [...], "duration_ms": 3600000, "createdBy": "...", "comment": "..."}` → 201 |
//! | `GET /alerts/silences/{id}` | one silence |
//! | `DELETE /alerts/silences/{id}` | expires it |
//! | `GET /alerts/status` | receivers with their delivery counters, counts of alerts and silences |
//!
//! Errors are JSON, `{"error": {"code", "number", "message", "context"}}`: 400 for malformed
//! JSON, a bad query, matcher, regex, label or time (the context names the field), 404 for an
//! unknown alert or silence.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use foundation_core::http::error_json;
use foundation_core::{Error, Result};
use serde::Deserialize;

use super::api::{AlertFilter, AlertRequest};
use super::labels::Fingerprint;
use super::manager::AlertManager;
use super::silence::{SilenceId, SilenceRequest};

pub(crate) fn router(manager: AlertManager) -> Router {
    Router::new()
        .route("/alerts", get(list).post(fire))
        .route("/alerts/status", get(status))
        .route("/alerts/silences", get(silences).post(create_silence))
        .route("/alerts/silences/{id}", get(silence).delete(expire_silence))
        .route("/alerts/{fingerprint}", get(one))
        .route("/alerts/{fingerprint}/ack", post(ack))
        .route("/alerts/{fingerprint}/resolve", post(resolve))
        .with_state(manager)
}

/// The body of an acknowledgement.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AckRequest {
    by: String,
    #[serde(default)]
    comment: String,
}

fn reply<T: serde::Serialize>(status: StatusCode, result: Result<T>) -> Response {
    match result {
        Ok(value) => (status, Json(value)).into_response(),
        Err(err) => error_json(&err),
    }
}

fn body<T>(body: std::result::Result<Json<T>, JsonRejection>) -> Result<T> {
    body.map(|Json(v)| v)
        .map_err(|e| Error::invalid_input("body", e.body_text()))
}

async fn list(
    State(m): State<AlertManager>,
    query: std::result::Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let result = query
        .map_err(|e| Error::invalid_input("query", e.body_text()))
        .and_then(|Query(pairs)| AlertFilter::from_query(&pairs))
        .map(|filter| m.alerts(&filter));
    reply(StatusCode::OK, result)
}

async fn fire(
    State(m): State<AlertManager>,
    request: std::result::Result<Json<AlertRequest>, JsonRejection>,
) -> Response {
    reply(StatusCode::CREATED, body(request).and_then(|r| m.fire(&r)))
}

async fn one(State(m): State<AlertManager>, Path(fp): Path<String>) -> Response {
    reply(
        StatusCode::OK,
        Fingerprint::parse(&fp).and_then(|fp| m.alert(fp)),
    )
}

async fn ack(
    State(m): State<AlertManager>,
    Path(fp): Path<String>,
    request: std::result::Result<Json<AckRequest>, JsonRejection>,
) -> Response {
    let result = Fingerprint::parse(&fp).and_then(|fp| {
        let request = body(request)?;
        m.acknowledge(fp, &request.by, &request.comment)
    });
    reply(StatusCode::OK, result)
}

async fn resolve(State(m): State<AlertManager>, Path(fp): Path<String>) -> Response {
    reply(
        StatusCode::OK,
        Fingerprint::parse(&fp).and_then(|fp| m.resolve(fp)),
    )
}

async fn silences(State(m): State<AlertManager>) -> Response {
    reply(StatusCode::OK, Ok(m.silences()))
}

async fn create_silence(
    State(m): State<AlertManager>,
    request: std::result::Result<Json<SilenceRequest>, JsonRejection>,
) -> Response {
    reply(
        StatusCode::CREATED,
        body(request).and_then(|r| m.create_silence(&r)),
    )
}

async fn silence(State(m): State<AlertManager>, Path(id): Path<String>) -> Response {
    reply(
        StatusCode::OK,
        SilenceId::parse(&id).and_then(|id| m.silence(id)),
    )
}

async fn expire_silence(State(m): State<AlertManager>, Path(id): Path<String>) -> Response {
    reply(
        StatusCode::OK,
        SilenceId::parse(&id).and_then(|id| m.expire_silence(id)),
    )
}

async fn status(State(m): State<AlertManager>) -> Response {
    reply(StatusCode::OK, Ok(m.status()))
}
