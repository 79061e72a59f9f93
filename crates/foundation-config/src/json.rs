//! TOML values as JSON (for JSON Schema validation and the HTTP API).

use serde_json::{Map, Number, Value as Json};
use toml::Value;

/// `value` as JSON: datetimes and non-finite floats, which JSON cannot hold, become their TOML
/// text.
pub(crate) fn to_json(value: &Value) -> Json {
    match value {
        Value::String(s) => Json::String(s.clone()),
        Value::Integer(i) => Json::Number((*i).into()),
        Value::Float(f) => {
            Number::from_f64(*f).map_or_else(|| Json::String(f.to_string()), Json::Number)
        }
        Value::Boolean(b) => Json::Bool(*b),
        Value::Datetime(d) => Json::String(d.to_string()),
        Value::Array(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Table(table) => Json::Object(
            table
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect::<Map<_, _>>(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_json_cannot_hold_become_their_toml_text() {
        let doc: toml::Table =
            toml::from_str("when = 1979-05-27T07:32:00Z\nfar = inf\nn = 1\nx = 0.5").unwrap();
        let json = to_json(&Value::Table(doc));
        assert_eq!(
            json,
            serde_json::json!({"when": "1979-05-27T07:32:00Z", "far": "inf", "n": 1, "x": 0.5})
        );
    }
}
