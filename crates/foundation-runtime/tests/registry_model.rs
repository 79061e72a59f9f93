//! Property test: any sequence of registry operations agrees with a simple model.

mod registry_support;

use std::collections::{BTreeMap, BTreeSet};

use foundation_core::error::ErrorCode;
use foundation_runtime::registry::{Balance, Health, Kind, Metadata, Registry};
use proptest::prelude::*;
use registry_support::fixture;

const NAMES: [&str; 5] = ["a", "b", "c", "d", "e"];
const CAPS: [&str; 3] = ["x", "y", "z"];

#[derive(Debug, Clone)]
enum Op {
    Register(usize, Vec<usize>),
    Unregister(usize),
    SetHealth(usize, Health),
    Update(usize, Vec<usize>, Health),
}

fn health() -> impl Strategy<Value = Health> {
    prop_oneof![
        Just(Health::Healthy),
        Just(Health::Degraded),
        Just(Health::Unhealthy)
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let caps = || proptest::collection::vec(0..CAPS.len(), 0..3);
    prop_oneof![
        (0..NAMES.len(), caps()).prop_map(|(n, c)| Op::Register(n, c)),
        (0..NAMES.len()).prop_map(Op::Unregister),
        (0..NAMES.len(), health()).prop_map(|(n, h)| Op::SetHealth(n, h)),
        (0..NAMES.len(), caps(), health()).prop_map(|(n, c, h)| Op::Update(n, c, h)),
    ]
}

fn meta(caps: &[usize], health: Health) -> Metadata {
    caps.iter()
        .fold(Metadata::new(Kind::Service).with_health(health), |m, c| {
            m.with_capability(CAPS[*c])
        })
}

type Model = BTreeMap<&'static str, (BTreeSet<&'static str>, Health)>;

proptest! {
    #[test]
    fn the_registry_agrees_with_a_model(ops in proptest::collection::vec(op(), 1..40)) {
        let f = fixture();
        let r = &f.registry;
        let mut model = Model::new();
        for op in ops {
            match op {
                Op::Register(n, caps) => {
                    let result = r.register(NAMES[n], meta(&caps, Health::Healthy));
                    if model.contains_key(NAMES[n]) {
                        prop_assert!(result.unwrap_err().is(ErrorCode::ALREADY_EXISTS));
                    } else {
                        prop_assert!(result.is_ok());
                        let caps = caps.iter().map(|c| CAPS[*c]).collect();
                        model.insert(NAMES[n], (caps, Health::Healthy));
                    }
                }
                Op::Unregister(n) => {
                    let result = r.unregister(NAMES[n]);
                    prop_assert_eq!(result.is_ok(), model.remove(NAMES[n]).is_some());
                }
                Op::SetHealth(n, h) => {
                    let result = r.set_health(NAMES[n], h);
                    match model.get_mut(NAMES[n]) {
                        Some(entry) => {
                            prop_assert_eq!(result.unwrap(), entry.1);
                            entry.1 = h;
                        }
                        None => prop_assert!(result.unwrap_err().is(ErrorCode::NOT_FOUND)),
                    }
                }
                Op::Update(n, caps, h) => {
                    let result = r.update_metadata(NAMES[n], meta(&caps, h));
                    match model.get_mut(NAMES[n]) {
                        Some(entry) => {
                            prop_assert!(result.is_ok());
                            *entry = (caps.iter().map(|c| CAPS[*c]).collect(), h);
                        }
                        None => prop_assert!(result.unwrap_err().is(ErrorCode::NOT_FOUND)),
                    }
                }
            }
            check(r, &model)?;
        }
    }
}

fn check(r: &Registry, model: &Model) -> Result<(), TestCaseError> {
    prop_assert_eq!(r.len(), model.len());
    let mut memberships = 0;
    let mut offered = 0;
    for cap in CAPS {
        let members: BTreeMap<_, _> = model
            .iter()
            .filter(|(_, (caps, _))| caps.contains(cap))
            .map(|(name, (_, h))| (*name, *h))
            .collect();
        memberships += members.len();
        offered += usize::from(!members.is_empty());
        let mut listed: Vec<_> = r
            .by_capability(cap)
            .iter()
            .map(|e| e.name().to_owned())
            .collect();
        listed.sort();
        prop_assert_eq!(
            listed,
            members.keys().map(|n| n.to_string()).collect::<Vec<_>>()
        );
        let best = members
            .values()
            .filter(|h| **h != Health::Unhealthy)
            .min()
            .copied();
        match r.pick(cap, Balance::RoundRobin) {
            Ok(e) => prop_assert_eq!(Some(members[e.name()]), best),
            Err(err) => {
                prop_assert!(err.is(ErrorCode::REGISTRY_NO_INSTANCE));
                prop_assert_eq!(best, None);
            }
        }
    }
    let stats = r.stats();
    prop_assert_eq!(
        (stats.capabilities, stats.capability_members),
        (offered, memberships)
    );
    Ok(())
}
