//! [`AgentRef`] (cheap, cloneable address) and [`AgentHandle`] (the owner of the agent's task).

use std::future::{Future, poll_fn};
use std::ops::Deref;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::Poll;
use std::time::Duration;

use foundation_core::error::{Error, ErrorCode};
use foundation_core::telemetry::TelemetryBus;
use parking_lot::Mutex;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::{AbortHandle, JoinHandle};
use tokio::time::{Instant, Sleep};

use super::events::{AgentPanicked, AgentStopped};
use super::exit_hooks::{ExitHook, ExitHooks};
use super::{Agent, ExitReason, Reply, StopReason, reply};

/// State shared by every reference to one agent.
pub(crate) struct Shared {
    pub(crate) name: String,
    alive: AtomicBool,
    /// Set once a stop is requested (after its reason is in `stop_reason`, before
    /// `stop_signal` fires) or under way; until then the run loop may take a queued message
    /// without polling `stop_signal`.
    stop_requested: AtomicBool,
    exit: watch::Sender<Option<ExitReason>>,
    /// The first requested stop's reason.
    stop_reason: Mutex<Option<StopReason>>,
    /// Wakes the run loop for a stop request (a stored permit if it is not waiting).
    stop_signal: Notify,
    pub(crate) abort: OnceLock<AbortHandle>,
    pub(crate) stop_deadline: Duration,
    pub(crate) bus: TelemetryBus,
    pub(crate) hooks: ExitHooks,
}

impl Shared {
    pub(crate) fn new(name: String, stop_deadline: Duration, bus: TelemetryBus) -> Shared {
        Shared {
            name,
            alive: AtomicBool::new(true),
            stop_requested: AtomicBool::new(false),
            exit: watch::Sender::new(None),
            stop_reason: Mutex::new(None),
            stop_signal: Notify::new(),
            abort: OnceLock::new(),
            stop_deadline,
            bus,
            hooks: ExitHooks::new(),
        }
    }

    /// Records the exit (first one wins) and emits its event. Must run before the agent's
    /// pending replies are dropped, so callers that see a closed reply read the reason.
    pub(crate) fn finish(&self, reason: ExitReason) -> bool {
        if !self.alive.swap(false, Ordering::AcqRel) {
            return false;
        }
        // Hooks run before the exit is published: whoever `wait`s sees their effects (a
        // registry entry already gone, say).
        self.hooks.run(&self.name, &reason);
        self.exit.send_replace(Some(reason.clone()));
        match reason {
            ExitReason::Panicked { message, during } => {
                tracing::error!(agent = %self.name, %message, %during, "agent panicked");
                self.bus.emit(AgentPanicked {
                    agent: self.name.clone(),
                    message,
                    during,
                });
            }
            ExitReason::StartFailed(_) => {}
            reason => {
                tracing::info!(agent = %self.name, %reason, "agent stopped");
                self.bus.emit(AgentStopped {
                    agent: self.name.clone(),
                    reason,
                });
            }
        }
        true
    }

    /// Whether a stop was requested (its reason is stored, its signal sent or on its way) or is
    /// under way.
    pub(crate) fn stop_requested(&self) -> bool {
        self.stop_requested.load(Ordering::Acquire)
    }

    /// Marks the agent as stopping: its mailbox is about to close.
    pub(crate) fn mark_stopping(&self) {
        self.stop_requested.store(true, Ordering::Release);
    }

    /// Marks the agent as stopping for `reason` (the first reason given wins), so callers whose
    /// answers are dropped from now on are told why. The stop itself is requested separately.
    pub(crate) fn mark_stopping_because(&self, reason: StopReason) {
        self.stop_reason.lock().get_or_insert(reason);
        self.mark_stopping();
    }

    /// Asks the run loop to stop; the first request's reason wins.
    fn request_stop(&self, reason: StopReason) {
        self.stop_reason.lock().get_or_insert(reason);
        self.mark_stopping();
        self.stop_signal.notify_one();
    }

    /// Waits for a stop request and returns its reason.
    pub(crate) async fn stop_requested_reason(&self) -> StopReason {
        self.stop_signal.notified().await;
        self.stop_reason
            .lock()
            .clone()
            .unwrap_or(StopReason::Shutdown)
    }

    fn exit_reason(&self) -> Option<ExitReason> {
        self.exit.borrow().clone()
    }

