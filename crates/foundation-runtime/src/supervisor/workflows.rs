//! [`Workflows`]: one supervisor per unit of work, so one workflow's crash never touches
//! another.

use foundation_core::error::Error;
use foundation_core::telemetry::TelemetryBus;

use super::child::ChildInfo;
use super::handle::{ShutdownReport, SupervisorHandle, SupervisorRef, start_on};
use super::spec::{ChildSpec, Restart, SupervisorSpec};
use crate::agent::ExitReason;

/// A dynamic one-for-one supervisor whose children are per-workflow supervisors.
///
/// Each workflow is a temporary child: when it ends (finished, or gave up after its own
/// restart intensity) it is removed and never restarted, and nothing else is touched.
/// Workflows started with [`start`](Self::start) use `auto_shutdown`, so a workflow whose
/// last child finished without restart ends normally on its own.
///
/// ```
/// use foundation_runtime::supervisor::Workflows;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let workflows = Workflows::spawn("orders", Some(1000)).await.unwrap();
/// // workflows.start("order-42", vec![ChildSpec::agent("payment", ..), ..]).await?;
/// assert!(workflows.list().is_empty());
/// workflows.shutdown().await;
/// # });
/// ```
#[derive(Debug)]
pub struct Workflows {
    supervisor: SupervisorHandle,
}

impl Workflows {
    /// Starts the supervisor of workflows, reporting to the global telemetry bus; at most
    /// `max_workflows` run at once (`None`: unbounded).
    pub async fn spawn(
        name: impl Into<String>,
        max_workflows: Option<usize>,
    ) -> Result<Workflows, Error> {
        Workflows::spawn_on(name, max_workflows, TelemetryBus::global().clone()).await
    }

    /// [`spawn`](Self::spawn), reporting to `bus`.
    pub async fn spawn_on(
        name: impl Into<String>,
        max_workflows: Option<usize>,
        bus: TelemetryBus,
    ) -> Result<Workflows, Error> {
        let mut spec = SupervisorSpec::new(name);
        spec.config.max_children = max_workflows;
        Ok(Workflows {
            supervisor: start_on(spec, bus).await?,
        })
    }

    /// Starts workflow `id`: a one-for-one supervisor with `auto_shutdown` running
    /// `children` in order. Errors as [`SupervisorRef::start_child`] (`ALREADY_EXISTS`,
    /// `SUPERVISOR_FULL`, `INVALID_CONFIG`, a child's start error).
    pub async fn start(
        &self,
        id: &str,
        children: impl IntoIterator<Item = ChildSpec>,
    ) -> Result<SupervisorRef, Error> {
        let spec = SupervisorSpec::new(id)
            .auto_shutdown(true)
            .children(children);
        self.start_spec(id, spec).await
    }

    /// Starts workflow `id` from a full spec (any strategy, intensity, `auto_shutdown`).
    pub async fn start_spec(&self, id: &str, spec: SupervisorSpec) -> Result<SupervisorRef, Error> {
        let child = ChildSpec::supervisor(id, spec).restart(Restart::Temporary);
        self.supervisor.start_child(child).await?;
        self.supervisor.supervisor(id)
    }

    /// Stops workflow `id` (its children in reverse order) and returns how it ended.
    /// Errors: `NOT_FOUND` (no such workflow running).
    pub async fn stop(&self, id: &str) -> Result<ExitReason, Error> {
        self.supervisor.terminate_child(id).await
    }

    /// The supervisor of running workflow `id`. Errors: `NOT_FOUND`.
    pub fn get(&self, id: &str) -> Result<SupervisorRef, Error> {
        self.supervisor.supervisor(id)
    }

    /// The running workflows, in start order.
    pub fn list(&self) -> Vec<ChildInfo> {
        self.supervisor.which_children()
    }

    /// The supervisor of all workflows.
    pub fn supervisor(&self) -> &SupervisorRef {
        &self.supervisor
    }

    /// Stops every workflow (newest first) and the supervisor itself.
    pub async fn shutdown(self) -> ShutdownReport {
        self.supervisor.shutdown().await
    }
}
