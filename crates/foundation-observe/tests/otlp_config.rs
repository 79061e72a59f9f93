//! The OTLP export's config: defaults, TOML, and bad values named by field.
#![cfg(feature = "otel")]

use std::time::Duration;

use foundation_core::{ErrorCode, Validate};
use foundation_observe::trace::{OtlpConfig, otlp_layer};
use tracing_subscriber::Registry;

fn fields(config: &OtlpConfig) -> Vec<String> {
    let err = config.validate_at("otlp").unwrap_err();
    assert!(err.is(ErrorCode::INVALID_CONFIG), "{err}");
    err.context_values("field").map(str::to_string).collect()
}

#[test]
fn defaults_are_valid_and_toml_round_trips() {
    let config = OtlpConfig::default();
    config.validate().unwrap();
    assert_eq!(config.traces_url(), "http://127.0.0.1:4318/v1/traces");

    let parsed: OtlpConfig = toml::from_str(
        "endpoint = \"https://collector.example:4318/\"\nservice_name = \"api\"\ntimeout_ms = 2500",
    )
    .unwrap();
    assert_eq!(parsed.timeout, Duration::from_millis(2500));
    assert_eq!(
        parsed.traces_url(),
        "https://collector.example:4318/v1/traces"
    );
    assert!(toml::from_str::<OtlpConfig>("endpont = \"x\"").is_err());
}

#[test]
fn bad_values_are_named_by_field() {
    let bad = OtlpConfig {
        endpoint: "grpc://collector:4317".into(),
        service_name: " ".into(),
        timeout: Duration::ZERO,
    };
    assert_eq!(
        fields(&bad),
        ["otlp.endpoint", "otlp.service_name", "otlp.timeout_ms"]
    );
    for endpoint in [
        "http://",
        "http:///path",
        "http://host name",
        "http://h?q=1",
    ] {
        let config = OtlpConfig {
            endpoint: endpoint.into(),
            ..OtlpConfig::default()
        };
        assert_eq!(fields(&config), ["otlp.endpoint"], "{endpoint}");
    }
}

#[test]
fn the_layer_refuses_a_bad_config_and_a_missing_runtime() {
    let bad = OtlpConfig {
        endpoint: "collector:4318".into(),
        ..OtlpConfig::default()
    };
    let Err(err) = otlp_layer::<Registry>(&bad) else {
        panic!("a bad endpoint was accepted");
    };
    assert_eq!(err.context_value("field"), Some("otlp.endpoint"));

    let Err(err) = otlp_layer::<Registry>(&OtlpConfig::default()) else {
        panic!("the layer was made without a runtime");
    };
    assert!(err.is(ErrorCode::INVALID_CONFIG));
    assert!(err.message().contains("tokio runtime"), "{err}");
}