    /// The error a caller gets when its reply slot was dropped or the mailbox is closed.
    fn closed_error(&self) -> Error {
        let name = &self.name;
        match &*self.exit.borrow() {
            Some(ExitReason::Panicked { message, during }) => Error::new(
                ErrorCode::AGENT_PANICKED,
                format!("agent `{name}` panicked: {message}"),
            )
            .with_context("agent", name.clone())
            .with_context("during", during.clone()),
            Some(reason) => Error::new(
                ErrorCode::SHUTDOWN,
                format!("agent `{name}` is not running: {reason}"),
            )
            .with_context("agent", name.clone()),
            None if self.stop_requested() => {
                let message = match &*self.stop_reason.lock() {
                    Some(reason) => format!("agent `{name}` is stopping: {reason}"),
                    None => format!("agent `{name}` is stopping"),
                };
                Error::new(ErrorCode::SHUTDOWN, message).with_context("agent", name.clone())
            }
            None => Error::new(
                ErrorCode::AGENT_REPLY_DROPPED,
                format!("agent `{name}` dropped the reply without answering"),
            )
            .with_context("agent", name.clone()),
        }
    }
}

/// A cheap, cloneable address of a running agent: send it messages, stop it, wait for it.
///
/// Holding an `AgentRef` does not keep the agent alive; its [`AgentHandle`] does.
pub struct AgentRef<A: Agent> {
    pub(crate) tx: mpsc::Sender<A::Msg>,
    pub(crate) shared: Arc<Shared>,
}

impl<A: Agent> Clone for AgentRef<A> {
    fn clone(&self) -> Self {
        AgentRef {
            tx: self.tx.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<A: Agent> std::fmt::Debug for AgentRef<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentRef")
            .field("name", &self.shared.name)
            .field("alive", &self.is_alive())
            .finish()
    }
}

impl<A: Agent> AgentRef<A> {
    /// The agent's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Whether the agent is still running (started and not yet exited).
    pub fn is_alive(&self) -> bool {
        self.shared.alive.load(Ordering::Acquire)
    }

    /// Sends a request built by `make` around a fresh [`Reply`] and waits for the answer.
    ///
    /// Delivery is guaranteed or this fails: a full mailbox is waited on within `timeout`.
    /// Errors: `INVALID_INPUT` (zero `timeout`, field `timeout`), `TIMEOUT` (no answer in
    /// time), `SHUTDOWN` (agent not running), `AGENT_PANICKED` (it panicked before
    /// answering), `AGENT_REPLY_DROPPED` (the handler dropped the reply). Each names the
    /// agent in the `agent` context.
    pub async fn call<R, F>(&self, make: F, timeout: Duration) -> Result<R, Error>
    where
        F: FnOnce(Reply<R>) -> A::Msg,
    {
        if timeout.is_zero() {
            return Err(Error::invalid_input("timeout", "must be positive")
                .with_context("agent", self.shared.name.clone()));
        }
        let (reply, answer) = reply::channel();
        let msg = make(reply);
        let exchange = async {
            match self.tx.try_send(msg) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(msg)) => {
                    if self.tx.send(msg).await.is_err() {
                        return Err(self.shared.closed_error());
                    }
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    return Err(self.shared.closed_error());
                }
            }
            answer.await.map_err(|()| self.shared.closed_error())
        };
        match within(timeout, exchange).await {
            Some(result) => result,
            None => Err(Error::new(
                ErrorCode::TIMEOUT,
                format!("agent `{}` did not answer in {timeout:?}", self.shared.name),
            )
            .with_context("agent", self.shared.name.clone())
            .with_context("timeout_ms", timeout.as_millis().to_string())),
        }
    }

    /// Sends a notice without waiting. Never drops silently: a full mailbox is
    /// `AGENT_MAILBOX_FULL`, a stopped agent `SHUTDOWN`.
    pub fn cast(&self, msg: A::Msg) -> Result<(), Error> {
        match self.tx.try_send(msg) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => Err(Error::new(
                ErrorCode::AGENT_MAILBOX_FULL,
                format!("agent `{}` mailbox is full", self.shared.name),
            )
            .with_context("agent", self.shared.name.clone())),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(self.shared.closed_error()),
        }
    }

    /// Asks the agent to stop and waits for it to exit.
    ///
    /// Graceful: the current message finishes, queued messages are refused (their callers
    /// get `SHUTDOWN`), then `on_stop(reason)` runs. If that takes longer than the agent's
    /// `stop_deadline`, the agent is aborted and [`ExitReason::Aborted`] is returned. If the
    /// agent already exited, its exit reason is returned.
    ///
    /// From inside the agent's own handler use [`Context::stop`](super::Context::stop):
    /// awaiting this there would wait on the handler itself and end as `Aborted`.
    pub async fn stop(&self, reason: StopReason) -> ExitReason {
        if let Some(done) = self.shared.exit_reason() {
            return done;
        }
        // If a stop is already under way its reason stands; wait for it.
        self.shared.request_stop(reason.clone());
        match within(self.shared.stop_deadline, self.wait()).await {
            Some(exit) => exit,
            None => {
                if self.shared.finish(ExitReason::Aborted(reason)) {
                    if let Some(abort) = self.shared.abort.get() {
                        abort.abort();
                    }
                }
                self.wait().await
            }
        }
    }

    /// Waits until the agent exits and returns why. Cancel-safe; any number of callers
    /// (e.g. a supervisor watching its children) may wait at once.
    pub async fn wait(&self) -> ExitReason {
        let mut rx = self.shared.exit.subscribe();
        match rx.wait_for(Option::is_some).await {
            Ok(exit) => exit.clone().unwrap_or(ExitReason::Cancelled),
            Err(_) => ExitReason::Cancelled,
        }
    }

    /// The exit reason if the agent has exited, without waiting.
    pub fn exit_reason(&self) -> Option<ExitReason> {
        self.shared.exit_reason()
    }

    /// Runs `hook` once when the agent exits, on the thread that records the exit; if it
    /// already exited, runs it now. Dropping the returned [`ExitHook`] unregisters it, so
    /// nothing is left behind when the watcher loses interest first (a registry entry
    /// removed by hand, say). Hooks run in registration order, before [`wait`](Self::wait)
    /// returns; one that panics is logged and does not stop the others or the exit. Keep
    /// hooks short and non-blocking.
    pub fn on_exit(&self, hook: impl FnOnce(&ExitReason) + Send + 'static) -> ExitHook {
        ExitHook::register(&self.shared, hook)
    }

    /// How many exit hooks are registered and not yet run (a leak check for watchers).
    pub fn exit_hook_count(&self) -> usize {
        self.shared.hooks.count()
    }
}

