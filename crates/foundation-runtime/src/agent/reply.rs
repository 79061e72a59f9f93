//! [`Reply`]: the answer slot a request carries.

use std::fmt;

use tokio::sync::oneshot;

/// Where the answer to a [`call`](super::AgentRef::call) goes.
///
/// A request message carries one; the handler answers with
/// [`Context::reply`](super::Context::reply), which delivers the answer after
/// [`Agent::after_message`](super::Agent::after_message) has run. Dropping a `Reply`
/// unanswered makes the caller's `call` fail with `AGENT_REPLY_DROPPED` (or, if the agent
/// panicked or stopped, with `AGENT_PANICKED` / `SHUTDOWN`) — never a hang.
pub struct Reply<T> {
    tx: oneshot::Sender<T>,
}

impl<T> Reply<T> {
    pub(crate) fn new(tx: oneshot::Sender<T>) -> Reply<T> {
        Reply { tx }
    }

    /// Answers now, without waiting for `after_message`. Use it for an answer produced after
    /// the handler returned (the `Reply` was moved to another task); inside a handler prefer
    /// [`Context::reply`](super::Context::reply). Returns `false` if the caller gave up.
    pub fn send(self, value: T) -> bool {
        self.tx.send(value).is_ok()
    }

    /// Whether the caller stopped waiting (timed out or was cancelled).
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

impl<T> fmt::Debug for Reply<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Reply")
    }
}
