//! The supervisor that owns tasks: spawn, count, shut down, children.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use foundation_core::{Error, ErrorCode, Event, TelemetryBus};
use futures::FutureExt;
use parking_lot::Mutex;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::TaskHandle;

/// Emitted when a supervised task panics (`foundation.task.panicked`).
#[derive(Debug, Clone)]
pub struct TaskPanicked {
    /// The supervisor's name.
    pub supervisor: String,
    /// The task's name.
    pub task: String,
    /// The panic payload, when it was a string.
    pub message: String,
}

impl Event for TaskPanicked {
    fn name(&self) -> &'static str {
        "foundation.task.panicked"
    }
    fn source(&self) -> &str {
        &self.supervisor
    }
}

/// Emitted when a supervisor has shut down (`foundation.task.shutdown`).
#[derive(Debug, Clone)]
pub struct TaskSupervisorStopped {
    /// The supervisor's name.
    pub supervisor: String,
    /// Tasks that finished within the deadline.
    pub completed: usize,
    /// Names of the tasks aborted at the deadline.
    pub aborted: Vec<String>,
}

impl Event for TaskSupervisorStopped {
    fn name(&self) -> &'static str {
        "foundation.task.shutdown"
    }
    fn source(&self) -> &str {
        &self.supervisor
    }
}

/// What [`TaskSupervisor::shutdown`] did, including child supervisors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Tasks that finished on their own within the deadline.
    pub completed: usize,
    /// Names of the tasks that overran the deadline and were aborted (and awaited).
    pub aborted: Vec<String>,
}

/// Bookkeeping shared between the supervisor and its running tasks.
struct Tasks {
    live: AtomicUsize,
    next_id: AtomicU64,
    books: Mutex<Books>,
}

/// Running tasks by id, plus the ids of tasks that finished before their entry was written.
#[derive(Default)]
struct Books {
    running: HashMap<u64, (String, JoinHandle<()>)>,
    finished_early: HashSet<u64>,
}

/// Removes a task from the books when its future is dropped: finished, panicked or aborted.
struct LiveGuard {
    tasks: Arc<Tasks>,
    id: u64,
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        let mut books = self.tasks.books.lock();
        let entry = books.running.remove(&self.id);
        if entry.is_none() {
            books.finished_early.insert(self.id);
        }
        drop(books);
        self.tasks.live.fetch_sub(1, Ordering::AcqRel);
        drop(entry);
    }
}

struct Inner {
    name: String,
    bus: TelemetryBus,
    closed: AtomicBool,
    tasks: Arc<Tasks>,
    children: Mutex<Vec<Weak<Inner>>>,
}

impl Inner {
    fn take_running(&self) -> Vec<(String, JoinHandle<()>)> {
        self.tasks
            .books
            .lock()
            .running
            .drain()
            .map(|(_, e)| e)
            .collect()
    }

    fn live_children(&self) -> Vec<Arc<Inner>> {
        self.children
            .lock()
            .iter()
            .filter_map(Weak::upgrade)
            .collect()
    }

    fn abort_all(&self) {
        self.closed.store(true, Ordering::Release);
        for child in self.live_children() {
            child.abort_all();
        }
        for (_, handle) in self.take_running() {
            handle.abort();
        }
    }

    async fn shutdown(self: Arc<Self>, deadline: Instant) -> ShutdownReport {
        self.closed.store(true, Ordering::Release);
        let mut report = ShutdownReport::default();
        for child in self.live_children() {
            let child_report = Box::pin(child.shutdown(deadline)).await;
            report.completed += child_report.completed;
            report.aborted.extend(child_report.aborted);
        }
        let mut running: Vec<(String, Option<JoinHandle<()>>)> = self
            .take_running()
            .into_iter()
            .map(|(name, handle)| (name, Some(handle)))
            .collect();
        let _ = tokio::time::timeout_at(deadline, async {
            for (_, slot) in running.iter_mut() {
                if let Some(handle) = slot.as_mut() {
                    let _ = handle.await;
                    *slot = None;
                }
            }
        })
        .await;
        let mut mine = ShutdownReport::default();
        let mut overran = Vec::new();
        for (name, slot) in running {
            match slot {
                Some(handle) if !handle.is_finished() => {
                    handle.abort();
                    mine.aborted.push(name);
                    overran.push(handle);
                }
                _ => mine.completed += 1,
            }
        }
        for handle in overran {
            let _ = handle.await;
        }
        tracing::info!(
            supervisor = %self.name,
            completed = mine.completed,
            aborted = mine.aborted.len(),
            "task supervisor shut down"
        );
        self.bus.emit(TaskSupervisorStopped {
            supervisor: self.name.clone(),
            completed: mine.completed,
            aborted: mine.aborted.clone(),
        });
        report.completed += mine.completed;
        report.aborted.extend(mine.aborted);
        report
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.abort_all();
    }
}

/// Owns background tasks: a cheap, cloneable handle.
///
/// When the last handle is dropped, every task (and every child supervisor's task) is aborted.
/// [`shutdown`](TaskSupervisor::shutdown) is the graceful path: it waits, aborts what overran
/// the deadline and awaits it, so task state has been dropped when it returns.
#[derive(Clone)]
pub struct TaskSupervisor {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TaskSupervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskSupervisor")
            .field("name", &self.inner.name)
            .field("live", &self.live())
            .finish()
    }
}

