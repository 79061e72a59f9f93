//! Telemetry events a supervisor emits: a restart, and giving up. Health checks ("an
//! agent restarts too often") subscribe to these.

use foundation_core::telemetry::Event;

use crate::agent::ExitReason;

/// `foundation.supervisor.child_restarted`: a child was started again.
#[derive(Debug, Clone)]
pub struct ChildRestarted {
    /// The supervisor's name.
    pub supervisor: String,
    /// The child's id.
    pub child: String,
    /// How its previous instance ended (for a sibling restarted by `OneForAll` or
    /// `RestForOne`, the exit of the stop the strategy asked for).
    pub reason: ExitReason,
    /// How many times this child has been restarted, this one included.
    pub restarts: u32,
}

impl Event for ChildRestarted {
    fn name(&self) -> &'static str {
        "foundation.supervisor.child_restarted"
    }
    fn source(&self) -> &str {
        &self.supervisor
    }
}

/// `foundation.supervisor.gave_up`: restarts exceeded the intensity; the supervisor stopped
/// its children and exits with [`ExitReason::Escalated`].
#[derive(Debug, Clone)]
pub struct SupervisorGaveUp {
    /// The supervisor's name.
    pub supervisor: String,
    /// The child whose exit was one too many.
    pub child: String,
    /// How that child ended.
    pub reason: ExitReason,
    /// The intensity that was exceeded: restarts allowed within the period.
    pub max_restarts: u32,
}

impl Event for SupervisorGaveUp {
    fn name(&self) -> &'static str {
        "foundation.supervisor.gave_up"
    }
    fn source(&self) -> &str {
        &self.supervisor
    }
}
