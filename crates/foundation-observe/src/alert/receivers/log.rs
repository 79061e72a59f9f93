//! [`LogReceiver`]: notifications as `tracing` events.

use futures::future::BoxFuture;

use foundation_core::Result;

use crate::alert::receiver::{Notification, NotificationStatus, Receiver};

/// Writes each notification as a `tracing` event named `foundation.alert.notification`:
/// `warn` for firing alerts, `info` for resolved ones. Never fails.
#[derive(Debug, Clone)]
pub struct LogReceiver {
    name: String,
}

impl LogReceiver {
    /// A log receiver called `name`.
    pub fn new(name: impl Into<String>) -> LogReceiver {
        LogReceiver { name: name.into() }
    }
}

impl Receiver for LogReceiver {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "log"
    }

    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let alerts: Vec<String> = n
                .alerts
                .iter()
                .map(|a| format!("{}{:?}", a.fingerprint, a.labels))
                .collect();
            match n.status {
                NotificationStatus::Firing => tracing::warn!(
                    receiver = %self.name, group = %n.group_key, alerts = ?alerts,
                    "foundation.alert.notification"
                ),
                NotificationStatus::Resolved => tracing::info!(
                    receiver = %self.name, group = %n.group_key, alerts = ?alerts,
                    "foundation.alert.notification"
                ),
            }
            Ok(())
        })
    }
}
