//! Configuration: TOML/serde, validation naming every bad field, the registry of named
//! limiters and the `Limiter` type the facade holds.

use std::collections::BTreeMap;
use std::time::Duration;

use foundation_core::{Clock, Error, ErrorCode, ManualClock, TelemetryBus, Validate};
use foundation_protect::limiter::{
    Algorithm, KeyedRateLimiter, Limiter, LimiterConfig, LimiterRegistry, OnLimit, Quota,
    RateLimiter,
};

fn fields(err: &Error) -> Vec<&str> {
    assert!(err.is(ErrorCode::INVALID_CONFIG), "{err}");
    err.context_values("field").collect()
}

#[test]
fn toml_round_trips_with_defaults_for_missing_fields() {
    let c: LimiterConfig = toml::from_str(
        r#"
        algorithm = "sliding_window"
        rate = 5
        period_ms = 60000
        on_limit = "wait"
        "#,
    )
    .unwrap();
    assert_eq!(c.algorithm, Algorithm::SlidingWindow);
    assert_eq!(
        c.quota(),
        Quota::new(5, Duration::from_secs(60)).with_burst(100)
    );
    assert_eq!(c.on_limit, OnLimit::Wait);
    let back: LimiterConfig = toml::from_str(&toml::to_string(&c).unwrap()).unwrap();
    assert_eq!(back, c);
    assert!(LimiterConfig::default().validate().is_ok());
    for a in Algorithm::ALL {
        let c: LimiterConfig = toml::from_str(&format!("algorithm = \"{a}\"")).unwrap();
        assert_eq!(c.algorithm, a);
    }
}

