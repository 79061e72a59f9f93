//! Many tasks registering, looking up, balancing and leaving at once on a multi-thread
//! runtime.

mod registry_support;

use std::time::Duration;

use foundation_core::error::ErrorCode;
use foundation_runtime::agent::StopReason;
use foundation_runtime::registry::{Balance, Health, Kind, Metadata};
use registry_support::{Msg, Worker, fixture, worker};

const TASKS: usize = 8;
const PER_TASK: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_lookups_and_removals_stay_consistent() {
    let f = fixture();
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let registry = f.registry.clone();
        let bus = f.bus.clone();
        tasks.push(tokio::spawn(async move {
            let agent = worker(&format!("agent-{t}"), &bus).await;
            let meta = Metadata::new(Kind::Agent).with_capability("shared");
            registry
                .register_agent(&format!("agent-{t}"), &agent, meta)
                .unwrap();
            // Everyone races for one name; exactly one wins.
            let won = registry
                .register("contested", Metadata::new(Kind::Service))
                .is_ok();
            for i in 0..PER_TASK {
                let name = format!("svc-{t}-{i}");
                let meta = Metadata::new(Kind::Service)
                    .with_capability("shared")
                    .with_capability(format!("lane-{t}"));
                registry.register(&name, meta).unwrap();
                assert!(registry.contains(&name));
                // Look up someone else's agent and the shared capability meanwhile.
                let other = format!("agent-{}", (t + i) % TASKS);
                if let Ok(found) = registry.lookup::<Worker>(&other) {
                    assert_eq!(found.name(), other);
                }
                registry.pick("shared", Balance::RoundRobin).unwrap();
                if i % 2 == 0 {
                    registry.set_health(&name, Health::Degraded).unwrap();
                }
            }
            let me = registry.lookup::<Worker>(&format!("agent-{t}")).unwrap();
            let name = me.call(Msg::Name, Duration::from_secs(5)).await.unwrap();
            assert_eq!(name, format!("agent-{t}"));
            assert_eq!(registry.by_capability(&format!("lane-{t}")).len(), PER_TASK);
            (won, agent)
        }));
    }
    let mut winners = 0;
    let mut agents = Vec::new();
    for task in tasks {
        let (won, agent) = task.await.unwrap();
        winners += usize::from(won);
        agents.push(agent);
    }
    assert_eq!(winners, 1);
    assert_eq!(f.registry.len(), TASKS * PER_TASK + TASKS + 1);
    assert_eq!(
        f.registry.by_capability("shared").len(),
        TASKS * PER_TASK + TASKS
    );

    // Everyone leaves at once: services by hand, agents by stopping.
    let mut leaving = Vec::new();
    for (t, agent) in agents.into_iter().enumerate() {
        let registry = f.registry.clone();
        leaving.push(tokio::spawn(async move {
            for i in 0..PER_TASK {
                registry.unregister(&format!("svc-{t}-{i}")).unwrap();
            }
            agent.shutdown(StopReason::Normal).await;
        }));
    }
    for task in leaving {
        task.await.unwrap();
    }
    f.registry.unregister("contested").unwrap();
    let stats = f.registry.stats();
    assert_eq!(
        (stats.entries, stats.capabilities, stats.capability_members),
        (0, 0, 0)
    );
    assert!(
        f.registry
            .pick("shared", Balance::Random)
            .unwrap_err()
            .is(ErrorCode::REGISTRY_NO_INSTANCE)
    );
}
