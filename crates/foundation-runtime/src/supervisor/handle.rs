//! [`start`], [`SupervisorRef`] (cheap, cloneable address) and [`SupervisorHandle`] (the
//! owner of the supervisor's task), plus the [`ShutdownReport`] a stop returns.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::Arc;

use foundation_core::error::{Error, ErrorCode};
use foundation_core::telemetry::TelemetryBus;
use foundation_core::validate::Validate;
use parking_lot::RwLock;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::child::{ChildInfo, ChildRef};
use super::runner::{Command, Runner};
use super::spec::{ChildKind, ChildSpec, Restart, SupervisorSpec};
use crate::agent::{Agent, AgentRef, ExitReason, StopReason};

/// How many requests may wait for the supervisor loop; senders wait when it is full.
const COMMAND_CAPACITY: usize = 64;

/// What a supervisor's run ended with: its own exit and each child's, in stop order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShutdownReport {
    /// How the supervisor ended.
    pub reason: ExitReason,
    /// Each child's exit, in the order they were stopped (reverse start order). A child
    /// that overran its stop deadline shows as [`ExitReason::Aborted`].
    pub children: Vec<ChildExit>,
}

/// One child's line in a [`ShutdownReport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildExit {
    /// The child's id.
    pub id: String,
    /// How it ended.
    pub exit: ExitReason,
}

/// A child as the supervisor loop publishes it for lookups.
pub(super) struct Entry {
    pub(super) order: u64,
    pub(super) kind: ChildKind,
    pub(super) restart: Restart,
    pub(super) restarts: u32,
    pub(super) reference: Arc<dyn ChildRef>,
}

/// State shared by every reference to one supervisor.
pub(super) struct Shared {
    pub(super) name: String,
    /// The current children, written only by the supervisor loop.
    pub(super) table: RwLock<HashMap<String, Entry>>,
    pub(super) exit: watch::Sender<Option<ShutdownReport>>,
}

impl Shared {
    /// Publishes the end of the run (first one wins) and forgets the children.
    pub(super) fn finish(&self, report: ShutdownReport) {
        self.table.write().clear();
        self.exit.send_if_modified(|slot| {
            if slot.is_none() {
                *slot = Some(report);
                true
            } else {
                false
            }
        });
    }

    fn closed_error(&self) -> Error {
        let name = &self.name;
        let err = match self.exit.borrow().as_ref().map(|r| &r.reason) {
            Some(ExitReason::Escalated(why)) => Error::new(
                ErrorCode::SUPERVISOR_GAVE_UP,
                format!("supervisor `{name}` gave up: {why}"),
            ),
            Some(reason) => Error::new(
                ErrorCode::SHUTDOWN,
                format!("supervisor `{name}` is not running: {reason}"),
            ),
            None => Error::new(
                ErrorCode::SHUTDOWN,
                format!("supervisor `{name}` is stopping"),
            ),
        };
        err.with_context("supervisor", name.clone())
    }
}

/// Starts the supervisor described by `spec`, reporting to the global telemetry bus.
///
/// Validates `spec`, then starts its static children in order; returns once all of them
/// started. If one fails, those already started are stopped in reverse order and its error
/// is returned with `supervisor` and `child` context. Errors: `INVALID_CONFIG` naming every
/// bad field, the failing child's start error, `SHUTDOWN` outside a tokio runtime.
pub async fn start(spec: SupervisorSpec) -> Result<SupervisorHandle, Error> {
    start_on(spec, TelemetryBus::global().clone()).await
}

