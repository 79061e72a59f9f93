//! Retry configuration: serde shape and field-named validation of every bad value.

use std::time::Duration;

use foundation_core::{Error, ErrorCode, Validate};
use foundation_protect::retry::{
    Backoff, Jitter, Retry, RetryBudget, RetryBudgetConfig, RetryConfig,
};

fn fields(err: &Error) -> Vec<String> {
    assert!(err.is(ErrorCode::INVALID_CONFIG), "{err}");
    err.context_values("field").map(str::to_string).collect()
}

fn refused(config: RetryConfig) -> Vec<String> {
    let err = Retry::new(config).unwrap_err();
    fields(&err)
}

#[test]
fn zero_max_attempts_is_refused() {
    let c = RetryConfig {
        max_attempts: 0,
        ..RetryConfig::default()
    };
    assert_eq!(refused(c), vec!["retry.max_attempts"]);
}

#[test]
fn zero_backoff_durations_are_refused() {
    let cases = [
        (
            Backoff::Constant {
                delay: Duration::ZERO,
            },
            "retry.backoff.delay_ms",
        ),
        (
            Backoff::Linear {
                initial: Duration::from_millis(1),
                step: Duration::ZERO,
            },
            "retry.backoff.step_ms",
        ),
        (
            Backoff::Exponential {
                initial: Duration::ZERO,
                multiplier: 2.0,
            },
            "retry.backoff.initial_ms",
        ),
        (
            Backoff::DecorrelatedJitter {
                base: Duration::ZERO,
            },
            "retry.backoff.base_ms",
        ),
    ];
    for (backoff, field) in cases {
        let c = RetryConfig {
            backoff,
            ..RetryConfig::default()
        };
        assert_eq!(refused(c), vec![field]);
    }
}

#[test]
fn a_multiplier_below_one_or_not_a_number_is_refused() {
    for multiplier in [0.5, -2.0, f64::NAN, f64::INFINITY] {
        let c = RetryConfig {
            backoff: Backoff::Exponential {
                initial: Duration::from_millis(10),
                multiplier,
            },
            ..RetryConfig::default()
        };
        assert_eq!(refused(c), vec!["retry.backoff.multiplier"], "{multiplier}");
    }
}

#[test]
fn max_delay_below_the_initial_delay_or_zero_is_refused() {
    let c = RetryConfig {
        backoff: Backoff::Constant {
            delay: Duration::from_secs(5),
        },
        max_delay: Duration::from_secs(1),
        ..RetryConfig::default()
    };
    assert_eq!(refused(c), vec!["retry.max_delay_ms"]);
    let c = RetryConfig {
        max_delay: Duration::ZERO,
        ..RetryConfig::default()
    };
    assert!(refused(c).contains(&"retry.max_delay_ms".to_string()));
}

#[test]
fn zero_max_total_time_is_refused() {
    let c = RetryConfig {
        max_total_time: Some(Duration::ZERO),
        ..RetryConfig::default()
    };
    assert_eq!(refused(c), vec!["retry.max_total_time_ms"]);
}

#[test]
fn bad_budgets_are_refused() {
    for (budget, field) in [
        (
            RetryBudgetConfig {
                retry_ratio: 1.5,
                ..RetryBudgetConfig::default()
            },
            "retry.budget.retry_ratio",
        ),
        (
            RetryBudgetConfig {
                retry_ratio: -0.1,
                ..RetryBudgetConfig::default()
            },
            "retry.budget.retry_ratio",
        ),
        (
            RetryBudgetConfig {
                ttl: Duration::ZERO,
                ..RetryBudgetConfig::default()
            },
            "retry.budget.ttl_ms",
        ),
    ] {
        let c = RetryConfig {
            budget: Some(budget.clone()),
            ..RetryConfig::default()
        };
        assert!(refused(c).contains(&field.to_string()), "{field}");
        assert!(fields(&RetryBudget::new(budget).unwrap_err()).contains(&field.to_string()));
    }
}

#[test]
fn an_empty_name_is_refused() {
    let err = Retry::builder().name("  ").build().unwrap_err();
    assert_eq!(fields(&err), vec!["retry.name"]);
}

#[test]
fn every_problem_is_reported_at_once() {
    let c = RetryConfig {
        max_attempts: 0,
        max_total_time: Some(Duration::ZERO),
        ..RetryConfig::default()
    };
    assert_eq!(
        refused(c),
        vec!["retry.max_attempts", "retry.max_total_time_ms"]
    );
}

#[test]
fn toml_round_trips_with_millisecond_fields() {
    let text = r#"
        max_attempts = 4
        max_delay_ms = 2000
        max_total_time_ms = 10000
        jitter = "full"
        backoff = { kind = "decorrelated_jitter", base_ms = 50 }
        budget = { ttl_ms = 5000, min_retries_per_sec = 2, retry_ratio = 0.25 }
    "#;
    let c: RetryConfig = toml::from_str(text).unwrap();
    assert_eq!(c.max_attempts, 4);
    assert_eq!(c.max_delay, Duration::from_secs(2));
    assert_eq!(c.max_total_time, Some(Duration::from_secs(10)));
    assert_eq!(c.jitter, Jitter::Full);
    assert_eq!(
        c.backoff,
        Backoff::DecorrelatedJitter {
            base: Duration::from_millis(50)
        }
    );
    assert_eq!(c.budget.as_ref().unwrap().retry_ratio, 0.25);
    assert!(c.validate().is_ok());
    let back: RetryConfig = toml::from_str(&toml::to_string(&c).unwrap()).unwrap();
    assert_eq!(back, c);
    // Missing fields take their defaults.
    let partial: RetryConfig = toml::from_str("max_attempts = 7").unwrap();
    assert_eq!(partial.backoff, RetryConfig::default().backoff);
}

#[test]
fn unknown_backoff_kinds_and_fields_are_refused() {
    let err = toml::from_str::<RetryConfig>(r#"backoff = { kind = "fibonacci", initial_ms = 1 }"#)
        .unwrap_err();
    assert!(err.to_string().contains("fibonacci"), "{err}");
    let err = toml::from_str::<RetryConfig>(
        r#"backoff = { kind = "constant", delay_ms = 1, multiplier = 2.0 }"#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("multiplier"), "{err}");
    let err = toml::from_str::<RetryConfig>("max_attempt = 3").unwrap_err();
    assert!(err.to_string().contains("max_attempt"), "{err}");
    let err = toml::from_str::<RetryConfig>(r#"jitter = "some""#).unwrap_err();
    assert!(err.to_string().contains("some"), "{err}");
}
