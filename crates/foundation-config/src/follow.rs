//! Following the changes other nodes store in a shared history.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::service::ConfigService;

/// A task that adopts, every interval, the versions other nodes stored
/// ([`ConfigService::refresh`]). A refresh that fails (store down, a version this node cannot
/// validate) is published as `foundation.config.refused` and tried again next interval.
/// Dropping it stops the task.
#[derive(Debug)]
pub struct Follower {
    task: JoinHandle<()>,
}

impl ConfigService {
    /// Adopts other nodes' versions every `every` on a task owned by the returned
    /// [`Follower`]. Must be called within a Tokio runtime.
    pub fn follow(self: &Arc<Self>, every: Duration) -> Follower {
        let service = Arc::clone(self);
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(e) = service.refresh().await {
                    service.config().refused(e);
                }
            }
        });
        Follower { task }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.task.abort();
    }
}
