//! Load balancing across the members of a capability.

mod registry_support;

use std::collections::{BTreeMap, HashMap};

use foundation_core::error::ErrorCode;
use foundation_runtime::agent::StopReason;
use foundation_runtime::registry::{Balance, Health, Kind, Metadata, Registry, Resources};
use registry_support::{Worker, fixture, worker};

fn add(r: &Registry, name: &str, health: Health, load: f64) {
    r.register(
        name,
        Metadata::new(Kind::Service)
            .with_capability("api")
            .with_health(health)
            .with_load(load),
    )
    .unwrap();
}

fn picks(r: &Registry, strategy: Balance<'_>, n: usize) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for _ in 0..n {
        let e = r.pick("api", strategy).unwrap();
        *counts.entry(e.name().to_owned()).or_default() += 1;
    }
    counts
}

#[test]
fn round_robin_cycles_evenly_over_healthy_members() {
    let f = fixture();
    for name in ["a", "b", "c"] {
        add(&f.registry, name, Health::Healthy, 0.0);
    }
    add(&f.registry, "sick", Health::Unhealthy, 0.0);
    add(&f.registry, "slow", Health::Degraded, 0.0);

    let order: Vec<_> = (0..6)
        .map(|_| {
            f.registry
                .pick("api", Balance::RoundRobin)
                .unwrap()
                .name()
                .to_owned()
        })
        .collect();
    // Each healthy member once per cycle, in the same order every cycle.
    assert_eq!(order[..3], order[3..]);
    let mut cycle = order[..3].to_vec();
    cycle.sort();
    assert_eq!(cycle, ["a", "b", "c"]);
    assert_eq!(
        picks(&f.registry, Balance::RoundRobin, 300)
            .values()
            .collect::<Vec<_>>(),
        [&100, &100, &100]
    );
}

#[test]
fn least_loaded_picks_the_minimum_and_follows_heartbeats() {
    let f = fixture();
    add(&f.registry, "a", Health::Healthy, 5.0);
    add(&f.registry, "b", Health::Healthy, 2.0);
    add(&f.registry, "c", Health::Healthy, 9.0);
    add(&f.registry, "idle-but-sick", Health::Unhealthy, 0.0);
    let least = || {
        f.registry
            .pick("api", Balance::LeastLoaded)
            .unwrap()
            .name()
            .to_owned()
    };
    assert_eq!(least(), "b");
    f.registry
        .heartbeat_with(
            "c",
            Resources {
                load: 1.0,
                ..Resources::default()
            },
        )
        .unwrap();
    assert_eq!(least(), "c");
}

#[test]
fn random_picks_only_healthy_members_and_reaches_each() {
    let f = fixture();
    for name in ["a", "b", "c"] {
        add(&f.registry, name, Health::Healthy, 0.0);
    }
    add(&f.registry, "sick", Health::Unhealthy, 0.0);
    add(&f.registry, "slow", Health::Degraded, 0.0);
    let counts = picks(&f.registry, Balance::Random, 3000);
    assert_eq!(counts.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
}

#[test]
fn degraded_members_are_used_only_when_no_healthy_one_is_left() {
    let f = fixture();
    add(&f.registry, "good", Health::Healthy, 0.0);
    add(&f.registry, "meh", Health::Degraded, 0.0);
    add(&f.registry, "bad", Health::Unhealthy, 0.0);
    for strategy in [
        Balance::RoundRobin,
        Balance::LeastLoaded,
        Balance::Random,
        Balance::ConsistentHash("k"),
    ] {
        assert_eq!(f.registry.pick("api", strategy).unwrap().name(), "good");
    }
    f.registry.set_health("good", Health::Unhealthy).unwrap();
    for strategy in [Balance::RoundRobin, Balance::ConsistentHash("k")] {
        assert_eq!(f.registry.pick("api", strategy).unwrap().name(), "meh");
    }
    f.registry.set_health("meh", Health::Unhealthy).unwrap();
    let err = f.registry.pick("api", Balance::Random).unwrap_err();
    assert!(err.is(ErrorCode::REGISTRY_NO_INSTANCE));
    assert_eq!(err.context_value("capability"), Some("api"));
    let err = f.registry.pick("nobody", Balance::RoundRobin).unwrap_err();
    assert!(err.is(ErrorCode::REGISTRY_NO_INSTANCE));
    assert_eq!(err.context_value("capability"), Some("nobody"));
}

#[test]
fn consistent_hash_is_stable_and_moves_only_the_leavers_keys() {
    let f = fixture();
    let members = ["m0", "m1", "m2", "m3", "m4"];
    for name in members {
        add(&f.registry, name, Health::Healthy, 0.0);
    }
    let keys: Vec<String> = (0..1000).map(|i| format!("user-{i}")).collect();
    let assign = |r: &Registry| -> HashMap<String, String> {
        keys.iter()
            .map(|k| {
                let e = r.pick("api", Balance::ConsistentHash(k)).unwrap();
                (k.clone(), e.name().to_owned())
            })
            .collect()
    };
    let before = assign(&f.registry);
    assert_eq!(before, assign(&f.registry), "same key, same member");
    // Every member gets a share.
    for m in members {
        assert!(before.values().any(|v| v == m), "{m} got no key");
    }

    f.registry.unregister("m2").unwrap();
    let after = assign(&f.registry);
    for k in &keys {
        if before[k] == "m2" {
            assert_ne!(after[k], "m2");
        } else {
            assert_eq!(after[k], before[k], "key {k} moved without need");
        }
    }

    // A member that turns unhealthy is skipped the same way, and gets its keys back.
    f.registry.set_health("m0", Health::Unhealthy).unwrap();
    let skipping = assign(&f.registry);
    for k in &keys {
        if after[k] != "m0" {
            assert_eq!(skipping[k], after[k]);
        }
    }
    f.registry.set_health("m0", Health::Healthy).unwrap();
    assert_eq!(assign(&f.registry), after);

    // The mapping depends only on the members' names: another registry agrees.
    let other = fixture();
    for name in ["m4", "m3", "m1", "m0"] {
        add(&other.registry, name, Health::Healthy, 0.0);
    }
    assert_eq!(assign(&other.registry), after);
}

#[tokio::test]
async fn pick_agent_returns_a_typed_address() {
    let f = fixture();
    let w = worker("w", &f.bus).await;
    f.registry
        .register_agent("w", &w, Metadata::new(Kind::Agent).with_capability("api"))
        .unwrap();
    let picked = f
        .registry
        .pick_agent::<Worker>("api", Balance::RoundRobin)
        .unwrap();
    assert_eq!(picked.name(), "w");
    w.shutdown(StopReason::Normal).await;
    assert!(
        f.registry
            .pick_agent::<Worker>("api", Balance::RoundRobin)
            .unwrap_err()
            .is(ErrorCode::REGISTRY_NO_INSTANCE)
    );
}
