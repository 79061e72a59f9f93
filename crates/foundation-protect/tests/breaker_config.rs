//! Bad configuration is refused with an error naming the field; the registry and TOML.

use std::time::Duration;

use foundation_core::{Error, ErrorCode, ManualClock, TelemetryBus};
use foundation_protect::breaker::{
    BreakerConfig, BreakerRegistry, BreakerState, CircuitBreaker, ClassThresholds, OpenBackoff,
    RegistryConfig, WindowConfig,
};
use foundation_protect::outcome::Outcome;

fn refused(config: BreakerConfig) -> Error {
    let err = CircuitBreaker::new("db", config).unwrap_err();
    assert!(err.is(ErrorCode::INVALID_CONFIG), "{err}");
    err
}

fn fields(err: &Error) -> Vec<&str> {
    err.context_values("field").collect()
}

#[test]
fn every_bad_field_is_named() {
    let cases: Vec<(BreakerConfig, &str)> = vec![
        (
            BreakerConfig {
                window: WindowConfig::Count { size: 0 },
                ..Default::default()
            },
            "breaker.window.size",
        ),
        (
            BreakerConfig {
                window: WindowConfig::Count { size: 1_000_000 },
                ..Default::default()
            },
            "breaker.window.size",
        ),
        (
            BreakerConfig {
                window: WindowConfig::Time {
                    duration: Duration::ZERO,
                    buckets: 10,
                },
                ..Default::default()
            },
            "breaker.window.duration_ms",
        ),
        (
            BreakerConfig {
                window: WindowConfig::Time {
                    duration: Duration::from_secs(10),
                    buckets: 0,
                },
                ..Default::default()
            },
            "breaker.window.buckets",
        ),
        (
            BreakerConfig {
                failure_rate_threshold: 120.0,
                ..Default::default()
            },
            "breaker.failure_rate_threshold",
        ),
        (
            BreakerConfig {
                failure_rate_threshold: -1.0,
                ..Default::default()
            },
            "breaker.failure_rate_threshold",
        ),
        (
            BreakerConfig {
                failure_rate_threshold: 0.0,
                ..Default::default()
            },
            "breaker.failure_rate_threshold",
        ),
        (
            BreakerConfig {
                failure_rate_threshold: f64::NAN,
                ..Default::default()
            },
            "breaker.failure_rate_threshold",
        ),
        (
            BreakerConfig {
                class_thresholds: ClassThresholds {
                    network: Some(150.0),
                    ..Default::default()
                },
                ..Default::default()
            },
            "breaker.class_thresholds.network",
        ),
        (
            BreakerConfig {
                slow_call_duration: Some(Duration::ZERO),
                ..Default::default()
            },
            "breaker.slow_call_duration_ms",
        ),
        (
            BreakerConfig {
                slow_call_rate_threshold: 100.5,
                ..Default::default()
            },
            "breaker.slow_call_rate_threshold",
        ),
        (
            BreakerConfig {
                minimum_calls: 0,
                ..Default::default()
            },
            "breaker.minimum_calls",
        ),
        (
            BreakerConfig {
                window: WindowConfig::Count { size: 10 },
                minimum_calls: 11,
                ..Default::default()
            },
            "breaker.minimum_calls",
        ),
        (
            BreakerConfig {
                open_duration: Duration::ZERO,
                ..Default::default()
            },
            "breaker.open_duration_ms",
        ),
        (
            BreakerConfig {
                open_backoff: OpenBackoff::Exponential {
                    multiplier: 0.5,
                    max_open_duration: Duration::from_secs(60),
                },
                ..Default::default()
            },
            "breaker.open_backoff.multiplier",
        ),
        (
            BreakerConfig {
                open_backoff: OpenBackoff::Exponential {
                    multiplier: 2.0,
                    max_open_duration: Duration::from_secs(1),
                },
                ..Default::default()
            },
            "breaker.open_duration_ms",
        ),
        (
            BreakerConfig {
                open_backoff: OpenBackoff::Linear {
                    step: Duration::ZERO,
                    max_open_duration: Duration::from_secs(60),
                },
                ..Default::default()
            },
            "breaker.open_backoff.step_ms",
        ),
        (
            BreakerConfig {
                half_open_probes: 0,
                ..Default::default()
            },
            "breaker.half_open_probes",
        ),
        (
            BreakerConfig {
                recovery_ramp: Some(Duration::ZERO),
                ..Default::default()
            },
            "breaker.recovery_ramp_ms",
        ),
        (
            BreakerConfig {
                ramp_start_percent: 0.0,
                ..Default::default()
            },
            "breaker.ramp_start_percent",
        ),
        (
            BreakerConfig {
                max_tracked_callers: 1_000_000,
                ..Default::default()
            },
            "breaker.max_tracked_callers",
        ),
    ];
    for (config, field) in cases {
        let err = refused(config);
        assert_eq!(fields(&err), [field], "{err}");
        assert!(err.message().contains(field));
    }
}

#[test]
fn all_problems_are_reported_at_once() {
    let err = refused(BreakerConfig {
        failure_rate_threshold: 200.0,
        half_open_probes: 0,
        ..Default::default()
    });
    assert_eq!(
        fields(&err),
        ["breaker.failure_rate_threshold", "breaker.half_open_probes"]
    );
}

