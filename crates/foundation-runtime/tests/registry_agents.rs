//! Agents leave the registry by themselves when they exit, whatever the way.

mod registry_support;

use std::time::Duration;

use foundation_runtime::agent::{AgentConfig, ExitReason, StopReason, spawn_on};
use foundation_runtime::registry::{Kind, Metadata, RegistryEvent, RemovalReason};
use registry_support::{Msg, Worker, fixture, worker};

fn agent_meta() -> Metadata {
    Metadata::new(Kind::Agent).with_capability("work")
}

/// The reason of the one `Unregistered` event among `events`.
fn removal_reason(events: Vec<RegistryEvent>) -> RemovalReason {
    let mut reasons = events.into_iter().filter_map(|e| match e {
        RegistryEvent::Unregistered { reason, .. } => Some(reason),
        _ => None,
    });
    let reason = reasons.next().expect("an Unregistered event");
    assert!(reasons.next().is_none());
    reason
}

#[tokio::test]
async fn a_stopped_agent_is_removed_with_its_exit_reason() {
    let f = fixture();
    let mut watcher = f.registry.watch();
    let w = worker("w", &f.bus).await;
    f.registry.register_agent("w", &w, agent_meta()).unwrap();
    assert_eq!(w.exit_hook_count(), 1);
    w.shutdown(StopReason::Normal).await;

    assert!(!f.registry.contains("w"));
    assert!(f.registry.by_capability("work").is_empty());
    assert_eq!(
        removal_reason(watcher.drain()),
        RemovalReason::AgentExited(ExitReason::Stopped(StopReason::Normal))
    );
}

#[tokio::test]
async fn a_panicked_agent_is_removed() {
    let f = fixture();
    let mut watcher = f.registry.watch();
    let w = worker("w", &f.bus).await;
    f.registry.register_agent("w", &w, agent_meta()).unwrap();
    w.cast(Msg::Panic).unwrap();
    assert!(matches!(w.wait().await, ExitReason::Panicked { .. }));

    assert!(!f.registry.contains("w"));
    assert!(matches!(
        removal_reason(watcher.drain()),
        RemovalReason::AgentExited(ExitReason::Panicked { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn an_aborted_agent_is_removed() {
    let f = fixture();
    let mut watcher = f.registry.watch();
    let config = AgentConfig {
        stop_deadline: Duration::from_millis(100),
        ..AgentConfig::named("slow")
    };
    let w = spawn_on(Worker { slow_stop: true }, config, f.bus.clone())
        .await
        .unwrap();
    f.registry.register_agent("slow", &w, agent_meta()).unwrap();
    let exit = w.shutdown(StopReason::Shutdown).await;
    assert_eq!(exit, ExitReason::Aborted(StopReason::Shutdown));

    assert!(!f.registry.contains("slow"));
    assert_eq!(
        removal_reason(watcher.drain()),
        RemovalReason::AgentExited(ExitReason::Aborted(StopReason::Shutdown))
    );
}

#[tokio::test]
async fn dropping_the_agents_handle_removes_it() {
    let f = fixture();
    let w = worker("w", &f.bus).await;
    f.registry.register_agent("w", &w, agent_meta()).unwrap();
    drop(w);
    assert!(f.registry.is_empty());
}

#[tokio::test]
async fn unregistering_by_hand_unhooks_the_agent() {
    let f = fixture();
    let w = worker("w", &f.bus).await;
    f.registry.register_agent("w", &w, agent_meta()).unwrap();
    f.registry.unregister("w").unwrap();
    assert_eq!(w.exit_hook_count(), 0);

    // Registered again under another name, the agent's exit removes only that entry.
    f.registry.register_agent("w2", &w, agent_meta()).unwrap();
    f.registry
        .register("w", Metadata::new(Kind::Service))
        .unwrap();
    w.shutdown(StopReason::Normal).await;
    assert!(!f.registry.contains("w2"));
    assert!(f.registry.contains("w"));
}

#[tokio::test]
async fn a_name_registered_again_after_an_exit_stays() {
    let f = fixture();
    let first = worker("first", &f.bus).await;
    let second = worker("second", &f.bus).await;
    f.registry
        .register_agent("svc", &first, agent_meta())
        .unwrap();
    first.shutdown(StopReason::Normal).await;
    f.registry
        .register_agent("svc", &second, agent_meta())
        .unwrap();
    assert_eq!(f.registry.lookup::<Worker>("svc").unwrap().name(), "second");
    second.shutdown(StopReason::Normal).await;
    assert!(f.registry.is_empty());
}

#[tokio::test]
async fn a_late_exit_hook_does_not_remove_a_newer_registration() {
    // While the first agent exits, before the registry's hook runs, its entry is replaced
    // (this hook was put on first, so it runs first). The registry's hook then finds a
    // newer generation under the name and leaves it.
    let f = fixture();
    let first = worker("first", &f.bus).await;
    let second = worker("second", &f.bus).await;
    let registry = f.registry.clone();
    let second_ref = second.agent_ref();
    let _replace = first.on_exit(move |_| {
        registry.unregister("svc").unwrap();
        registry
            .register_agent("svc", &second_ref, agent_meta())
            .unwrap();
    });
    let old = f
        .registry
        .register_agent("svc", &first, agent_meta())
        .unwrap();
    first.shutdown(StopReason::Normal).await;

    let entry = f.registry.entry("svc").unwrap();
    assert!(entry.generation() > old);
    assert_eq!(entry.agent::<Worker>().unwrap().name(), "second");
    assert_eq!(f.registry.by_capability("work").len(), 1);
    second.shutdown(StopReason::Normal).await;
}
