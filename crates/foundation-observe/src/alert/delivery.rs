//! Delivery: each receiver behind its own `Protection`, with counters and the down/up state
//! that alerting reports.

use std::sync::Arc;
use std::time::Instant;

use foundation_core::{Clock, Error, Result, TelemetryBus};
use foundation_protect::protection::Protection;
use parking_lot::Mutex;
use serde::Serialize;

use super::config::DeliveryConfig;
use super::receiver::{Notification, Receiver};

/// A receiver's delivery counters and state, as the status API shows them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReceiverStatus {
    /// Its name.
    pub name: String,
    /// Its kind (`log`, `webhook`, `channel`, `custom`).
    pub kind: String,
    /// Notifications delivered.
    pub delivered: u64,
    /// Notifications that failed, retries included.
    pub failed: u64,
    /// Delivery attempts, retries included.
    pub attempts: u64,
    /// Failed notifications since the last delivered one.
    pub consecutive_failures: u64,
    /// Whether its last notification failed (it is then reported by `AlertReceiverDown`).
    pub down: bool,
    /// The last failure's error.
    pub last_error: Option<String>,
}

/// One receiver, its protection and its counters.
pub(crate) struct Slot {
    pub(crate) receiver: Arc<dyn Receiver>,
    protection: Protection,
    status: Mutex<ReceiverStatus>,
}

/// What became of one delivery.
pub(crate) enum Outcome {
    Delivered {
        recovered: bool,
    },
    Failed {
        error: Error,
        consecutive: u64,
        newly_down: bool,
    },
}

impl Slot {
    pub(crate) fn new(
        receiver: Arc<dyn Receiver>,
        config: &DeliveryConfig,
        clock: &Clock,
        bus: &TelemetryBus,
    ) -> Result<Slot> {
        let mut builder = Protection::builder(format!("alert.receiver.{}", receiver.name()))
            .clock(clock.clone())
            .bus(bus.clone())
            .retry(config.retry.clone())
            .timeout(foundation_protect::timeout::TimeoutConfig {
                duration: config.timeout,
            });
        if let Some(breaker) = &config.circuit_breaker {
            builder = builder.circuit_breaker(breaker.clone());
        }
        Ok(Slot {
            status: Mutex::new(ReceiverStatus {
                name: receiver.name().to_string(),
                kind: receiver.kind().to_string(),
                ..ReceiverStatus::default()
            }),
            protection: builder.build()?,
            receiver,
        })
    }

    /// Delivers through the protection and counts the outcome.
    pub(crate) async fn deliver(&self, notification: &Notification) -> Outcome {
        let receiver = &self.receiver;
        let status = &self.status;
        let result = self
            .protection
            .run(|_ctx| async move {
                status.lock().attempts += 1;
                receiver.deliver(notification).await
            })
            .await;
        let mut status = self.status.lock();
        match result {
            Ok(()) => {
                status.delivered += 1;
                status.consecutive_failures = 0;
                let recovered = std::mem::replace(&mut status.down, false);
                Outcome::Delivered { recovered }
            }
            Err(error) => {
                status.failed += 1;
                status.consecutive_failures += 1;
                status.last_error = Some(error.to_string());
                let newly_down = !std::mem::replace(&mut status.down, true);
                Outcome::Failed {
                    error,
                    consecutive: status.consecutive_failures,
                    newly_down,
                }
            }
        }
    }

    pub(crate) fn status(&self) -> ReceiverStatus {
        self.status.lock().clone()
    }
}

/// A notification to deliver, and what to update once it is.
pub(crate) struct Job {
    pub(crate) slot: Arc<Slot>,
    pub(crate) notification: Notification,
    /// The group it is for (escalation and internal notifications have none).
    pub(crate) group: Option<super::group::GroupKey>,
    pub(crate) started: Instant,
}
