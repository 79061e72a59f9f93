//! Free-form sections validated by a JSON Schema: every error with its field path and source,
//! refused whole, the running config kept.

use std::collections::BTreeMap;

use foundation_config::{Config, LayerSet, Problem, Schema, Secrets, UnknownKeys};
use foundation_core::{Error, ErrorCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Deserialize, PartialEq)]
struct Route {
    path: String,
    weight: u32,
}

fn schema() -> Schema {
    Schema::new()
        .json_schema(
            "features",
            json!({ "type": "object", "additionalProperties": { "type": "boolean" } }),
        )
        .unwrap()
        .json_schema(
            "routing",
            json!({
                "type": "object",
                "properties": {
                    "routes": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["path", "weight"],
                            "properties": {
                                "path": { "type": "string", "pattern": "^/" },
                                "weight": { "type": "integer", "minimum": 0, "maximum": 100 },
                                "since": { "type": "string", "pattern": "^20" }
                            },
                            "additionalProperties": false
                        }
                    }
                },
                "additionalProperties": false
            }),
        )
        .unwrap()
}

const VALID: &str = "\
[features]
beta = true
dark_mode = false

[[routing.routes]]
path = '/a'
weight = 70
since = 2024-05-01T00:00:00Z

[[routing.routes]]
path = '/b'
weight = 30
";

fn load_valid() -> Config {
    let layers = LayerSet::new().toml_str("app.toml", VALID);
    let (config, warnings) = Config::load(schema(), Secrets::default(), layers).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    config
}

fn routes(config: &Config) -> Vec<Route> {
    config.get("routing.routes").unwrap()
}

fn fields(err: &Error) -> Vec<&str> {
    err.context_values("field").collect()
}

#[test]
fn a_valid_free_form_config_loads_with_datetimes_checked_as_strings() {
    let config = load_valid();
    let flags: BTreeMap<String, bool> = config.get("features").unwrap();
    assert_eq!(
        flags,
        BTreeMap::from([("beta".into(), true), ("dark_mode".into(), false)])
    );
    assert_eq!(
        routes(&config),
        [
            Route {
                path: "/a".into(),
                weight: 70
            },
            Route {
                path: "/b".into(),
                weight: 30
            }
        ]
    );
}

#[test]
fn every_violation_is_reported_with_its_field_path_and_source_file() {
    let bad = "\
[features]
beta = 'yes'
dark_mode = true

[[routing.routes]]
path = '/a'

[[routing.routes]]
path = 'b'
weight = 150
";
    let layers = LayerSet::new().toml_str("routes.toml", bad);
    let err = Config::load(schema(), Secrets::default(), layers).unwrap_err();
    assert!(err.is(ErrorCode::INVALID_CONFIG));
    let mut got = fields(&err);
    got.sort_unstable();
    assert_eq!(
        got,
        [
            "features.beta",
            "routing.routes.0",
            "routing.routes.1.path",
            "routing.routes.1.weight"
        ],
        "{}",
        err.message()
    );
    let msg = err.message();
    for expected in [
        "features.beta: \"yes\" is not of type \"boolean\" (from file routes.toml:2)",
        "routing.routes.0: \"weight\" is a required property (from file routes.toml:6)",
        "routing.routes.1.path: \"b\" does not match \"^/\" (from file routes.toml:9)",
        "routing.routes.1.weight: 150 is greater than the maximum of 100 (from file routes.toml:10)",
    ] {
        assert!(msg.contains(expected), "missing `{expected}` in: {msg}");
    }
}

#[test]
fn an_absent_section_validates_as_an_empty_table() {
    let schema = Schema::new()
        .json_schema("limits", json!({ "type": "object", "required": ["rps"] }))
        .unwrap();
    let err = Config::load(schema, Secrets::default(), LayerSet::new()).unwrap_err();
    assert_eq!(
        err.message(),
        "limits: \"rps\" is a required property",
        "an absent section has no source to name"
    );
}

