//! The registry's lookups against a bare `DashMap`, at 1 and 1,000,000 entries.
//!
//! Run: `cargo bench -p foundation-bench --bench registry -- --warm-up-time 1 --measurement-time 3`
//!
//! - `registry_lookup/<entries>`: a typed `Registry::lookup::<A>(name)` (returns a clone of
//!   the agent's `AgentRef`) against `DashMap<String, AgentRef<A>>::get(name)` plus a clone
//!   of the value — the same work. Names are read in a fixed pseudo-random order over 4,096
//!   of the registered names, so the large table is not served from one hot cache line.
//! - `registry_pick/<strategy>`: choosing one of 16 members of a capability (round robin,
//!   least loaded, random, consistent hash by key), returning its `AgentRef`.
//!
//! Every entry points at one live agent (a registry holds addresses, not agents), so the
//! numbers measure the table, not agent start-up.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use dashmap::DashMap;
use foundation_runtime::agent::{Agent, AgentConfig, AgentHandle, AgentRef, Context, spawn};
use foundation_runtime::registry::{Balance, Kind, Metadata, Registry, RegistryConfig};

/// How many distinct names each lookup loop cycles through.
const PROBES: usize = 4096;

struct Idle;

impl Agent for Idle {
    type Msg = ();
    async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn name(i: usize) -> String {
    format!("agent-{i}")
}

/// `PROBES` names spread over `0..entries` in a fixed scrambled order.
fn probes(entries: usize) -> Vec<String> {
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    (0..PROBES)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            name((x % entries as u64) as usize)
        })
        .collect()
}

fn registry() -> Registry {
    Registry::builder()
        .config(RegistryConfig {
            sweep_interval: None,
            ..RegistryConfig::default()
        })
        .build()
        .unwrap()
}

fn lookup(c: &mut Criterion) {
    let rt = runtime();
    let agent: AgentHandle<Idle> = rt
        .block_on(spawn(Idle, AgentConfig::named("idle")))
        .unwrap();
    let mut group = c.benchmark_group("registry_lookup");
    for entries in [1usize, 1_000_000] {
        let registry = registry();
        let map: DashMap<String, AgentRef<Idle>> = DashMap::new();
        for i in 0..entries {
            registry
                .register_agent(&name(i), &agent, Metadata::new(Kind::Agent))
                .unwrap();
            map.insert(name(i), agent.agent_ref());
        }
        let names = probes(entries);
        group.bench_with_input(
            BenchmarkId::new("foundation_lookup", entries),
            &names,
            |b, names| {
                let mut i = 0;
                b.iter(|| {
                    i = (i + 1) % PROBES;
                    black_box(registry.lookup::<Idle>(&names[i]).unwrap())
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("dashmap_get_clone", entries),
            &names,
            |b, names| {
                let mut i = 0;
                b.iter(|| {
                    i = (i + 1) % PROBES;
                    black_box(map.get(&names[i]).unwrap().value().clone())
                })
            },
        );
    }
    group.finish();
}

fn pick(c: &mut Criterion) {
    let rt = runtime();
    let agent: AgentHandle<Idle> = rt
        .block_on(spawn(Idle, AgentConfig::named("idle")))
        .unwrap();
    let registry = registry();
    for i in 0..16 {
        let meta = Metadata::new(Kind::Agent).with_capability("resize");
        registry.register_agent(&name(i), &agent, meta).unwrap();
    }
    let mut group = c.benchmark_group("registry_pick");
    let strategies = [
        ("round_robin", Balance::RoundRobin),
        ("least_loaded", Balance::LeastLoaded),
        ("random", Balance::Random),
        ("consistent_hash", Balance::ConsistentHash("user-42")),
    ];
    for (label, strategy) in strategies {
        group.bench_function(label, |b| {
            b.iter(|| black_box(registry.pick_agent::<Idle>("resize", strategy).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, lookup, pick);
criterion_main!(benches);
