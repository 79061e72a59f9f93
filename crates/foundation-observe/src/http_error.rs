//! The JSON error every HTTP router of this crate answers with.
//!
//! `{"error": {"code", "number", "message", "context"}}`, with a status matching the code:
//! 404 for `NOT_FOUND`, 400 for invalid input or config, 409 for `ALREADY_EXISTS`, 503 for an
//! unavailable or shut-down component, 500 otherwise.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use foundation_core::{Error, ErrorCode};
use serde_json::{Map, Value, json};

/// Most characters of a client's text echoed back in an error.
const MAX_ECHO: usize = 64;

/// At most [`MAX_ECHO`] characters of a client's text, for quoting it in an error.
pub(crate) fn echo(text: &str) -> String {
    text.chars().take(MAX_ECHO).collect()
}

/// The HTTP status an error with `code` answers with.
pub(crate) fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::NOT_FOUND => StatusCode::NOT_FOUND,
        ErrorCode::INVALID_INPUT | ErrorCode::INVALID_CONFIG => StatusCode::BAD_REQUEST,
        ErrorCode::ALREADY_EXISTS => StatusCode::CONFLICT,
        ErrorCode::UNAVAILABLE | ErrorCode::SHUTDOWN => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// `err` as a JSON error response.
pub(crate) fn error_json(err: &Error) -> Response {
    let context: Map<String, Value> = err
        .context()
        .map(|(key, value)| (key.to_string(), json!(value)))
        .collect();
    let body = json!({
        "error": {
            "code": err.code().name(),
            "number": err.code().number(),
            "message": err.message(),
            "context": context,
        }
    });
    (
        status_of(err.code()),
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}