/// [`start`], reporting the supervisor's and its children's events to `bus`.
pub async fn start_on(spec: SupervisorSpec, bus: TelemetryBus) -> Result<SupervisorHandle, Error> {
    spec.validate()?;
    let name = spec.config.name.clone();
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
        Error::new(
            ErrorCode::SHUTDOWN,
            "supervisors must be started on a tokio runtime",
        )
        .with_context("supervisor", name.clone())
    })?;
    let (tx, rx) = mpsc::channel(COMMAND_CAPACITY);
    let shared = Arc::new(Shared {
        name,
        table: RwLock::new(HashMap::new()),
        exit: watch::Sender::new(None),
    });
    let (started_tx, started_rx) = oneshot::channel();
    let runner = Runner::new(shared.clone(), spec.config, bus, rx);
    let task = runtime.spawn(runner.run(spec.children, started_tx));
    // From here the handle owns the task: if this future is dropped, the task is aborted.
    let mut handle = SupervisorHandle {
        supervisor: SupervisorRef {
            commands: tx,
            shared,
        },
        task: Some(task),
    };
    match started_rx.await {
        Ok(Ok(())) => Ok(handle),
        Ok(Err(e)) => {
            handle.join().await;
            Err(e)
        }
        Err(_) => Err(handle.shared.closed_error()),
    }
}

/// A cheap, cloneable address of a supervisor: manage its children, stop it, wait for it.
///
/// Holding a `SupervisorRef` does not keep the supervisor alive; its [`SupervisorHandle`]
/// does. Calls on a supervisor that has ended fail with `SHUTDOWN`, or
/// `SUPERVISOR_GAVE_UP` if it ended by escalating.
#[derive(Clone)]
pub struct SupervisorRef {
    commands: mpsc::Sender<Command>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SupervisorRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupervisorRef")
            .field("name", &self.shared.name)
            .field("alive", &self.is_alive())
            .finish()
    }
}

impl SupervisorRef {
    /// The supervisor's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Whether the supervisor is still running.
    pub fn is_alive(&self) -> bool {
        self.shared.exit.borrow().is_none()
    }

    async fn request<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, Error>>) -> Command,
    ) -> Result<T, Error> {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(make(tx)).await.is_err() {
            return Err(self.shared.closed_error());
        }
        rx.await.map_err(|_| self.shared.closed_error())?
    }

    /// Starts a child at run time and adds it after the others (it is stopped first).
    ///
    /// Errors: `INVALID_CONFIG` (bad spec), `ALREADY_EXISTS` (its id is taken),
    /// `SUPERVISOR_FULL` (`max_children` reached), the child's start error; each names the
    /// `supervisor` and the `child`. A failed dynamic start does not count as a restart.
    pub async fn start_child(&self, spec: ChildSpec) -> Result<(), Error> {
        self.request(|reply| Command::Start(spec, reply)).await
    }

    /// Stops a child (within its deadline) and removes it; returns how it ended. It is not
    /// restarted, whatever its policy, and it does not trigger `auto_shutdown`.
    /// Errors: `NOT_FOUND` (unknown id, context `child`).
    pub async fn terminate_child(&self, id: &str) -> Result<ExitReason, Error> {
        self.request(|reply| Command::Terminate(id.to_owned(), reply))
            .await
    }

    /// The current children in start order. Empty once the supervisor ended.
    pub fn which_children(&self) -> Vec<ChildInfo> {
        let table = self.shared.table.read();
        let mut rows: Vec<(u64, ChildInfo)> = table
            .iter()
            .map(|(id, e)| {
                let info = ChildInfo {
                    id: id.clone(),
                    kind: e.kind,
                    restart: e.restart,
                    running: e.reference.is_alive(),
                    restarts: e.restarts,
                };
                (e.order, info)
            })
            .collect();
        drop(table);
        rows.sort_unstable_by_key(|(order, _)| *order);
        rows.into_iter().map(|(_, info)| info).collect()
    }

    /// The current instance of agent child `id` (after a restart, the new one). A table
    /// read, no round trip through the supervisor loop.
    ///
    /// Errors: `NOT_FOUND` (unknown id), `INVALID_INPUT` (the child is not an `A` agent),
    /// `SHUTDOWN` / `SUPERVISOR_GAVE_UP` (the supervisor ended).
    pub fn child<A: Agent>(&self, id: &str) -> Result<AgentRef<A>, Error> {
        self.lookup(id, std::any::type_name::<A>())
    }

    /// The current instance of nested supervisor child `id`; errors as [`Self::child`].
    pub fn supervisor(&self, id: &str) -> Result<SupervisorRef, Error> {
        self.lookup(id, "supervisor")
    }

    fn lookup<T: Clone + 'static>(&self, id: &str, expected: &str) -> Result<T, Error> {
        let found = self.shared.table.read().get(id).map(|e| {
            e.reference
                .as_any()
                .downcast_ref::<T>()
                .cloned()
                .ok_or(e.kind)
        });
        let name = &self.shared.name;
        match found {
            Some(Ok(reference)) => Ok(reference),
            Some(Err(kind)) => Err(Error::new(
                ErrorCode::INVALID_INPUT,
                format!("child `{id}` of supervisor `{name}` is not a {expected} ({kind:?})"),
            )
            .with_context("supervisor", name.clone())
            .with_context("child", id)
            .with_context("expected", expected)),
            None if !self.is_alive() => Err(self.shared.closed_error()),
            None => Err(Error::not_found("child", id).with_context("supervisor", name.clone())),
        }
    }

    /// Asks the supervisor to stop its children in reverse start order (each within its
    /// own deadline, aborted on overrun) and waits for the report. If it already ended,
    /// returns the report of that end.
    pub async fn stop(&self, reason: StopReason) -> ShutdownReport {
        // A closed channel means it is ending already; wait for that.
        let _ = self.commands.send(Command::Stop(reason)).await;
        self.report().await
    }

    /// Waits until the supervisor ends and returns why: `Stopped` (asked to, or
    /// `auto_shutdown`), `Escalated` (it gave up), `StartFailed`, `Cancelled` (handle dropped).
    pub async fn wait(&self) -> ExitReason {
        self.report().await.reason
    }

    /// Waits until the supervisor ends and returns the full [`ShutdownReport`].
    pub async fn report(&self) -> ShutdownReport {
        let mut rx = self.shared.exit.subscribe();
        match rx.wait_for(Option::is_some).await {
            Ok(report) => report.clone().unwrap_or_else(cancelled),
            Err(_) => cancelled(),
        }
    }

    /// The exit reason if the supervisor has ended, without waiting.
    pub fn exit_reason(&self) -> Option<ExitReason> {
        self.shared.exit.borrow().as_ref().map(|r| r.reason.clone())
    }
}

