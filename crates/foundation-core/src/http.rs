//! The JSON error every Foundation HTTP router answers with (feature `http`).
//!
//! `{"error": {"code", "number", "message", "context"}}`, with a status matching the code:
//! 404 for `NOT_FOUND`, 400 for invalid input or config, 409 for `ALREADY_EXISTS`, 503 for an
//! unavailable or shut-down component or store, 500 otherwise. A context key given once maps
//! to its value; a key given several times (`field` of an `INVALID_CONFIG` error naming
//! every bad field) maps to the array of its values, in order.
//!
//! ```
//! use foundation_core::http::{error_json, status_of};
//! use foundation_core::{Error, ErrorCode};
//!
//! let response = error_json(&Error::invalid_input("limit", "not a number"));
//! assert_eq!(response.status(), status_of(ErrorCode::INVALID_INPUT));
//! assert_eq!(response.status().as_u16(), 400);
//! ```

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::{Error, ErrorCode};

/// Most characters of a client's text echoed back in an error.
pub const MAX_ECHO: usize = 64;

/// At most [`MAX_ECHO`] characters of a client's text, for quoting it in an error.
pub fn echo(text: &str) -> String {
    text.chars().take(MAX_ECHO).collect()
}

/// The HTTP status an error with `code` answers with.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::NOT_FOUND => StatusCode::NOT_FOUND,
        ErrorCode::INVALID_INPUT | ErrorCode::INVALID_CONFIG => StatusCode::BAD_REQUEST,
        ErrorCode::ALREADY_EXISTS => StatusCode::CONFLICT,
        ErrorCode::UNAVAILABLE | ErrorCode::SHUTDOWN | ErrorCode::STORE_UNAVAILABLE => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The JSON body of `err`: `{"error": {"code", "number", "message", "context"}}`.
pub fn error_body(err: &Error) -> Value {
    let mut context = Map::new();
    for (key, value) in err.context() {
        match context.get_mut(key) {
            None => {
                context.insert(key.to_string(), json!(value));
            }
            Some(Value::Array(values)) => values.push(json!(value)),
            Some(first) => *first = json!([first.take(), value]),
        }
    }
    json!({
        "error": {
            "code": err.code().name(),
            "number": err.code().number(),
            "message": err.message(),
            "context": context,
        }
    })
}

/// `err` as a JSON error response with the status [`status_of`] its code.
pub fn error_json(err: &Error) -> Response {
    (
        status_of(err.code()),
        [(header::CONTENT_TYPE, "application/json")],
        error_body(err).to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_context_keys_become_arrays() {
        let err = Error::new(ErrorCode::INVALID_CONFIG, "two bad fields")
            .with_context("field", "a.b")
            .with_context("field", "c")
            .with_context("config", "app");
        let body = error_body(&err);
        assert_eq!(body["error"]["context"]["field"], json!(["a.b", "c"]));
        assert_eq!(body["error"]["context"]["config"], json!("app"));
        assert_eq!(body["error"]["number"], json!(1001));
        assert_eq!(body["error"]["code"], json!("core.invalid_config"));
    }

    #[test]
    fn statuses_follow_codes() {
        assert_eq!(status_of(ErrorCode::NOT_FOUND), StatusCode::NOT_FOUND);
        assert_eq!(
            status_of(ErrorCode::INVALID_CONFIG),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status_of(ErrorCode::STORE_UNAVAILABLE),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status_of(ErrorCode::STORE_CORRUPT),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
