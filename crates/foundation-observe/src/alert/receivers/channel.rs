//! [`ChannelReceiver`]: notifications into a bounded in-process channel.

use futures::future::BoxFuture;
use tokio::sync::mpsc::{self, error::TrySendError};

use foundation_core::{Error, ErrorCode, Result};

use crate::alert::receiver::{Notification, Receiver};

/// Sends each notification into a bounded tokio channel. It never waits: a full channel is a
/// delivery failure (`core.unavailable`, retried with backoff, counted), and a channel whose
/// reading end is gone is a failure that is not retried.
#[derive(Debug, Clone)]
pub struct ChannelReceiver {
    name: String,
    tx: mpsc::Sender<Notification>,
}

impl ChannelReceiver {
    /// A receiver called `name` and the reading end of its channel of `capacity`
    /// notifications (at least 1).
    pub fn new(
        name: impl Into<String>,
        capacity: usize,
    ) -> (ChannelReceiver, mpsc::Receiver<Notification>) {
        let (tx, rx) = mpsc::channel(capacity.clamp(1, tokio::sync::Semaphore::MAX_PERMITS));
        (
            ChannelReceiver {
                name: name.into(),
                tx,
            },
            rx,
        )
    }
}

impl Receiver for ChannelReceiver {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "channel"
    }

    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.tx.try_send(n.clone()).map_err(|e| match e {
                TrySendError::Full(_) => Error::new(
                    ErrorCode::UNAVAILABLE,
                    format!("channel of receiver {:?} is full", self.name),
                )
                .with_context("receiver", &self.name),
                TrySendError::Closed(_) => Error::new(
                    ErrorCode::UNAVAILABLE,
                    format!("channel of receiver {:?} is closed", self.name),
                )
                .with_context("receiver", &self.name)
                .with_retryable(false),
            })
        })
    }
}
