//! Telemetry events the task queue publishes on the bus (state changes only, never per task
//! on the hot path): the monitor, health checks and alerting subscribe to these.

use foundation_core::telemetry::Event;

use super::TaskId;

/// `foundation.queue.dead_lettered`: a task failed its last attempt (or a failure that no
/// retry can fix) and is now in the dead-letter queue.
#[derive(Debug, Clone)]
pub struct TaskDeadLettered {
    /// Its queue.
    pub queue: String,
    /// The task.
    pub task_id: TaskId,
    /// Attempts it had.
    pub attempts: u32,
    /// The last attempt's error.
    pub error: String,
}

impl Event for TaskDeadLettered {
    fn name(&self) -> &'static str {
        "foundation.queue.dead_lettered"
    }
    fn source(&self) -> &str {
        &self.queue
    }
}

/// `foundation.queue.leases_expired`: tasks whose worker stopped heartbeating were handed
/// back (each expired attempt counted as failed).
#[derive(Debug, Clone)]
pub struct LeasesExpired {
    /// Their queue.
    pub queue: String,
    /// How many were handed back.
    pub count: usize,
}

impl Event for LeasesExpired {
    fn name(&self) -> &'static str {
        "foundation.queue.leases_expired"
    }
    fn source(&self) -> &str {
        &self.queue
    }
}