#[test]
fn an_invalid_change_is_refused_whole_and_the_snapshot_stays() {
    let config = load_valid();
    let before = config.snapshot();
    let err = config
        .apply(
            LayerSet::new()
                .toml_str("app.toml", VALID)
                .set("routing.routes.1.weight", -5)
                .set("features.beta", "on"),
        )
        .unwrap_err();
    assert_eq!(
        fields(&err),
        ["features.beta", "routing.routes.1.weight"],
        "{}",
        err.message()
    );
    assert!(
        err.message().contains("(from override)"),
        "{}",
        err.message()
    );
    assert!(std::sync::Arc::ptr_eq(&before, &config.snapshot()));
    assert_eq!(routes(&config)[1].weight, 30);
    let beta: bool = config.get("features.beta").unwrap();
    assert!(beta);

    let err = config.set("routing.routes.0.colour", "red").unwrap_err();
    assert!(
        err.message().contains(
            "routing.routes.0: Additional properties are not allowed ('colour' was unexpected)"
        ),
        "{}",
        err.message()
    );
    assert!(std::sync::Arc::ptr_eq(&before, &config.snapshot()));
}

#[test]
fn an_invalid_schema_is_refused_at_registration() {
    let err = Schema::new()
        .json_schema(
            "features",
            json!({ "type": "object", "properties": { "beta": { "type": "flag" } } }),
        )
        .unwrap_err();
    assert!(err.is(ErrorCode::INVALID_CONFIG));
    assert_eq!(err.context_value("field"), Some("features"));
    let msg = err.message();
    assert!(msg.starts_with("features: invalid JSON Schema: "), "{msg}");
    assert!(msg.contains("/properties/beta/type"), "{msg}");
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
struct Db {
    host: String,
}

#[test]
fn free_form_keys_are_known_next_to_typed_sections_but_strays_are_not() {
    let schema = schema()
        .section::<Db>("db")
        .unknown_keys(UnknownKeys::Error);
    let layers = LayerSet::new()
        .toml_str("app.toml", VALID)
        .set("db.host", "h")
        .set("features.anything_new", true);
    Config::load(schema.clone(), Secrets::default(), layers.clone()).unwrap();

    let err = Config::load(
        schema.clone(),
        Secrets::default(),
        layers.clone().set("stray", 1).set("db.hots", "x"),
    )
    .unwrap_err();
    assert_eq!(fields(&err), ["stray", "db.hots"], "{}", err.message());

    let (_, warnings) = Config::load(
        schema.unknown_keys(UnknownKeys::Warn),
        Secrets::default(),
        layers.set("stray", 1),
    )
    .unwrap();
    assert_eq!(
        warnings,
        [Problem::new("stray", "unknown key (from override)")]
    );
}

#[test]
fn secrets_in_free_form_sections_never_reach_the_error_text() {
    let schema = Schema::new()
        .json_schema(
            "upstream",
            json!({
                "type": "object",
                "maxProperties": 1,
                "properties": {
                    "password": { "type": "string", "maxLength": 4 },
                    "api_password": { "type": "string" }
                }
            }),
        )
        .unwrap();
    let layers = LayerSet::new().toml_str(
        "app.toml",
        "[upstream]\npassword = 'pa\"ss\\wd'\napi_password = 424242\n",
    );
    let err = Config::load(schema, Secrets::default(), layers).unwrap_err();
    let msg = err.message();
    assert_eq!(
        fields(&err).len(),
        3,
        "table, string and number errors: {msg}"
    );
    for leak in ["pa\"ss", "ss\\wd", "ss\\\\wd", "424242"] {
        assert!(!msg.contains(leak), "secret leaked ({leak}): {msg}");
    }
    assert!(
        msg.contains("upstream.password: \"***\" is longer than 4 characters"),
        "{msg}"
    );
    assert!(
        msg.contains("upstream.api_password: *** is not of type \"string\""),
        "{msg}"
    );
    assert!(
        msg.contains("upstream: the table has more than 1 property"),
        "{msg}"
    );
}
