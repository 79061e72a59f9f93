//! A request's JSON object body, read field by field so every error names its field.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use foundation_core::{Error, Result};
use serde_json::{Map, Value as JsonValue};

use super::MAX_BODY_BYTES;
use crate::Attribution;

/// The fields of a JSON object body.
pub(super) struct Fields(Map<String, JsonValue>);

impl Fields {
    /// The body as an object with only `allowed` fields; `INVALID_INPUT` (field `body`, or
    /// the unknown field) otherwise.
    pub(super) fn parse(
        body: std::result::Result<Json<JsonValue>, JsonRejection>,
        allowed: &[&str],
    ) -> Result<Fields> {
        let Json(body) = body.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Error::invalid_input("body", format_args!("larger than {MAX_BODY_BYTES} bytes"))
                    .with_context("limit", MAX_BODY_BYTES)
            } else {
                Error::invalid_input("body", e.body_text())
            }
        })?;
        let JsonValue::Object(fields) = body else {
            return Err(Error::invalid_input("body", "not a JSON object"));
        };
        if let Some(unknown) = fields.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(Error::invalid_input(
                foundation_core::http::echo(unknown),
                format_args!("unknown field; expected one of {}", allowed.join(", ")),
            ));
        }
        Ok(Fields(fields))
    }

    /// The field `name`, which must be present (it may be any JSON, null included).
    pub(super) fn take(&mut self, name: &str) -> Result<JsonValue> {
        self.0
            .remove(name)
            .ok_or_else(|| Error::invalid_input(name, "missing"))
    }

    /// The `author` and `reason` fields.
    pub(super) fn attribution(mut self) -> Result<Attribution> {
        let mut text = |name: &str| match self.0.remove(name) {
            None => Ok(None),
            Some(JsonValue::String(s)) => Ok(Some(s)),
            Some(_) => Err(Error::invalid_input(name, "not a string")),
        };
        let author = text("author")?;
        let reason = text("reason")?;
        attribution(author, reason)
    }
}

/// Who made a change and why; each must be given and not blank.
pub(super) fn attribution(author: Option<String>, reason: Option<String>) -> Result<Attribution> {
    let required = |name: &str, value: Option<String>| match value {
        Some(v) if !v.trim().is_empty() => Ok(v),
        Some(_) => Err(Error::invalid_input(name, "empty")),
        None => Err(Error::invalid_input(name, "missing")),
    };
    Ok(Attribution::new(
        required("author", author)?,
        required("reason", reason)?,
    ))
}
