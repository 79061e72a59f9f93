//! The axum router the node mounts.
//!
//! | route | checks |
//! | --- | --- |
//! | `GET /health` | every quick check |
//! | `GET /health/live` | the quick checks in the liveness group |
//! | `GET /health/ready` | the quick checks in the readiness group |
//! | `GET /health/checks/{key}` | one check, whatever its depth: its kept results, oldest first, ending with the current one |
//!
//! The first three take one optional query parameter, `deep` (`true`, `false`, `1`, `0`, or
//! bare `?deep` for true), which adds the deep checks. Reports answer with
//! `application/health+json` and 200 for pass or warn, 503 for fail. Bad requests get a JSON
//! error (`application/json`) naming the problem: 400 for a malformed or unknown query
//! parameter, 404 for an unknown check.
//!
//! The routes are absolute: the node adds them with `Router::merge`, not `nest`.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use foundation_core::Error;
use foundation_core::http::{echo, error_json};

use super::aggregator::{HealthAggregator, Scope};
use super::options::Group;
use super::report::{HEALTH_JSON, HealthReport};

pub(crate) fn router(aggregator: HealthAggregator) -> Router {
    Router::new()
        .route("/health", get(all))
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/health/checks/{key}", get(history))
        .with_state(aggregator)
}

async fn all(State(aggregator): State<HealthAggregator>, RawQuery(query): RawQuery) -> Response {
    report(aggregator, None, query).await
}

async fn live(State(aggregator): State<HealthAggregator>, RawQuery(query): RawQuery) -> Response {
    report(aggregator, Some(Group::Liveness), query).await
}

async fn ready(State(aggregator): State<HealthAggregator>, RawQuery(query): RawQuery) -> Response {
    report(aggregator, Some(Group::Readiness), query).await
}

async fn history(State(aggregator): State<HealthAggregator>, Path(key): Path<String>) -> Response {
    // The current result first (cached within its TTL), so the history ends with it.
    let current = aggregator.check(&key).await;
    match current.and_then(|_| aggregator.history(&key)) {
        Ok(check) => {
            let report = HealthReport::new(aggregator.config(), vec![check]);
            health_json(&report)
        }
        Err(err) => error_json(&err),
    }
}

async fn report(
    aggregator: HealthAggregator,
    group: Option<Group>,
    query: Option<String>,
) -> Response {
    let deep = match parse_deep(query.as_deref().unwrap_or("")) {
        Ok(deep) => deep,
        Err(err) => return error_json(&err),
    };
    let scope = Scope { group, deep };
    health_json(&aggregator.report(scope).await)
}

/// Reads the query string: only `deep` is known.
fn parse_deep(query: &str) -> Result<bool, Error> {
    let mut deep = false;
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name != "deep" {
            return Err(Error::invalid_input(
                "query",
                format!(
                    "unknown parameter \"{}\"; the only parameter is deep",
                    echo(name)
                ),
            ));
        }
        deep = match value {
            "" | "true" | "1" => true,
            "false" | "0" => false,
            other => {
                return Err(Error::invalid_input(
                    "deep",
                    format!("must be true, false, 1 or 0, got \"{}\"", echo(other)),
                ));
            }
        };
    }
    Ok(deep)
}

fn health_json(report: &HealthReport) -> Response {
    let status =
        StatusCode::from_u16(report.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [
            (header::CONTENT_TYPE, HEALTH_JSON),
            (header::CACHE_CONTROL, "no-store"),
        ],
        report.to_body(),
    )
        .into_response()
}
