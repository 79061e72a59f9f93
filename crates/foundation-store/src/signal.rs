//! Wake-ups for waiters on new work: a worker waiting for tasks, a subscription waiting for
//! events.
//!
//! A topic (`"queue:emails"`, `"events"`) is a counter in a `watch` channel: a writer bumps it
//! after its transaction commits, a waiter marks what it has seen and wakes on any later bump,
//! so a signal sent between "found nothing" and "wait" is never missed. On PostgreSQL writers
//! also `pg_notify` the topic inside their transaction (delivered on commit), and one listener
//! per store (one extra connection, opened with the store) forwards other nodes' notifications
//! to the same counters, so pickup has no polling delay across nodes. Waiters still poll on a timeout: a missed notification (a listener
//! reconnecting) delays work, it never loses it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The PostgreSQL channel every topic is sent on; the payload is the topic.
pub(crate) const CHANNEL: &str = "foundation_signal";

/// Per-topic wake-up counters, and the PostgreSQL listener feeding them.
#[derive(Debug, Default)]
pub(crate) struct Signals {
    topics: Mutex<HashMap<String, watch::Sender<u64>>>,
    listener: Mutex<Option<JoinHandle<()>>>,
}

impl Signals {
    /// Wakes every waiter on `topic` in this process.
    pub(crate) fn notify(&self, topic: &str) {
        let topics = self.topics.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sender) = topics.get(topic) {
            sender.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// A receiver that sees every later [`notify`](Signals::notify) of `topic`.
    pub(crate) fn subscribe(&self, topic: &str) -> watch::Receiver<u64> {
        let mut topics = self.topics.lock().unwrap_or_else(|p| p.into_inner());
        topics
            .entry(topic.to_owned())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    /// Opens the LISTEN connection and starts the task that forwards other nodes'
    /// notifications to the local topics; returns once the server confirmed the LISTEN, so
    /// every waiter made afterwards hears every later notification. The task is owned here
    /// and aborted when the store closes or its last handle is dropped. If the connection
    /// cannot be opened, waiters fall back to polling (logged).
    pub(crate) async fn listen_postgres(self: &Arc<Self>, pool: &PgPool) {
        let listener = async {
            let mut listener = PgListener::connect_with(pool).await?;
            listener.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        let mut listener = match listener.await {
            Ok(listener) => listener,
            Err(e) => {
                tracing::warn!(
                    target: "foundation.store.listen",
                    "cannot LISTEN for wake-ups ({e}); waiters fall back to polling"
                );
                return;
            }
        };
        let signals = Arc::downgrade(self);
        let task = tokio::spawn(async move {
            // `recv` reconnects by itself after a lost connection.
            while let Ok(notification) = listener.recv().await {
                let Some(signals) = signals.upgrade() else {
                    return;
                };
                signals.notify(notification.payload());
            }
        });
        if let Some(old) = self
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replace(task)
        {
            old.abort();
        }
    }

    /// Stops the listener, if one runs.
    pub(crate) fn stop(&self) {
        if let Some(task) = self
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            task.abort();
        }
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Inside a write transaction `$tx` (a `&mut Transaction`), sends `$topic` to other nodes with
/// `pg_notify` when the backend is PostgreSQL (delivered on commit); a no-op on SQLite. Evaluates
/// to `Result<(), sqlx::Error>`.
macro_rules! pg_notify {
    ($tx:expr, $dialect:expr, $topic:expr) => {
        async {
            if $dialect.postgres {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind($crate::signal::CHANNEL)
                    .bind($topic)
                    .execute(&mut **$tx)
                    .await?;
            }
            Ok::<(), sqlx::Error>(())
        }
    };
}

pub(crate) use pg_notify;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_signal_between_check_and_wait_is_not_missed() {
        let signals = Signals::default();
        let mut rx = signals.subscribe("queue:a");
        rx.mark_unchanged();
        signals.notify("queue:a");
        // The waiter only now starts waiting: the bump is still seen.
        rx.changed().await.expect("sender alive");
    }

    #[tokio::test]
    async fn topics_are_separate() {
        let signals = Signals::default();
        let rx_a = signals.subscribe("queue:a");
        let _rx_b = signals.subscribe("queue:b");
        signals.notify("queue:b");
        assert!(!rx_a.has_changed().expect("sender alive"));
    }
}
