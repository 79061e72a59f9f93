//! Checking JSON payloads before they are stored.

use foundation_core::error::{Error, ErrorCode, Result};
use serde_json::Value;

/// Encodes `value` as JSON text, refusing it unless it is an object (`require_object`) and its
/// text fits in `max_bytes`. `field` names the payload in the error.
pub(crate) fn encode(
    field: &'static str,
    value: &Value,
    require_object: bool,
    max_bytes: usize,
) -> Result<String> {
    if require_object && !value.is_object() {
        return Err(Error::invalid_input(
            field,
            format_args!("must be a JSON object, got {}", kind(value)),
        ));
    }
    let text = value.to_string();
    check_size(field, text.len(), max_bytes)?;
    Ok(text)
}

/// `STORE_PAYLOAD_TOO_LARGE` when `len` exceeds `max_bytes`.
pub(crate) fn check_size(field: &'static str, len: usize, max_bytes: usize) -> Result<()> {
    if len > max_bytes {
        return Err(Error::new(
            ErrorCode::STORE_PAYLOAD_TOO_LARGE,
            format!("{field} is {len} bytes of JSON, over the limit of {max_bytes}"),
        )
        .with_context("field", field)
        .with_context("bytes", len)
        .with_context("limit", max_bytes));
    }
    Ok(())
}

/// Decodes stored JSON text; a row that does not parse is reported as corrupt.
pub(crate) fn decode(field: &'static str, text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| {
        Error::new(
            ErrorCode::STORE_CORRUPT,
            format!("stored {field} is not valid JSON"),
        )
        .with_context("field", field)
        .with_source(e)
    })
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn non_objects_are_refused_naming_the_field_and_kind() {
        let err = encode("payload", &json!([1, 2]), true, 100).unwrap_err();
        assert_eq!(err.code(), ErrorCode::INVALID_INPUT);
        assert_eq!(err.context_value("field"), Some("payload"));
        assert!(err.message().contains("an array"), "{err}");
    }

    #[test]
    fn oversize_payloads_are_refused_with_both_sizes() {
        let err = encode("data", &json!({"k": "x".repeat(50)}), true, 20).unwrap_err();
        assert_eq!(err.code(), ErrorCode::STORE_PAYLOAD_TOO_LARGE);
        assert_eq!(err.context_value("limit"), Some("20"));
        assert_eq!(encode("data", &json!({}), true, 20).unwrap(), "{}");
    }

    #[test]
    fn unparsable_stored_text_is_corrupt() {
        assert_eq!(
            decode("payload", "{not json").unwrap_err().code(),
            ErrorCode::STORE_CORRUPT
        );
    }
}
