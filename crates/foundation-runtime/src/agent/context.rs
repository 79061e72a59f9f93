//! [`Context`]: what a hook or handler can do besides changing the agent's state.

use super::reply::StagedAnswer;
use super::{Agent, AgentRef, Reply, StopReason};

/// Passed to every hook and handler of an [`Agent`].
pub struct Context<A: Agent> {
    myself: AgentRef<A>,
    deferred: Vec<StagedAnswer>,
    stop: Option<StopReason>,
}

impl<A: Agent> Context<A> {
    pub(crate) fn new(myself: AgentRef<A>) -> Context<A> {
        Context {
            myself,
            deferred: Vec::new(),
            stop: None,
        }
    }

    /// The agent's name.
    pub fn name(&self) -> &str {
        self.myself.name()
    }

    /// A reference to this agent, e.g. to hand to others.
    pub fn myself(&self) -> &AgentRef<A> {
        &self.myself
    }

    /// Answers a request. The answer is delivered after the handler returns **and
    /// [`Agent::after_message`] has run**, so a caller that sees the answer knows the
    /// incremental save in `after_message` is done (write-through). If the agent panics
    /// before that, the caller gets an `AGENT_PANICKED` error instead.
    pub fn reply<T: Send + 'static>(&mut self, reply: Reply<T>, value: T) {
        if let Some(staged) = reply.stage(value) {
            self.deferred.push(staged);
        }
    }

    /// Stops the agent after the current message (its `on_stop` runs with `reason`).
    pub fn stop(&mut self, reason: StopReason) {
        self.stop = Some(reason);
    }

    pub(crate) fn flush_replies(&mut self) {
        for staged in self.deferred.drain(..) {
            staged.release();
        }
    }

    pub(crate) fn discard_replies(&mut self) {
        self.deferred.clear();
    }

    pub(crate) fn take_stop(&mut self) -> Option<StopReason> {
        self.stop.take()
    }
}
