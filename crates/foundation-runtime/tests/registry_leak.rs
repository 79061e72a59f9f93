//! A million register/exit cycles leave the registry and the agents as they found them.
//!
//! Each cycle is a real agent: spawned, registered, and gone (its handle dropped, so it
//! exits as cancelled and its exit hook removes the entry). To keep a debug build's run
//! short, agents are spawned in batches on two lanes, each a single-threaded runtime on its
//! own thread (cheaper per spawn than a work-stealing runtime); nothing else happens per
//! cycle.

mod registry_support;

use std::time::Instant;

use foundation_core::telemetry::TelemetryBus;
use foundation_runtime::agent::{AgentConfig, AgentRef, spawn_on};
use foundation_runtime::registry::{Kind, Metadata, Registry};
use registry_support::{Worker, fixture, worker};

const CYCLES: usize = 1_000_000;
const LANES: usize = 2;
const BATCH: usize = 100;

async fn lane(registry: Registry, lane: usize, long_lived: AgentRef<Worker>) {
    let bus = TelemetryBus::new();
    let meta = Metadata::new(Kind::Agent).with_capability("work");
    let names: Vec<String> = (0..BATCH).map(|i| format!("cycle-{lane}-{i}")).collect();
    let config = AgentConfig::named("cycle");
    let own_name = format!("long-lived-{lane}");
    for _ in 0..CYCLES / LANES / BATCH {
        let spawns =
            (0..BATCH).map(|_| spawn_on(Worker { slow_stop: false }, config.clone(), bus.clone()));
        let agents = futures::future::join_all(spawns).await;
        for (agent, name) in agents.iter().zip(&names) {
            let agent = agent.as_ref().unwrap();
            registry.register_agent(name, agent, meta.clone()).unwrap();
        }
        drop(agents);
        // A long-lived agent registered and unregistered by hand: its hook must go too.
        registry
            .register_agent(&own_name, &long_lived, meta.clone())
            .unwrap();
        registry.unregister(&own_name).unwrap();
        // Watchers come and go.
        drop(registry.watch());
    }
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_million_register_and_exit_cycles_leak_nothing() {
    let main = current_thread();
    let f = main.block_on(async { fixture() });
    let long_lived = main.block_on(worker("long-lived", &f.bus));
    let before = f.registry.stats();
    let started = Instant::now();

    std::thread::scope(|scope| {
        for i in 0..LANES {
            let (registry, agent) = (f.registry.clone(), long_lived.agent_ref());
            scope.spawn(move || current_thread().block_on(lane(registry, i, agent)));
        }
    });
    println!("{CYCLES} cycles took {:?}", started.elapsed());

    // Each entry was removed by the exit hook run by the handle's drop, before it returned.
    let after = f.registry.stats();
    assert_eq!(after.entries, before.entries);
    assert_eq!(after.capabilities, before.capabilities);
    assert_eq!(after.capability_members, before.capability_members);
    assert_eq!(after.watchers, before.watchers);
    let made = (CYCLES + CYCLES / BATCH) as u64;
    assert_eq!(after.registered_total, before.registered_total + made);
    assert_eq!(after.removed_total, before.removed_total + made);
    assert_eq!(long_lived.exit_hook_count(), 0);
    assert!(f.registry.is_empty());
    main.block_on(long_lived.shutdown(foundation_runtime::agent::StopReason::Normal));
}
