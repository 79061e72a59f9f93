//! [`Reply`]: the answer slot a request carries, and the caller's side of it.
//!
//! One shared slot per call: the caller holds an `Answer` (a future), the request carries
//! the [`Reply`]. An answer given with [`Context::reply`](super::Context::reply) is *staged*
//! in the slot (invisible to the caller) and the slot itself, type-erased as an
//! `Arc<dyn Staged>`, waits in the context until `after_message` has run; then it is
//! released. Staging needs no allocation of its own, unlike a boxed deferred closure. A
//! staged answer that is never released (the agent panicked or was aborted) counts as a
//! dropped reply, so the caller gets an error, never a hang.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;

/// Where the answer to a [`call`](super::AgentRef::call) goes.
///
/// A request message carries one; the handler answers with
/// [`Context::reply`](super::Context::reply), which delivers the answer after
/// [`Agent::after_message`](super::Agent::after_message) has run. Dropping a `Reply`
/// unanswered makes the caller's `call` fail with `AGENT_REPLY_DROPPED` (or, if the agent
/// panicked or stopped, with `AGENT_PANICKED` / `SHUTDOWN`) — never a hang.
pub struct Reply<T> {
    /// `None` once the answer was staged: the slot then belongs to the context.
    slot: Option<Arc<Slot<T>>>,
}

/// A fresh reply slot: the request's [`Reply`] and the caller's [`Answer`].
pub(crate) fn channel<T>() -> (Reply<T>, Answer<T>) {
    let slot = Arc::new(Slot {
        state: Mutex::new(State {
            value: None,
            released: false,
            replier_gone: false,
            caller_gone: false,
            waker: None,
        }),
    });
    (
        Reply {
            slot: Some(slot.clone()),
        },
        Answer { slot },
    )
}

struct Slot<T> {
    state: Mutex<State<T>>,
}

struct State<T> {
    /// The answer, staged or released.
    value: Option<T>,
    /// Whether the caller may take `value`.
    released: bool,
    /// The `Reply` (or its staged answer) is gone without releasing an answer.
    replier_gone: bool,
    /// The caller stopped waiting.
    caller_gone: bool,
    waker: Option<Waker>,
}

impl<T> Slot<T> {
    /// Puts `value` in the slot unreleased; `false` (and `value` dropped) if the caller is
    /// gone.
    fn stage(&self, value: T) -> bool {
        let mut state = self.state.lock();
        if state.caller_gone {
            drop(state);
            drop(value);
            return false;
        }
        state.value = Some(value);
        true
    }

    /// Releases the staged answer, or, when `released` is false, gives up: the caller is
    /// told the reply was dropped. Wakes the caller either way.
    fn settle(&self, released: bool) {
        let (waker, dropped) = {
            let mut state = self.state.lock();
            let dropped = if released {
                state.released = true;
                None
            } else {
                state.replier_gone = true;
                state.value.take()
            };
            (state.waker.take(), dropped)
        };
        drop(dropped);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> Reply<T> {
    /// Answers now, without waiting for `after_message`. Use it for an answer produced after
    /// the handler returned (the `Reply` was moved to another task); inside a handler prefer
    /// [`Context::reply`](super::Context::reply). Returns `false` if the caller gave up.
    pub fn send(mut self, value: T) -> bool {
        let Some(slot) = self.slot.take() else {
            return false;
        };
        let accepted = slot.stage(value);
        slot.settle(accepted);
        accepted
    }

    /// Whether the caller stopped waiting (timed out or was cancelled).
    pub fn is_closed(&self) -> bool {
        self.slot
            .as_ref()
            .is_none_or(|slot| slot.state.lock().caller_gone)
    }

    /// Stores `value` for release after `after_message`; the returned handle releases it
    /// (or, dropped unreleased, reports the reply dropped). `None` if the caller gave up.
    pub(crate) fn stage(mut self, value: T) -> Option<StagedAnswer>
    where
        T: Send + 'static,
    {
        let slot = self.slot.take()?;
        if !slot.stage(value) {
            slot.settle(false);
            return None;
        }
        Some(StagedAnswer { slot: Some(slot) })
    }
}

impl<T> Drop for Reply<T> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            slot.settle(false);
        }
    }
}

impl<T> fmt::Debug for Reply<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Reply")
    }
}

/// A reply slot with its answer staged, type-erased so a context can hold any number of
/// them without boxing.
trait Staged: Send + Sync {
    fn settle(&self, released: bool);
}

impl<T: Send> Staged for Slot<T> {
    fn settle(&self, released: bool) {
        Slot::settle(self, released);
    }
}

/// A staged answer waiting in a context; [`release`](Self::release) delivers it, dropping
/// it unreleased tells the caller the reply was dropped.
pub(crate) struct StagedAnswer {
    slot: Option<Arc<dyn Staged>>,
}

impl StagedAnswer {
    /// Delivers the answer to the caller.
    pub(crate) fn release(mut self) {
        if let Some(slot) = self.slot.take() {
            slot.settle(true);
        }
    }
}

impl Drop for StagedAnswer {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            slot.settle(false);
        }
    }
}

/// The caller's side of a reply slot: resolves to the released answer, or to `Err(())` once
/// the reply is gone without one. Dropping it tells the agent the caller stopped waiting.
pub(crate) struct Answer<T> {
    slot: Arc<Slot<T>>,
}

impl<T> Future for Answer<T> {
    type Output = Result<T, ()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.slot.state.lock();
        if state.released {
            if let Some(value) = state.value.take() {
                return Poll::Ready(Ok(value));
            }
        }
        if state.replier_gone {
            return Poll::Ready(Err(()));
        }
        match &mut state.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<T> Drop for Answer<T> {
    fn drop(&mut self) {
        let dropped = {
            let mut state = self.slot.state.lock();
            state.caller_gone = true;
            state.waker = None;
            state.value.take()
        };
        drop(dropped);
    }
}