/// `timeout` from now on the tokio clock (so a paused test clock governs it), saturating far
/// in the future instead of overflowing.
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(FAR_FUTURE_SECS))
}

/// About 30 years: a deadline that never comes.
const FAR_FUTURE_SECS: u64 = 30 * 365 * 24 * 3600;

/// Runs `work` for at most `timeout`; `None` if the time ran out first.
///
/// Like `tokio::time::timeout`, but the timer is armed lazily. What is waited on here (a
/// call's answer, an agent's exit, `on_stop`) is usually done at once or after one trip
/// through the scheduler, so the first time `work` is pending the waiter yields once (it
/// wakes itself, so it is polled again and never hangs) and arms the timer only if `work`
/// is still pending then. That saves inserting and removing a timer-wheel entry on the fast
/// path. The deadline is fixed before `work` is first polled, so the wait is bounded by it
/// either way.
pub(crate) async fn within<T>(timeout: Duration, work: impl Future<Output = T>) -> Option<T> {
    let deadline = deadline_after(timeout);
    let mut work = pin!(work);
    let mut timer = pin!(None::<Sleep>);
    let mut yielded = false;
    poll_fn(move |cx| {
        if let Poll::Ready(out) = work.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        if !yielded {
            yielded = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if timer.is_none() {
            timer.set(Some(tokio::time::sleep_until(deadline)));
        }
        match timer.as_mut().as_pin_mut().map(|sleep| sleep.poll(cx)) {
            Some(Poll::Ready(())) => Poll::Ready(None),
            _ => Poll::Pending,
        }
    })
    .await
}

/// The owner of an agent's task, returned by [`spawn`](super::spawn).
///
/// Dereferences to its [`AgentRef`]. Dropping it cancels the agent (reported as
/// [`ExitReason::Cancelled`] if it was still running); [`shutdown`](Self::shutdown) stops it
/// gracefully and awaits its task.
pub struct AgentHandle<A: Agent> {
    agent: AgentRef<A>,
    task: Option<JoinHandle<()>>,
}

impl<A: Agent> AgentHandle<A> {
    pub(crate) fn new(agent: AgentRef<A>, task: JoinHandle<()>) -> AgentHandle<A> {
        AgentHandle {
            agent,
            task: Some(task),
        }
    }

    /// A cloneable reference to the agent.
    pub fn agent_ref(&self) -> AgentRef<A> {
        self.agent.clone()
    }

    /// Stops the agent like [`AgentRef::stop`], then awaits its task so nothing of it is left.
    pub async fn shutdown(mut self, reason: StopReason) -> ExitReason {
        let exit = self.agent.stop(reason).await;
        self.join().await;
        exit
    }

    /// Awaits the task's end (it has exited or been aborted).
    pub(crate) async fn join(&mut self) {
        if let Some(task) = self.task.take() {
            // A cancelled task is the expected end after an abort; a panic was caught inside.
            let _ = task.await;
        }
    }
}

impl<A: Agent> Deref for AgentHandle<A> {
    type Target = AgentRef<A>;

    fn deref(&self) -> &AgentRef<A> {
        &self.agent
    }
}

impl<A: Agent> std::fmt::Debug for AgentHandle<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("AgentHandle").field(&self.agent).finish()
    }
}

impl<A: Agent> Drop for AgentHandle<A> {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            self.agent.shared.finish(ExitReason::Cancelled);
            task.abort();
        }
    }
}
