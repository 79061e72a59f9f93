//! Where an operation goes when retrying gave up: the [`DeadLetterSink`].
//!
//! A [`DeadLetter`] names the operation, lists every attempt's error and may carry the
//! operation's payload so it can be inspected or replayed. This crate ships
//! [`InMemoryDeadLetterSink`] (bounded, for tests and small apps); the durable dead-letter
//! queue lives with the store.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use foundation_core::{Error, ErrorCode};
use futures::future::BoxFuture;
use parking_lot::Mutex;
use serde::Serialize;

use super::events::GiveUpReason;

/// One failed attempt, as the dead letter records it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptRecord {
    /// The attempt's number, 1-based.
    pub attempt: u32,
    /// The error's code.
    pub code: ErrorCode,
    /// The error's display text (message and context).
    pub message: String,
    /// When the attempt failed (wall clock, for operators).
    pub at: SystemTime,
}

impl AttemptRecord {
    pub(crate) fn new(attempt: u32, error: &Error) -> AttemptRecord {
        AttemptRecord {
            attempt,
            code: error.code(),
            message: error.to_string(),
            at: SystemTime::now(),
        }
    }
}

/// An operation that retrying gave up on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadLetter {
    /// The operation: the name of the [`Retry`](super::Retry) that gave up.
    pub operation: String,
    /// Why retrying gave up.
    pub reason: GiveUpReason,
    /// Every failed attempt, in order.
    pub attempts: Vec<AttemptRecord>,
    /// What the caller attached to replay the operation, if anything
    /// ([`Retry::run_with_payload`](super::Retry::run_with_payload)).
    pub payload: Option<serde_json::Value>,
}

/// Receives operations that retrying gave up on.
///
/// The future is boxed so the trait can be used as `Arc<dyn DeadLetterSink>`. A sink's
/// failure never replaces the operation's error: it is logged and published as
/// [`DeadLetterFailed`](super::DeadLetterFailed).
///
/// ```
/// use foundation_core::Error;
/// use foundation_protect::retry::{DeadLetter, DeadLetterSink};
/// use futures::future::BoxFuture;
///
/// struct Log;
/// impl DeadLetterSink for Log {
///     fn send(&self, letter: DeadLetter) -> BoxFuture<'_, Result<(), Error>> {
///         Box::pin(async move {
///             eprintln!("gave up on {} after {} attempts", letter.operation, letter.attempts.len());
///             Ok(())
///         })
///     }
/// }
/// ```
pub trait DeadLetterSink: Send + Sync {
    /// Stores or forwards the letter.
    fn send(&self, letter: DeadLetter) -> BoxFuture<'_, Result<(), Error>>;
}

/// A bounded in-memory sink: keeps the latest `capacity` letters, dropping the oldest (and
/// counting it) when full.
pub struct InMemoryDeadLetterSink {
    capacity: usize,
    letters: Mutex<VecDeque<DeadLetter>>,
    dropped: AtomicU64,
}

impl fmt::Debug for InMemoryDeadLetterSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryDeadLetterSink")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .field("dropped", &self.dropped())
            .finish()
    }
}

impl InMemoryDeadLetterSink {
    /// A sink keeping at most `capacity` letters (at least 1).
    pub fn new(capacity: usize) -> InMemoryDeadLetterSink {
        let capacity = capacity.max(1);
        InMemoryDeadLetterSink {
            capacity,
            letters: Mutex::new(VecDeque::with_capacity(capacity.min(1024))),
            dropped: AtomicU64::new(0),
        }
    }

    /// Adds a letter, evicting the oldest if full.
    pub fn push(&self, letter: DeadLetter) {
        let mut letters = self.letters.lock();
        if letters.len() == self.capacity {
            letters.pop_front();
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        letters.push_back(letter);
    }

    /// A copy of the stored letters, oldest first.
    pub fn letters(&self) -> Vec<DeadLetter> {
        self.letters.lock().iter().cloned().collect()
    }

    /// Removes and returns the stored letters, oldest first.
    pub fn drain(&self) -> Vec<DeadLetter> {
        self.letters.lock().drain(..).collect()
    }

    /// How many letters are stored.
    pub fn len(&self) -> usize {
        self.letters.lock().len()
    }

    /// Whether no letter is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Letters evicted because the sink was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl DeadLetterSink for InMemoryDeadLetterSink {
    fn send(&self, letter: DeadLetter) -> BoxFuture<'_, Result<(), Error>> {
        self.push(letter);
        Box::pin(std::future::ready(Ok(())))
    }
}