#[test]
fn unknown_algorithm_is_a_serde_error_naming_the_field() {
    let err = toml::from_str::<LimiterConfig>(r#"algorithm = "leaky""#).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("algorithm: unknown algorithm `leaky`"),
        "{text}"
    );
    assert!(text.contains("gcra, token_bucket"), "{text}");
    let err = serde_json::from_str::<LimiterConfig>(r#"{"algorithm": "GCRA"}"#).unwrap_err();
    assert!(
        err.to_string()
            .contains("algorithm: unknown algorithm `GCRA`")
    );
    let err = toml::from_str::<LimiterConfig>("rate_per_sec = 3").unwrap_err();
    assert!(err.to_string().contains("rate_per_sec"), "{err}");
}

#[test]
fn zero_rate_period_burst_and_keys_are_refused_naming_each_field() {
    let c = LimiterConfig {
        rate: 0,
        period_ms: 0,
        burst: 0,
        max_keys: 0,
        ..LimiterConfig::default()
    };
    let err = c.validate_at("limiters.api").unwrap_err();
    assert_eq!(
        fields(&err),
        [
            "limiters.api.rate",
            "limiters.api.period_ms",
            "limiters.api.burst",
            "limiters.api.max_keys"
        ]
    );
    let err = RateLimiter::new(c).unwrap_err();
    assert_eq!(fields(&err).len(), 4);
}

#[test]
fn a_rate_finer_than_a_nanosecond_is_refused() {
    let c = LimiterConfig {
        rate: 2_000_000,
        period_ms: 1,
        ..LimiterConfig::default()
    };
    assert_eq!(fields(&c.validate().unwrap_err()), ["rate"]);
    let err = RateLimiter::builder()
        .quota(Quota::new(10, Duration::from_nanos(5)))
        .build()
        .unwrap_err();
    assert_eq!(fields(&err), ["rate"]);
}

#[test]
fn empty_names_and_zero_durations_in_builders_are_refused() {
    let err = RateLimiter::builder().name("  ").build().unwrap_err();
    assert_eq!(fields(&err), ["name"]);
    let err = KeyedRateLimiter::<String>::builder()
        .quota(Quota::new(1, Duration::ZERO))
        .max_keys(0)
        .build()
        .unwrap_err();
    assert_eq!(fields(&err), ["max_keys", "period"]);
}

#[test]
fn the_redis_backend_accepts_only_gcra_and_its_equivalent() {
    let c: LimiterConfig = toml::from_str(
        r#"
        algorithm = "fixed_window"
        [redis]
        url = ""
        connect_timeout_ms = 0
        "#,
    )
    .unwrap();
    assert_eq!(
        fields(&c.validate().unwrap_err()),
        [
            "redis.url",
            "redis.url",
            "redis.connect_timeout_ms",
            "algorithm"
        ]
    );
}

#[test]
fn registry_builds_named_limiters_of_the_configured_kind() {
    let rules: BTreeMap<String, LimiterConfig> = toml::from_str(
        r#"
        [login]
        algorithm = "fixed_window"
        rate = 2
        period_ms = 60000
        keyed = true

        [api]
        algorithm = "token_bucket"
        rate = 10
        burst = 1
        "#,
    )
    .unwrap();
    let time = ManualClock::new();
    let reg = LimiterRegistry::from_config_with(&rules, time.clock(), TelemetryBus::new()).unwrap();
    assert_eq!(reg.len(), 2);
    let login = reg.get("login").unwrap();
    assert!(matches!(login, Limiter::Keyed(_)));
    assert_eq!(login.name(), "login");
    let api = reg.require("api").unwrap();
    assert!(matches!(api, Limiter::Local(_)));
    assert!(reg.require("nope").unwrap_err().is(ErrorCode::NOT_FOUND));

    // Keyed: per key. Direct: one quota for all, key ignored.
    for _ in 0..2 {
        login.try_check_n_now(Some("alice"), 1).unwrap().unwrap();
    }
    assert!(login.try_check_n_now(Some("alice"), 1).unwrap().is_err());
    login.try_check_n_now(Some("bob"), 1).unwrap().unwrap();
    api.try_check_n_now(Some("alice"), 1).unwrap().unwrap();
    let err = api.try_check_n_now(Some("bob"), 1).unwrap().unwrap_err();
    assert_eq!(err.context_value("limiter"), Some("api"));
    assert_eq!(err.retry_after(), Some(Duration::from_millis(100)));
    api.set_quota(Quota::per_second(10).with_burst(5)).unwrap();
    assert_eq!(api.status().burst, 5);
}

#[test]
fn applying_a_changed_rule_set_keeps_state_where_only_the_quota_changed() {
    let parse = |text: &str| -> BTreeMap<String, LimiterConfig> { toml::from_str(text).unwrap() };
    let time = ManualClock::new();
    let mut reg = LimiterRegistry::from_config_with(
        &parse("[api]\nalgorithm = \"gcra\"\nrate = 2\nperiod_ms = 1000\n[old]\nrate = 1"),
        time.clock(),
        TelemetryBus::new(),
    )
    .unwrap();
    let api = reg.require("api").unwrap().clone();
    for _ in 0..2 {
        api.try_check_n_now(None, 1).unwrap().unwrap();
    }

    // A new quota keeps the used-up schedule (same limiter, still denied right now); a new
    // rule appears and a dropped one is gone.
    let next = parse(
        "[api]\nalgorithm = \"gcra\"\nrate = 4\nburst = 2\nperiod_ms = 1000\n[new]\nrate = 3",
    );
    reg.apply_with(&next, time.clock(), TelemetryBus::new())
        .unwrap();
    assert_eq!(reg.names().collect::<Vec<_>>(), ["api", "new"]);
    let same = reg.require("api").unwrap();
    assert_eq!(same.status().rate, 4);
    assert!(same.try_check_n_now(None, 1).unwrap().is_err());
    assert!(
        api.try_check_n_now(None, 1).unwrap().is_err(),
        "the live limiter was requota'd"
    );

    // A new algorithm builds a fresh limiter.
    reg.apply_with(
        &parse("[api]\nalgorithm = \"fixed_window\"\nrate = 4\nperiod_ms = 1000"),
        time.clock(),
        TelemetryBus::new(),
    )
    .unwrap();
    let fresh = reg.require("api").unwrap();
    assert_eq!(fresh.status().algorithm, Algorithm::FixedWindow);
    fresh.try_check_n_now(None, 1).unwrap().unwrap();

    // An invalid set changes nothing.
    let bad = parse("[api]\nrate = 0\n[other]\nrate = 1");
    let err = reg.apply(&bad).unwrap_err();
    assert_eq!(fields(&err), ["api.rate"]);
    assert_eq!(reg.names().collect::<Vec<_>>(), ["api"]);
    assert_eq!(
        reg.require("api").unwrap().status().algorithm,
        Algorithm::FixedWindow
    );
}

#[test]
fn registry_reports_every_bad_rule_at_once() {
    let mut rules = BTreeMap::new();
    rules.insert(
        "a".to_string(),
        LimiterConfig {
            rate: 0,
            ..LimiterConfig::default()
        },
    );
    rules.insert(
        "b".to_string(),
        LimiterConfig {
            burst: 0,
            ..LimiterConfig::default()
        },
    );
    rules.insert(String::new(), LimiterConfig::default());
    let err = LimiterRegistry::from_config(&rules).unwrap_err();
    assert_eq!(fields(&err), ["name", "a.rate", "b.burst"]);
}

#[tokio::test]
async fn the_facade_type_decides_in_memory_without_waiting() {
    let limiter = Limiter::from_config(
        "facade",
        &LimiterConfig::new(Algorithm::Gcra, Quota::per_second(1)),
        Clock::tokio(),
        TelemetryBus::new(),
    )
    .unwrap();
    limiter.check(None).await.unwrap();
    let err = limiter.check_n(None, 1).await.unwrap_err();
    assert!(err.is(ErrorCode::RATE_LIMITED));
    let err = limiter.check_n(None, 2).await.unwrap_err();
    assert!(err.is(ErrorCode::RATE_LIMIT_EXCEEDS_CAPACITY));
    let status = limiter.status();
    assert_eq!((status.admitted, status.denied), (1, 1));
}

#[cfg(not(feature = "redis"))]
#[test]
fn a_redis_section_without_the_feature_is_refused() {
    let c = LimiterConfig {
        redis: Some(Default::default()),
        ..LimiterConfig::default()
    };
    let err = Limiter::from_config("r", &c, Clock::tokio(), TelemetryBus::new()).unwrap_err();
    assert_eq!(fields(&err), ["redis"]);
}