impl TaskSupervisor {
    /// A supervisor named `name`, emitting on the global telemetry bus.
    ///
    /// # Errors
    /// An empty name is an `INVALID_INPUT` error naming `name`.
    pub fn new(name: impl Into<String>) -> Result<TaskSupervisor, Error> {
        TaskSupervisor::with_bus(name, TelemetryBus::global().clone())
    }

    /// A supervisor emitting its events on `bus`.
    ///
    /// # Errors
    /// An empty name is an `INVALID_INPUT` error naming `name`.
    pub fn with_bus(name: impl Into<String>, bus: TelemetryBus) -> Result<TaskSupervisor, Error> {
        let name = name.into();
        if name.is_empty() {
            return Err(Error::invalid_input("name", "must not be empty"));
        }
        Ok(TaskSupervisor {
            inner: Arc::new(Inner {
                name,
                bus,
                closed: AtomicBool::new(false),
                tasks: Arc::new(Tasks {
                    live: AtomicUsize::new(0),
                    next_id: AtomicU64::new(0),
                    books: Mutex::new(Books::default()),
                }),
                children: Mutex::new(Vec::new()),
            }),
        })
    }

    /// The supervisor's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// A child supervisor named `<parent>/<name>`: stopped (aborted or shut down) with this one.
    ///
    /// # Errors
    /// An empty name is an `INVALID_INPUT` error naming `name`.
    pub fn child(&self, name: &str) -> Result<TaskSupervisor, Error> {
        if name.is_empty() {
            return Err(Error::invalid_input("name", "must not be empty"));
        }
        let child = TaskSupervisor::with_bus(
            format!("{}/{name}", self.inner.name),
            self.inner.bus.clone(),
        )?;
        if self.inner.closed.load(Ordering::Acquire) {
            child.inner.closed.store(true, Ordering::Release);
        }
        let mut children = self.inner.children.lock();
        children.retain(|c| c.strong_count() > 0);
        children.push(Arc::downgrade(&child.inner));
        Ok(child)
    }

    /// Spawns `fut` as a task owned by this supervisor.
    ///
    /// A panic is caught: the handle yields an `APPLICATION` error and a [`TaskPanicked`] event is
    /// emitted. On a supervisor that is shutting down, the task is not started and the handle
    /// yields a `SHUTDOWN` error.
    pub fn spawn<F, T>(&self, name: impl Into<String>, fut: F) -> TaskHandle<T>
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let name = name.into();
        let (tx, rx) = oneshot::channel();
        if self.inner.closed.load(Ordering::Acquire) {
            let _ = tx.send(Err(Error::new(
                ErrorCode::SHUTDOWN,
                "task supervisor is shutting down",
            )
            .with_context("supervisor", &self.inner.name)
            .with_context("task", &name)));
            return TaskHandle::new(name, rx, None);
        }
        let tasks = &self.inner.tasks;
        let id = tasks.next_id.fetch_add(1, Ordering::Relaxed);
        tasks.live.fetch_add(1, Ordering::AcqRel);
        let guard = LiveGuard {
            tasks: tasks.clone(),
            id,
        };
        let report_to = (
            self.inner.name.clone(),
            name.clone(),
            self.inner.bus.clone(),
        );
        let task = async move {
            let result = match AssertUnwindSafe(fut).catch_unwind().await {
                Ok(value) => Ok(value),
                Err(panic) => {
                    let (supervisor, task, bus) = report_to;
                    let message = crate::panic::message(panic.as_ref());
                    tracing::warn!(%supervisor, %task, %message, "supervised task panicked");
                    let error =
                        Error::new(ErrorCode::APPLICATION, format!("task panicked: {message}"))
                            .with_context("supervisor", &supervisor)
                            .with_context("task", &task);
                    bus.emit(TaskPanicked {
                        supervisor,
                        task,
                        message,
                    });
                    Err(error)
                }
            };
            // Off the books before the output is visible: a joined task is never counted live.
            drop(guard);
            let _ = tx.send(result);
        };
        // Not locked across the spawn: a runtime that is shutting down drops the task inline.
        let join = tokio::spawn(task);
        let abort = join.abort_handle();
        let mut books = tasks.books.lock();
        if !books.finished_early.remove(&id) {
            books.running.insert(id, (name.clone(), join));
        }
        drop(books);
        if self.inner.closed.load(Ordering::Acquire) {
            // A shutdown began while this task was being spawned and may have missed it.
            abort.abort();
        }
        TaskHandle::new(name, rx, Some(abort))
    }

    /// The number of tasks spawned on this supervisor (not its children) that have not finished.
    pub fn live(&self) -> usize {
        self.inner.tasks.live.load(Ordering::Acquire)
    }

    /// Whether [`shutdown`](TaskSupervisor::shutdown) or [`abort_all`](TaskSupervisor::abort_all)
    /// has been called; new tasks are then refused.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Aborts every task (and every child's) without waiting; refuses new tasks.
    pub fn abort_all(&self) {
        self.inner.abort_all();
    }

    /// Graceful stop: refuses new tasks, shuts children down, waits up to `deadline` for the
    /// running tasks, then aborts the rest and awaits them. Reports what was aborted.
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        self.inner.clone().shutdown(Instant::now() + deadline).await
    }
}
