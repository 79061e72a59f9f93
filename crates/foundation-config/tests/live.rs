//! Live typed values, subscriptions and components re-configured live.

use foundation_config::{Config, LayerSet, Live, Schema, Secrets};
use foundation_core::{ErrorCode, TelemetryBus};
use foundation_protect::breaker::{BreakerConfig, BreakerState, CircuitBreaker};
use serde::Deserialize;

#[derive(Debug, Deserialize, PartialEq)]
struct Db {
    host: String,
    port: u16,
}

fn config() -> Config {
    let layers = LayerSet::new().toml_str(
        "app.toml",
        "[db]\nhost = 'a'\nport = 1\n[cache]\nttl = 5\n[breaker]\nfailure_rate_threshold = 50.0\n",
    );
    Config::load(Schema::new(), Secrets::default(), layers)
        .unwrap()
        .0
}

#[tokio::test]
async fn a_live_value_follows_changes_to_its_section_only() {
    let config = config();
    let db: Live<Db> = config.live("db").unwrap();
    assert_eq!(db.load().port, 1);
    let mut rx = db.subscribe();

    config.set("cache.ttl", 6).unwrap();
    assert_eq!(db.changes(), 0, "another section changed");
    assert!(!rx.has_changed().unwrap());

    let applied = config.set("db.port", 2).unwrap();
    assert_eq!(applied.version, 3);
    assert_eq!(db.changes(), 1);
    rx.changed().await.unwrap();
    assert_eq!(rx.borrow_and_update().port, 2);
    assert_eq!(db.load().port, 2);
    assert_eq!(
        *db.get(),
        Db {
            host: "a".into(),
            port: 2
        }
    );

    let mut cached = db.cached();
    assert_eq!(cached.load().port, 2);
    config.set("db.port", 3).unwrap();
    assert_eq!(cached.load().port, 3, "a cached read sees the change");
}

#[test]
fn a_change_a_live_value_cannot_read_is_refused_whole() {
    let config = config();
    let db: Live<Db> = config.live("db").unwrap();
    let err = config.set("db.port", "not a port").unwrap_err();
    assert!(err.is(ErrorCode::INVALID_CONFIG));
    assert!(err.message().contains("db.port"), "{}", err.message());
    assert_eq!(db.load().port, 1);
    assert_eq!(config.get::<Db>("db").unwrap().port, 1);
    assert_eq!(config.version(), 1);

    drop(db);
    config.set("db.port", "not a port").unwrap();
}

#[test]
fn a_live_value_of_the_wrong_type_is_an_error_naming_the_field() {
    let config = config();
    let err = config.live::<Db>("cache").unwrap_err();
    assert!(err.is(ErrorCode::INVALID_CONFIG));
    assert!(err.message().contains("cache"), "{}", err.message());
}

#[test]
fn a_no_op_change_is_not_a_new_version() {
    let config = config();
    let applied = config.set("db.port", 1).unwrap();
    assert!(applied.changes.is_empty());
    assert_eq!(applied.version, 1);
}

#[tokio::test]
async fn a_bound_breaker_takes_new_thresholds_without_losing_its_window() {
    let config = config();
    let live: Live<BreakerConfig> = config.live("breaker").unwrap();
    let breaker = CircuitBreaker::new("api", (*live.get()).clone()).unwrap();
    let bus = TelemetryBus::new();
    let target = breaker.clone();
    let mut binding = live.bind(&bus, move |c: &BreakerConfig| target.reconfigure(c.clone()));
    binding.caught_up(0).await;

    // 4 failures in 10 calls: 40 %, under the 50 % threshold.
    for i in 0..10 {
        let failed = i < 4;
        let _ = breaker.call_sync(|| {
            if failed {
                Err(foundation_core::Error::new(ErrorCode::NETWORK, "down"))
            } else {
                Ok(())
            }
        });
    }
    assert_eq!(breaker.state(), BreakerState::Closed);

    config.set("breaker.failure_rate_threshold", 30.0).unwrap();
    let status = binding.caught_up(live.changes()).await;
    assert!(status.last_error.is_none(), "{status:?}");
    assert_eq!(breaker.config().failure_rate_threshold, 30.0);
    assert_eq!(
        breaker.state(),
        BreakerState::Open,
        "the kept window (40 % failures) breaches the new threshold"
    );
}

#[tokio::test]
async fn a_component_refusing_a_value_is_reported_and_the_next_one_still_applies() {
    let config = config();
    let live: Live<BreakerConfig> = config.live("breaker").unwrap();
    let bus = TelemetryBus::new();
    let mut events = bus.subscribe(8);
    let mut binding = live.bind(&bus, |c: &BreakerConfig| {
        if c.minimum_calls == 7 {
            Err(foundation_core::Error::new(
                ErrorCode::INVALID_INPUT,
                "seven is unlucky",
            ))
        } else if c.minimum_calls == 8 {
            panic!("eight panics")
        } else {
            Ok(())
        }
    });
    binding.caught_up(0).await;
    config.set("breaker.minimum_calls", 7).unwrap();
    let status = binding.caught_up(live.changes()).await;
    let err = status.last_error.expect("refused");
    assert!(err.message().contains("unlucky"));
    assert_eq!(
        err.context().find(|(k, _)| *k == "path").unwrap().1,
        "breaker"
    );
    let event = events.recv().await.unwrap();
    assert_eq!(event.name(), "foundation.config.reconfigure_failed");

    config.set("breaker.minimum_calls", 8).unwrap();
    let status = binding.caught_up(live.changes()).await;
    assert!(status.last_error.unwrap().message().contains("panicked"));

    config.set("breaker.minimum_calls", 9).unwrap();
    let status = binding.caught_up(live.changes()).await;
    assert!(status.last_error.is_none());
    assert_eq!(status.applied, 4);
}
