//! The engine: the background task that evaluates rules and delivers notifications.

use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::MissedTickBehavior;

use super::manager::AlertManager;

/// The running engine of an [`AlertManager`]; dropping it aborts the engine and its
/// deliveries.
#[derive(Debug)]
pub struct AlertTask {
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

impl AlertTask {
    /// Stops the engine: deliveries still running are abandoned (their alerts are sent again
    /// at the next flush of a new engine), and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            let _ = handle.await;
        }
    }
}

impl Drop for AlertTask {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.abort();
        }
    }
}

/// Bus events that make the engine evaluate its rules at the next flush instead of waiting
/// for the evaluation interval: a health check changing status, a monitor threshold breached
/// or cleared.
const TRIGGERS: [&str; 2] = [
    "foundation.health.status_changed",
    "foundation.monitor.threshold_",
];

/// Rules every `evaluation_interval`, and at the next flush after a trigger event;
/// notifications, escalations and deliveries every `flush_interval`. Deliveries run
/// concurrently in a set the engine owns, so a slow receiver never holds up evaluation or the
/// other receivers.
pub(super) fn spawn(manager: AlertManager) -> AlertTask {
    let (stop, mut stopped) = oneshot::channel();
    let [mut health, mut thresholds] =
        TRIGGERS.map(|prefix| manager.bus().subscribe_prefix(prefix, 16));
    let handle = tokio::spawn(async move {
        let config = manager.config();
        let mut evaluations = tokio::time::interval(config.evaluation_interval);
        evaluations.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut flushes = tokio::time::interval(config.flush_interval);
        flushes.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut deliveries = JoinSet::new();
        let (mut health_open, mut thresholds_open, mut triggered) = (true, true, false);
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                _ = evaluations.tick() => {
                    triggered = false;
                    manager.evaluate().await;
                }
                event = health.recv(), if health_open => match event {
                    Some(_) => triggered = true,
                    None => health_open = false,
                },
                event = thresholds.recv(), if thresholds_open => match event {
                    Some(_) => triggered = true,
                    None => thresholds_open = false,
                },
                _ = flushes.tick() => {
                    if std::mem::take(&mut triggered) {
                        manager.evaluate().await;
                    }
                    for job in manager.prepare() {
                        let manager = manager.clone();
                        deliveries.spawn(async move { manager.run(job).await });
                    }
                }
                Some(_) = deliveries.join_next(), if !deliveries.is_empty() => {}
            }
        }
        deliveries.shutdown().await;
        manager.abandon_in_flight();
    });
    AlertTask {
        stop: Some(stop),
        handle: Some(handle),
    }
}
