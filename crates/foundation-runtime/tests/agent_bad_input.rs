//! Bad input: each a clear error naming what is wrong, never a panic or a hang.

mod agent_support;

use std::time::Duration;

use agent_support::{LONG, Msg, Probe, config};
use foundation_core::error::ErrorCode;
use foundation_runtime::agent::{AgentConfig, MAX_MAILBOX_CAPACITY, StopReason, spawn};

async fn spawn_err(cfg: AgentConfig) -> foundation_core::error::Error {
    let (probe, _) = Probe::new();
    spawn(probe, cfg).await.unwrap_err()
}

fn fields(err: &foundation_core::error::Error) -> Vec<&str> {
    err.context_values("field").collect()
}

#[tokio::test(start_paused = true)]
async fn zero_mailbox_capacity_is_rejected_naming_the_field() {
    let err = spawn_err(config("a", 0)).await;
    assert!(err.is(ErrorCode::INVALID_CONFIG), "{err:?}");
    assert_eq!(fields(&err), ["mailbox_capacity"]);
}

#[tokio::test(start_paused = true)]
async fn a_huge_mailbox_capacity_is_rejected_naming_the_field() {
    let err = spawn_err(config("a", MAX_MAILBOX_CAPACITY + 1)).await;
    assert_eq!(fields(&err), ["mailbox_capacity"]);
}

#[tokio::test(start_paused = true)]
async fn an_empty_name_and_zero_deadline_are_rejected_naming_the_fields() {
    let cfg = AgentConfig {
        name: String::new(),
        mailbox_capacity: 8,
        stop_deadline: Duration::ZERO,
    };
    let err = spawn_err(cfg).await;
    assert!(err.is(ErrorCode::INVALID_CONFIG));
    assert_eq!(fields(&err), ["name", "stop_deadline_ms"]);
}

#[test]
fn unknown_config_fields_are_rejected() {
    let err = serde_json::from_str::<AgentConfig>(r#"{"mailbox_size": 4}"#).unwrap_err();
    assert!(err.to_string().contains("mailbox_size"), "{err}");
    let cfg: AgentConfig = serde_json::from_str(r#"{"stop_deadline_ms": 250}"#).unwrap();
    assert_eq!(cfg.stop_deadline, Duration::from_millis(250));
    assert_eq!(
        cfg.mailbox_capacity,
        AgentConfig::default().mailbox_capacity
    );
}

#[tokio::test(start_paused = true)]
async fn a_zero_call_timeout_is_rejected_naming_the_argument() {
    let (probe, _) = Probe::new();
    let agent = spawn(probe, config("t", 4)).await.unwrap();
    let err = agent.call(Msg::Get, Duration::ZERO).await.unwrap_err();
    assert!(err.is(ErrorCode::INVALID_INPUT), "{err:?}");
    assert_eq!(fields(&err), ["timeout"]);
    // The agent is unaffected.
    assert!(agent.call(Msg::Get, LONG).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn stopping_a_stopped_agent_returns_its_exit_again() {
    let (probe, _) = Probe::new();
    let agent = spawn(probe, config("twice", 4)).await.unwrap();
    let first = agent.stop(StopReason::Normal).await;
    assert_eq!(agent.stop(StopReason::Shutdown).await, first);
    assert_eq!(agent.shutdown(StopReason::Shutdown).await, first);
}
