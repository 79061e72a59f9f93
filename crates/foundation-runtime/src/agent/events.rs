//! Telemetry events an agent emits on lifecycle changes (never per message).

use foundation_core::telemetry::Event;

use super::ExitReason;

/// `foundation.agent.started`: `on_start` succeeded and the agent takes messages.
#[derive(Debug, Clone)]
pub struct AgentStarted {
    /// The agent's name.
    pub agent: String,
}

impl Event for AgentStarted {
    fn name(&self) -> &'static str {
        "foundation.agent.started"
    }
    fn source(&self) -> &str {
        &self.agent
    }
}

/// `foundation.agent.stopped`: the agent exited without a panic (stopped, aborted, cancelled).
#[derive(Debug, Clone)]
pub struct AgentStopped {
    /// The agent's name.
    pub agent: String,
    /// How it ended.
    pub reason: ExitReason,
}

impl Event for AgentStopped {
    fn name(&self) -> &'static str {
        "foundation.agent.stopped"
    }
    fn source(&self) -> &str {
        &self.agent
    }
}

/// `foundation.agent.panicked`: a hook or handler panicked.
#[derive(Debug, Clone)]
pub struct AgentPanicked {
    /// The agent's name.
    pub agent: String,
    /// The panic payload, if it was a string.
    pub message: String,
    /// The message being handled, or the hook's name (`on_start`).
    pub during: String,
}

impl Event for AgentPanicked {
    fn name(&self) -> &'static str {
        "foundation.agent.panicked"
    }
    fn source(&self) -> &str {
        &self.agent
    }
}