#[test]
fn an_empty_name_is_refused() {
    for name in ["", "  "] {
        let err = CircuitBreaker::new(name, BreakerConfig::default()).unwrap_err();
        assert_eq!(fields(&err), ["breaker.name"]);
    }
    let registry = BreakerRegistry::new(RegistryConfig::default()).unwrap();
    let err = registry.get_or_create("").unwrap_err();
    assert!(err.is(ErrorCode::INVALID_INPUT));
    assert_eq!(err.context_value("field"), Some("name"));
}

#[test]
fn the_default_config_is_valid_and_round_trips_through_toml() {
    let config = BreakerConfig {
        slow_call_duration: Some(Duration::from_millis(250)),
        recovery_ramp: Some(Duration::from_secs(30)),
        open_backoff: OpenBackoff::Exponential {
            multiplier: 1.5,
            max_open_duration: Duration::from_secs(120),
        },
        ..BreakerConfig::default()
    };
    CircuitBreaker::new("db", config.clone()).unwrap();
    let text = toml::to_string(&config).unwrap();
    assert!(text.contains("slow_call_duration_ms = 250"), "{text}");
    let back: BreakerConfig = toml::from_str(&text).unwrap();
    assert_eq!(back, config);
}

#[test]
fn unknown_kinds_and_fields_in_toml_are_refused() {
    let unknown_window = toml::from_str::<BreakerConfig>(r#"window = { kind = "sliding" }"#)
        .unwrap_err()
        .to_string();
    assert!(unknown_window.contains("sliding"), "{unknown_window}");
    let unknown_backoff =
        toml::from_str::<BreakerConfig>(r#"open_backoff = { kind = "fibonacci" }"#)
            .unwrap_err()
            .to_string();
    assert!(unknown_backoff.contains("fibonacci"), "{unknown_backoff}");
    let unknown_field = toml::from_str::<BreakerConfig>("failure_threshold = 5.0")
        .unwrap_err()
        .to_string();
    assert!(
        unknown_field.contains("failure_threshold"),
        "{unknown_field}"
    );
    let negative = toml::from_str::<BreakerConfig>("open_duration_ms = -5");
    assert!(negative.is_err());
}

#[test]
fn the_registry_gives_each_name_its_config() {
    let config: RegistryConfig = toml::from_str(
        r#"
        [default]
        minimum_calls = 2
        window = { kind = "count", size = 4 }

        [breakers.payments]
        minimum_calls = 1
        failure_rate_threshold = 100.0
        window = { kind = "count", size = 4 }
        "#,
    )
    .unwrap();
    let clock = ManualClock::new();
    let registry = BreakerRegistry::builder()
        .config(config)
        .clock(clock.clock())
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    let payments = registry.get_or_create("payments").unwrap();
    let same = registry.get_or_create("payments").unwrap();
    payments.try_acquire().unwrap().record(Outcome::Network);
    assert_eq!(same.state(), BreakerState::Open, "same breaker, own config");
    let search = registry.get_or_create("search").unwrap();
    assert_eq!(search.config().minimum_calls, 2);
    assert!(registry.get("nope").is_none());

    let err = registry
        .register("payments", BreakerConfig::default())
        .unwrap_err();
    assert!(err.is(ErrorCode::ALREADY_EXISTS));
    let bad = BreakerConfig {
        half_open_probes: 0,
        ..Default::default()
    };
    let err = registry.register("inventory", bad.clone()).unwrap_err();
    assert_eq!(
        err.context_value("field"),
        Some("breakers.inventory.half_open_probes")
    );
    assert!(registry.configure("search", bad).is_err());

    // Live reconfiguration through the registry keeps the state.
    registry
        .configure(
            "payments",
            BreakerConfig {
                failure_rate_threshold: 90.0,
                minimum_calls: 1,
                window: WindowConfig::Count { size: 4 },
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(payments.state(), BreakerState::Open);
    assert_eq!(payments.config().failure_rate_threshold, 90.0);

    let statuses = registry.statuses();
    let names: Vec<&str> = statuses.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["payments", "search"]);
    assert!(registry.remove("search").is_some());
    assert_eq!(registry.names(), ["payments"]);
}

#[test]
fn a_registry_refuses_an_invalid_config_as_a_whole() {
    let mut config = RegistryConfig::default();
    config.breakers.insert(
        "db".into(),
        BreakerConfig {
            failure_rate_threshold: 0.0,
            ..Default::default()
        },
    );
    config
        .breakers
        .insert(String::new(), BreakerConfig::default());
    let err = BreakerRegistry::new(config.clone()).unwrap_err();
    let f = fields(&err);
    assert!(f.contains(&"breakers.db.failure_rate_threshold"), "{f:?}");
    assert!(f.contains(&"breakers.<name>"), "{f:?}");

    let registry = BreakerRegistry::new(RegistryConfig::default()).unwrap();
    let live = registry.get_or_create("db").unwrap();
    assert!(registry.reconfigure(config).is_err());
    assert_eq!(live.config(), BreakerConfig::default());
}

#[test]
fn open_duration_never_panics_on_an_unvalidated_backoff() {
    let base = Duration::from_secs(1);
    let cap = Duration::from_secs(60);
    for multiplier in [-2.0, -0.5, f64::NAN, f64::NEG_INFINITY, 0.0] {
        let backoff = OpenBackoff::Exponential {
            multiplier,
            max_open_duration: cap,
        };
        for trips in [1, 2, 3, 1_000, u32::MAX] {
            let d = backoff.open_duration(base, trips);
            assert!(d <= cap, "{multiplier} x{trips}: {d:?}");
        }
    }
}
