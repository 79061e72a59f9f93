//! Config values in HTTP bodies: JSON in, TOML values for the config, and back.

use foundation_core::{Error, Result};
use serde_json::{Number, Value as Json};
use toml::Value;

/// The JSON `json` (found at `field` of the request) as a TOML value. `INVALID_INPUT` naming
/// the field (`value.servers.1`) for a null, a number TOML cannot hold, or an array mixing
/// types.
pub(crate) fn to_toml(field: &str, json: Json) -> Result<Value> {
    match json {
        Json::Null => Err(Error::invalid_input(field, "null is not a config value")),
        Json::Bool(b) => Ok(Value::Boolean(b)),
        Json::String(s) => Ok(Value::String(s)),
        Json::Number(n) => number(field, &n),
        Json::Array(items) => {
            let values = items
                .into_iter()
                .enumerate()
                .map(|(i, item)| to_toml(&format!("{field}.{i}"), item))
                .collect::<Result<Vec<_>>>()?;
            if let Some(first) = values.first() {
                if let Some(other) = values.iter().find(|v| v.type_str() != first.type_str()) {
                    return Err(Error::invalid_input(
                        field,
                        format_args!(
                            "an array mixes types ({} and {})",
                            first.type_str(),
                            other.type_str()
                        ),
                    ));
                }
            }
            Ok(Value::Array(values))
        }
        Json::Object(entries) => entries
            .into_iter()
            .map(|(k, v)| Ok((k.clone(), to_toml(&format!("{field}.{k}"), v)?)))
            .collect::<Result<toml::Table>>()
            .map(Value::Table),
    }
}

fn number(field: &str, n: &Number) -> Result<Value> {
    if let Some(i) = n.as_i64() {
        Ok(Value::Integer(i))
    } else if n.is_f64() {
        Ok(Value::Float(n.as_f64().unwrap_or_default()))
    } else {
        Err(Error::invalid_input(
            field,
            format_args!("{n} does not fit a 64-bit signed integer"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::json::to_json;

    #[test]
    fn json_round_trips_through_toml() {
        let json = json!({"host": "db", "port": 5432, "ratio": 0.5, "on": true, "tags": ["a", "b"],
            "servers": [{"host": "a"}, {"host": "b", "port": 1}]});
        let value = to_toml("value", json.clone()).unwrap();
        assert_eq!(value["servers"][1]["port"].as_integer(), Some(1));
        assert_eq!(to_json(&value), json);
    }

    #[test]
    fn null_mixed_arrays_and_huge_numbers_name_the_field() {
        let field = |json: Json| {
            let err = to_toml("value", json).unwrap_err();
            assert!(err.is(foundation_core::ErrorCode::INVALID_INPUT), "{err}");
            err.context_value("field").unwrap().to_string()
        };
        assert_eq!(field(json!(null)), "value");
        assert_eq!(field(json!({"a": {"b": null}})), "value.a.b");
        assert_eq!(field(json!({"list": [1, "two"]})), "value.list");
        assert_eq!(field(json!([[1], [null]])), "value.1.0");
        assert_eq!(field(json!(u64::MAX)), "value");
    }
}
