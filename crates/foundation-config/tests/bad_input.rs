//! Bad input is refused whole with field-named errors, and the previous config stays.

use foundation_config::{
    Config, EnvSource, LayerSet, Problem, Schema, Secrets, Source, UnknownKeys,
};
use foundation_core::{ErrorCode, Result, Validate, Validator};
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
struct Breaker {
    failure_rate_threshold: f64,
    password: String,
}

impl Validate for Breaker {
    fn validate_into(&self, v: &mut Validator) {
        v.range(
            "failure_rate_threshold",
            self.failure_rate_threshold,
            0.0,
            100.0,
        );
    }
}

const AT: &str = "protection.api.breaker";

fn base() -> LayerSet {
    LayerSet::new().toml_str(
        "app.toml",
        "[protection.api.breaker]\nfailure_rate_threshold = 50.0\npassword = 'hunter22'\n",
    )
}

fn load(policy: UnknownKeys) -> (Config, Vec<Problem>) {
    let schema = Schema::new().unknown_keys(policy).validated::<Breaker>(AT);
    Config::load(schema, Secrets::default(), base()).unwrap()
}

fn still_serving(config: &Config) {
    let b: Breaker = config.get(AT).unwrap();
    assert_eq!(b.failure_rate_threshold, 50.0);
}

#[test]
fn malformed_toml_names_the_document_and_line() {
    let (config, _) = load(UnknownKeys::Error);
    let err = config
        .apply(LayerSet::new().toml_str("bad.toml", "[a]\nx = 1\ny = = 2\n"))
        .unwrap_err();
    assert!(err.is(ErrorCode::INVALID_CONFIG));
    assert!(err.message().contains("bad.toml:3"), "{}", err.message());
    still_serving(&config);
}

#[test]
fn wrong_type_names_field_and_env_var() {
    let (config, _) = load(UnknownKeys::Error);
    let var = "APP_PROTECTION__API__BREAKER__FAILURE_RATE_THRESHOLD";
    let err = config
        .apply(base().env(EnvSource::new("APP_", [(var, "high")])))
        .unwrap_err();
    let msg = err.message();
    assert!(
        msg.contains("protection.api.breaker.failure_rate_threshold"),
        "{msg}"
    );
    assert!(msg.contains("\"high\""), "{msg}");
    assert!(msg.contains(&format!("from env {var}")), "{msg}");
    assert_eq!(
        err.context_value("field"),
        Some("protection.api.breaker.failure_rate_threshold")
    );
    still_serving(&config);
}

#[test]
fn out_of_range_is_refused_by_the_validator() {
    let (config, _) = load(UnknownKeys::Error);
    let err = config
        .set(&format!("{AT}.failure_rate_threshold"), 150.0)
        .unwrap_err();
    assert!(
        err.message()
            .contains("failure_rate_threshold: must be within"),
        "{}",
        err.message()
    );
    assert!(err.message().contains("from override"), "{}", err.message());
    still_serving(&config);
}

#[test]
fn custom_validators_report_every_error() {
    let schema =
        Schema::new()
            .validated::<Breaker>(AT)
            .validator(AT, |b: &Breaker| -> Result<()> {
                let mut v = Validator::new(AT);
                v.check(
                    b.password.len() >= 12,
                    "password",
                    "must be at least 12 characters",
                );
                v.finish()
            });
    let err = Config::load(
        schema,
        Secrets::default(),
        base().set(format!("{AT}.failure_rate_threshold"), -1.0),
    )
    .unwrap_err();
    assert_eq!(err.context_values("field").count(), 2, "{}", err.message());
    assert!(
        !err.message().contains("hunter22"),
        "secret leaked: {}",
        err.message()
    );
}

#[test]
fn env_var_that_cannot_be_placed_is_named() {
    let (config, _) = load(UnknownKeys::Error);
    let err = config
        .apply(base().env(EnvSource::new("APP_", [("APP_PROTECTION__API__0", "1")])))
        .unwrap_err();
    assert!(
        err.message().contains("APP_PROTECTION__API__0"),
        "{}",
        err.message()
    );
    assert!(err.message().contains("not an array"), "{}", err.message());
    still_serving(&config);
}

#[test]
fn unknown_keys_error_or_warn() {
    let (config, _) = load(UnknownKeys::Error);
    let typo = base()
        .set(format!("{AT}.failure_rate_treshold"), 1.0)
        .set("stray", 1);
    let err = config.apply(typo.clone()).unwrap_err();
    assert!(
        err.message()
            .contains("protection.api.breaker.failure_rate_treshold: unknown key"),
        "{}",
        err.message()
    );
    assert!(
        err.message().contains("stray: unknown key"),
        "{}",
        err.message()
    );
    still_serving(&config);

    let (config, _) = load(UnknownKeys::Warn);
    let warnings = config.apply(typo).unwrap().warnings;
    let fields: Vec<_> = warnings.iter().map(|w| w.field.as_str()).collect();
    assert_eq!(
        fields,
        ["stray", "protection.api.breaker.failure_rate_treshold"]
    );
    assert_eq!(config.explain("stray").winner(), Some(&Source::Override));
}

#[test]
fn a_secret_of_the_wrong_type_is_not_echoed() {
    let (config, _) = load(UnknownKeys::Error);
    let err = config.set(&format!("{AT}.password"), 98765).unwrap_err();
    assert!(
        err.message().contains("protection.api.breaker.password"),
        "{}",
        err.message()
    );
    assert!(
        !err.message().contains("98765"),
        "secret leaked: {}",
        err.message()
    );
    still_serving(&config);
}
