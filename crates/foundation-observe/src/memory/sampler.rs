//! The background sampling task.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::MemoryManager;

/// The handle of a running sampler ([`MemoryManager::start`]). Dropping it stops the
/// sampler; [`stop`](Sampler::stop) stops it and waits until it is gone.
#[derive(Debug)]
#[must_use = "the sampler stops when its handle is dropped"]
pub struct Sampler {
    task: JoinHandle<()>,
}

impl Sampler {
    pub(crate) fn spawn(manager: MemoryManager, every: Duration) -> Sampler {
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                // A failed sample is kept in the manager's status and logged there; the
                // sampler goes on.
                let _ = manager.sample_now();
            }
        });
        Sampler { task }
    }

    /// Stops the sampler and waits for its task to end.
    pub async fn stop(mut self) {
        self.task.abort();
        match (&mut self.task).await {
            Err(e) if e.is_panic() => {
                tracing::error!(error = %e, "foundation.memory.sampler_panicked");
            }
            _ => {}
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}