fn cancelled() -> ShutdownReport {
    ShutdownReport {
        reason: ExitReason::Cancelled,
        children: Vec::new(),
    }
}

/// The owner of a supervisor's task, returned by [`start`].
///
/// Dereferences to its [`SupervisorRef`]. Dropping it aborts the supervisor task, which
/// drops (and so cancels) every child; [`shutdown`](Self::shutdown) stops them in order.
pub struct SupervisorHandle {
    supervisor: SupervisorRef,
    task: Option<JoinHandle<()>>,
}

impl SupervisorHandle {
    /// A cloneable reference to the supervisor.
    pub fn supervisor_ref(&self) -> SupervisorRef {
        self.supervisor.clone()
    }

    /// Stops it like [`SupervisorRef::stop`] with [`StopReason::Shutdown`], then awaits its
    /// task so nothing of it is left.
    pub async fn shutdown(mut self) -> ShutdownReport {
        let report = self.supervisor.stop(StopReason::Shutdown).await;
        self.join().await;
        report
    }

    async fn join(&mut self) {
        if let Some(task) = self.task.take() {
            // Its loop publishes the exit before returning; an abort is the only other end.
            let _ = task.await;
        }
    }
}

impl Deref for SupervisorHandle {
    type Target = SupervisorRef;

    fn deref(&self) -> &SupervisorRef {
        &self.supervisor
    }
}

impl std::fmt::Debug for SupervisorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SupervisorHandle")
            .field(&self.supervisor)
            .finish()
    }
}

impl Drop for SupervisorHandle {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            self.supervisor.shared.finish(cancelled());
            task.abort();
        }
    }
}
