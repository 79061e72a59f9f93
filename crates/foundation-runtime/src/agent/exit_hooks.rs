//! Callbacks run once when an agent exits ([`AgentRef::on_exit`](super::AgentRef::on_exit)).

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Weak;

use parking_lot::Mutex;

use super::ExitReason;
use super::handle::Shared;

type HookFn = Box<dyn FnOnce(&ExitReason) + Send>;

/// An agent's exit hooks: registered until the exit, then run once each.
///
/// Hooks are keyed by an increasing id: they run in registration order, and unregistering
/// one costs O(log n) however many an agent carries (a registry may hold one per name it is
/// registered under). A hook that panics is logged and the others still run: the exit is
/// always published.
pub(crate) struct ExitHooks {
    state: Mutex<State>,
}

struct State {
    next_id: u64,
    hooks: Hooks,
}

enum Hooks {
    Pending(BTreeMap<u64, HookFn>),
    /// The exit happened; hooks added now run at once with this reason.
    Ran(ExitReason),
}

impl ExitHooks {
    pub(crate) fn new() -> ExitHooks {
        ExitHooks {
            state: Mutex::new(State {
                next_id: 0,
                hooks: Hooks::Pending(BTreeMap::new()),
            }),
        }
    }

    /// Registers `hook`, or runs it now (outside the lock) if the exit already happened.
    fn add(&self, hook: HookFn) -> Option<u64> {
        let mut state = self.state.lock();
        let id = state.next_id;
        state.next_id += 1;
        match &mut state.hooks {
            Hooks::Pending(pending) => {
                pending.insert(id, hook);
                Some(id)
            }
            Hooks::Ran(reason) => {
                let reason = reason.clone();
                drop(state);
                hook(&reason);
                None
            }
        }
    }

    fn remove(&self, id: u64) {
        if let Hooks::Pending(pending) = &mut self.state.lock().hooks {
            pending.remove(&id);
        }
    }

    /// Runs every registered hook once with `reason`, in registration order, outside the
    /// lock. `agent` names the agent when a hook panics.
    pub(crate) fn run(&self, agent: &str, reason: &ExitReason) {
        let hooks = std::mem::replace(&mut self.state.lock().hooks, Hooks::Ran(reason.clone()));
        if let Hooks::Pending(pending) = hooks {
            for hook in pending.into_values() {
                if let Err(payload) = catch_unwind(AssertUnwindSafe(|| hook(reason))) {
                    let message = crate::panic::message(&*payload);
                    tracing::error!(agent, %message, "an exit hook panicked");
                }
            }
        }
    }

    /// How many hooks wait for the exit.
    pub(crate) fn count(&self) -> usize {
        match &self.state.lock().hooks {
            Hooks::Pending(pending) => pending.len(),
            Hooks::Ran(_) => 0,
        }
    }
}

/// A registered [`AgentRef::on_exit`](super::AgentRef::on_exit) callback; dropping it
/// unregisters the callback unless it already ran. [`detach`](Self::detach) keeps it
/// registered for the agent's lifetime.
#[must_use = "dropping an ExitHook unregisters its callback"]
pub struct ExitHook {
    shared: Weak<Shared>,
    id: Option<u64>,
}

impl ExitHook {
    /// Registers `hook` on the agent behind `shared` (or runs it now if it exited).
    pub(crate) fn register(
        shared: &std::sync::Arc<Shared>,
        hook: impl FnOnce(&ExitReason) + Send + 'static,
    ) -> ExitHook {
        let id = shared.hooks.add(Box::new(hook));
        ExitHook {
            shared: std::sync::Arc::downgrade(shared),
            id,
        }
    }

    /// Keeps the callback registered until the agent exits.
    pub fn detach(mut self) {
        self.id = None;
    }
}

impl std::fmt::Debug for ExitHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExitHook").field("id", &self.id).finish()
    }
}

impl Drop for ExitHook {
    fn drop(&mut self) {
        if let (Some(id), Some(shared)) = (self.id, self.shared.upgrade()) {
            shared.hooks.remove(id);
        }
    }
}
