//! The monitor's background task: upkeep every tick, and counting bus events.

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use foundation_core::telemetry::TelemetryBus;

use super::Monitor;

/// The running background task of a [`Monitor`]; dropping it aborts the task.
#[derive(Debug)]
pub struct MonitorTask {
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

impl MonitorTask {
    /// Stops the task and waits for it to finish its current step.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            let _ = handle.await;
        }
    }
}

impl Drop for MonitorTask {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.abort();
        }
    }
}

pub(super) fn spawn(monitor: Monitor, bus: &TelemetryBus) -> MonitorTask {
    let mut events = bus.subscribe(monitor.config().event_buffer);
    let (stop, mut stopped) = oneshot::channel();
    let handle = tokio::spawn(async move {
        let mut ticks = tokio::time::interval(monitor.config().tick);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut bus_open = true;
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                _ = ticks.tick() => monitor.tick(),
                event = events.recv(), if bus_open => match event {
                    Some(event) => monitor.count_event(&*event),
                    None => bus_open = false,
                },
            }
        }
    });
    MonitorTask {
        stop: Some(stop),
        handle: Some(handle),
    }
}
