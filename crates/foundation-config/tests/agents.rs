//! Per-agent overrides: defaults ← environment ← service ← agent, explained per value.

use foundation_config::{Config, EnvSource, LayerSet, Live, Schema, Secrets, Source};
use foundation_core::{ErrorCode, Validate, Validator};
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
struct Mailbox {
    capacity: u32,
    policy: String,
}

impl Validate for Mailbox {
    fn validate_into(&self, v: &mut Validator) {
        v.range("capacity", f64::from(self.capacity), 1.0, 10_000.0);
    }
}

fn config() -> Config {
    let layers = LayerSet::new()
        .defaults(&toml::toml! { [mailbox] capacity = 100 policy = "block" })
        .toml_str("app.toml", "[mailbox]\ncapacity = 200\n")
        .env(EnvSource::new("APP_", [("APP_MAILBOX__CAPACITY", "300")]))
        .set("mailbox.capacity", 400);
    let schema = Schema::new().validated::<Mailbox>("mailbox");
    Config::load(schema, Secrets::default(), layers).unwrap().0
}

#[test]
fn effective_explains_every_layer_down_to_the_agent() {
    let config = config();
    config.set_for("planner", "mailbox.capacity", 500).unwrap();

    let e = config.effective("planner", "mailbox.capacity");
    assert_eq!(e.value, Some(500.into()));
    assert_eq!(
        e.chain,
        [
            Source::Default,
            Source::File {
                path: "app.toml".into(),
                line: Some(2)
            },
            Source::Env("APP_MAILBOX__CAPACITY".into()),
            Source::Override,
            Source::Agent("planner".into()),
        ]
    );
    assert_eq!(
        config.effective("planner", "mailbox.policy").chain,
        [Source::Default]
    );
    // Other agents and the service see the service's value.
    assert_eq!(
        config.effective("other", "mailbox.capacity").winner(),
        Some(&Source::Override)
    );
    assert_eq!(config.get::<Mailbox>("mailbox").unwrap().capacity, 400);
    let planner: Mailbox = config.get_for("planner", "mailbox").unwrap();
    assert_eq!((planner.capacity, planner.policy.as_str()), (500, "block"));
    assert_eq!(config.snapshot().agents().collect::<Vec<_>>(), ["planner"]);
}

#[test]
fn an_invalid_agent_override_is_refused_naming_the_agent() {
    let config = config();
    let err = config
        .set_for("planner", "mailbox.capacity", 0)
        .unwrap_err();
    assert!(err.is(ErrorCode::INVALID_CONFIG));
    let message = err.message();
    assert!(message.contains("mailbox.capacity"), "{message}");
    assert!(message.contains("agent planner"), "{message}");
    assert_eq!(config.snapshot().agents().count(), 0);

    let err = config
        .set_for("planner", "mailbox.capacity.deep", 1)
        .unwrap_err();
    assert!(err.message().contains("agent planner"), "{}", err.message());
}

#[tokio::test]
async fn an_agents_live_value_follows_its_own_overrides() {
    let config = config();
    config.set_for("planner", "mailbox.capacity", 500).unwrap();
    let live: Live<Mailbox> = config.live_for("planner", "mailbox").unwrap();
    assert_eq!(live.agent(), Some("planner"));
    assert_eq!(live.load().capacity, 500);

    // The agent's override masks the service's change of the same value.
    config.set("mailbox.capacity", 450).unwrap();
    assert_eq!(live.changes(), 0);
    config.set("mailbox.policy", "drop").unwrap();
    assert_eq!(live.changes(), 1);
    assert_eq!(live.load().policy, "drop");

    let applied = config.unset_for("planner", "mailbox").unwrap();
    assert_eq!(applied.changes.len(), 1);
    assert_eq!(applied.changes[0].agent.as_deref(), Some("planner"));
    assert_eq!(live.load().capacity, 450);
    assert_eq!(config.snapshot().agents().count(), 0);

    let err = config.unset_for("planner", "mailbox").unwrap_err();
    assert!(err.is(ErrorCode::NOT_FOUND));
    let err = config.unset("nothing.here").unwrap_err();
    assert!(err.is(ErrorCode::NOT_FOUND));
}
