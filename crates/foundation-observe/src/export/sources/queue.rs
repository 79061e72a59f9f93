//! The durable task queue: depth by state, oldest runnable age, recent completions.

use futures::future::BoxFuture;
use parking_lot::Mutex;

use foundation_store::{QueueStats, TaskQueue};

use crate::export::{MetricSource, TextEncoder};

/// Exports every declared queue's [`QueueStats`], read from the store before each scrape.
/// When the store cannot be read, `foundation_metrics_source_up{source="queue"}` is 0 and
/// no queue series are exported (stale depths would mislead).
pub struct QueueMetrics {
    tasks: TaskQueue,
    last: Mutex<Option<Vec<(String, QueueStats)>>>,
}

impl std::fmt::Debug for QueueMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueMetrics").finish_non_exhaustive()
    }
}

impl QueueMetrics {
    /// Metrics for the queues of `tasks`' store.
    pub fn new(tasks: TaskQueue) -> QueueMetrics {
        QueueMetrics {
            tasks,
            last: Mutex::new(None),
        }
    }

    async fn read(&self) -> foundation_core::Result<Vec<(String, QueueStats)>> {
        let mut all = Vec::new();
        for queue in self.tasks.queues().await? {
            let stats = self.tasks.stats(&queue.name).await?;
            all.push((queue.name, stats));
        }
        Ok(all)
    }
}

impl MetricSource for QueueMetrics {
    fn refresh(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let read = self.read().await;
            if let Err(e) = &read {
                tracing::warn!(error = %e, "foundation.metrics.source_failed");
            }
            *self.last.lock() = read.ok();
        })
    }

    fn collect(&self, out: &mut TextEncoder) {
        let last = self.last.lock();
        out.gauge(
            "foundation_metrics_source_up",
            "1 if the source could be read for this scrape, 0 if not.",
            &[("source", "queue")],
            f64::from(u8::from(last.is_some())),
        );
        for (queue, s) in last.iter().flatten() {
            for (state, n) in [
                ("available", s.available),
                ("scheduled", s.scheduled),
                ("running", s.running),
                ("completed", s.completed),
                ("cancelled", s.cancelled),
                ("dead", s.dead),
            ] {
                out.gauge(
                    "foundation_queue_tasks",
                    "Tasks in each queue, by state.",
                    &[("queue", queue), ("state", state)],
                    n as f64,
                );
            }
            let labels = [("queue", &**queue)];
            out.gauge(
                "foundation_queue_oldest_available_age_seconds",
                "Age of the oldest task ready to run in each queue.",
                &labels,
                s.oldest_available_age_ms as f64 / 1e3,
            );
            out.gauge(
                "foundation_queue_completed_last_minute",
                "Tasks each queue completed in the last minute.",
                &labels,
                s.completed_last_minute as f64,
            );
            out.gauge(
                "foundation_queue_paused",
                "1 if the queue is paused.",
                &labels,
                f64::from(u8::from(s.paused)),
            );
        }
    }
}
