//! The supervisor loop: one tokio task that owns the children, learns of their exits from a
//! `FuturesUnordered` of their `wait()` futures, applies the restart strategy and answers
//! requests. It runs no user code but the child factories (whose panics are caught).

use std::ops::Range;
use std::sync::Arc;

use foundation_core::error::{Error, ErrorCode};
use foundation_core::telemetry::TelemetryBus;
use foundation_core::validate::Validate;
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::child::RunningChild;
use super::events::{ChildRestarted, SupervisorGaveUp};
use super::handle::{ChildExit, Entry, Shared, ShutdownReport};
use super::intensity::RestartIntensity;
use super::spec::{ChildSpec, Restart, Strategy, SupervisorConfig};
use crate::agent::{ExitReason, StopReason};

/// A request to the loop from a [`SupervisorRef`](super::SupervisorRef).
pub(super) enum Command {
    Start(ChildSpec, oneshot::Sender<Result<(), Error>>),
    Terminate(String, oneshot::Sender<Result<ExitReason, Error>>),
    Stop(StopReason),
}

/// A running instance and the tag its exit future reports.
struct Live {
    handle: Box<dyn RunningChild>,
    instance: u64,
}

struct Child {
    spec: ChildSpec,
    /// `None` only while the loop handles its exit or restarts it.
    live: Option<Live>,
    /// Position in start order, kept across restarts (for `which_children`).
    order: u64,
    restarts: u32,
    last_exit: Option<ExitReason>,
}

pub(super) struct Runner {
    shared: Arc<Shared>,
    config: SupervisorConfig,
    bus: TelemetryBus,
    commands: mpsc::Receiver<Command>,
    /// In start order.
    children: Vec<Child>,
    /// Each instance's exit, tagged; tags of instances no longer current are ignored.
    exits: FuturesUnordered<BoxFuture<'static, (u64, ExitReason)>>,
    intensity: RestartIntensity,
    next_tag: u64,
}

impl Runner {
    pub(super) fn new(
        shared: Arc<Shared>,
        config: SupervisorConfig,
        bus: TelemetryBus,
        commands: mpsc::Receiver<Command>,
    ) -> Runner {
        Runner {
            intensity: RestartIntensity::new(config.max_restarts, config.period),
            shared,
            config,
            bus,
            commands,
            children: Vec::new(),
            exits: FuturesUnordered::new(),
            next_tag: 0,
        }
    }

    /// Starts the static children, reports the start, then serves until the end.
    pub(super) async fn run(
        mut self,
        children: Vec<ChildSpec>,
        started: oneshot::Sender<Result<(), Error>>,
    ) {
        for spec in children {
            if let Err(e) = self.add(spec).await {
                let report = self.stop_all(ExitReason::StartFailed(e.to_string())).await;
                self.shared.finish(report);
                let _ = started.send(Err(e));
                return;
            }
        }
        if started.send(Ok(())).is_err() {
            // The starter gave up; its handle is aborting this task.
            return;
        }
        tracing::debug!(supervisor = %self.shared.name, "supervisor started");
        let report = self.serve().await;
        tracing::info!(supervisor = %self.shared.name, reason = %report.reason, "supervisor ended");
        self.shared.finish(report);
    }

    async fn serve(&mut self) -> ShutdownReport {
        let reason = loop {
            tokio::select! {
                biased;
                Some((tag, exit)) = self.exits.next(), if !self.exits.is_empty() => {
                    if let Some(end) = self.on_exit(tag, exit).await {
                        break end;
                    }
                }
                command = self.commands.recv() => match command {
                    Some(Command::Start(spec, reply)) => {
                        let _ = reply.send(self.start_dynamic(spec).await);
                    }
                    Some(Command::Terminate(id, reply)) => {
                        let _ = reply.send(self.terminate(&id).await);
                    }
                    Some(Command::Stop(reason)) => break ExitReason::Stopped(reason),
                    None => break ExitReason::Stopped(StopReason::Shutdown),
                },
            }
        };
        self.stop_all(reason).await
    }

    /// Handles one instance's exit; `Some` when the supervisor must end with that reason.
    async fn on_exit(&mut self, tag: u64, exit: ExitReason) -> Option<ExitReason> {
        let idx = self
            .children
            .iter()
            .position(|c| c.live.as_ref().is_some_and(|l| l.instance == tag))?;
        // Its task has ended (or ends now): dropping the handle leaves nothing behind.
        self.children[idx].live = None;
        let child = &mut self.children[idx];
        if !child.spec.restart.restarts_after(&exit) {
            tracing::debug!(supervisor = %self.shared.name, child = %child.spec.id, %exit, "child ended; removed");
            self.remove(idx);
            if self.config.auto_shutdown && self.children.is_empty() {
                return Some(ExitReason::Stopped(StopReason::Normal));
            }
            return None;
        }
        child.last_exit = Some(exit);
        self.restart(idx).await
    }

    /// Restarts `failed` and its strategy's siblings. A start that fails counts as the next
    /// restart of that child, so a child that never starts ends in escalation.
    async fn restart(&mut self, mut failed: usize) -> Option<ExitReason> {
        loop {
            if !self.intensity.allow(Instant::now()) {
                return Some(self.give_up(failed));
            }
            for j in self.restart_set(failed).rev() {
                if let Some(live) = self.children[j].live.take() {
                    self.children[j].last_exit = Some(live.handle.shutdown().await);
                }
            }
            // Temporary siblings stopped for the strategy are not restarted.
            let mut j = 0;
            while j < self.children.len() {
                let c = &self.children[j];
                if c.live.is_none() && c.spec.restart == Restart::Temporary {
                    self.remove(j);
                } else {
                    j += 1;
                }
            }
            match self.start_stopped().await {
                None => return None,
                Some(j) => failed = j,
            }
        }
    }

    /// Starts every stopped child in order; returns the index of the first that failed.
    async fn start_stopped(&mut self) -> Option<usize> {
        for j in 0..self.children.len() {
            if self.children[j].live.is_some() {
                continue;
            }
            self.children[j].restarts = self.children[j].restarts.saturating_add(1);
            match self.launch(j).await {
                Ok(()) => {
                    let child = &self.children[j];
                    let reason = child.last_exit.clone().unwrap_or(ExitReason::Cancelled);
                    tracing::warn!(supervisor = %self.shared.name, child = %child.spec.id, %reason, restarts = child.restarts, "child restarted");
                    self.bus.emit(ChildRestarted {
                        supervisor: self.shared.name.clone(),
                        child: child.spec.id.clone(),
                        reason,
                        restarts: child.restarts,
                    });
                }
                Err(e) => {
                    self.children[j].last_exit = Some(ExitReason::StartFailed(e.to_string()));
                    return Some(j);
                }
            }
        }
        None
    }

    fn restart_set(&self, failed: usize) -> Range<usize> {
        match self.config.strategy {
            Strategy::OneForOne => failed..failed + 1,
            Strategy::OneForAll => 0..self.children.len(),
            Strategy::RestForOne => failed..self.children.len(),
        }
    }

    fn give_up(&self, failed: usize) -> ExitReason {
        let child = &self.children[failed];
        let reason = child.last_exit.clone().unwrap_or(ExitReason::Cancelled);
        let name = &self.shared.name;
        tracing::error!(supervisor = %name, child = %child.spec.id, %reason, "supervisor gave up");
        self.bus.emit(SupervisorGaveUp {
            supervisor: name.clone(),
            child: child.spec.id.clone(),
            reason: reason.clone(),
            max_restarts: self.config.max_restarts,
        });
        ExitReason::Escalated(format!(
            "supervisor `{name}`: child `{}` needed more than {} restarts in {:?}; last exit: {reason}",
            child.spec.id, self.config.max_restarts, self.config.period
        ))
    }

    /// Starts instance of child `j` and publishes it.
    async fn launch(&mut self, j: usize) -> Result<(), Error> {
        let starting = self.children[j].spec.start.start(&self.bus);
        let running = starting.await.map_err(|e| {
            e.with_context("supervisor", self.shared.name.clone())
                .with_context("child", self.children[j].spec.id.clone())
        })?;
        let child = &self.children[j];
        let reference = running.reference();
        let instance = self.next_tag;
        self.next_tag += 1;
        let exited = reference.wait();
        self.exits
            .push(Box::pin(async move { (instance, exited.await) }));
        self.shared.table.write().insert(
            child.spec.id.clone(),
            Entry {
                order: child.order,
                kind: child.spec.kind(),
                restart: child.spec.restart,
                restarts: child.restarts,
                reference,
            },
        );
        self.children[j].live = Some(Live {
            handle: running,
            instance,
        });
        Ok(())
    }

    /// Adds a child after the others and starts it.
    async fn add(&mut self, spec: ChildSpec) -> Result<(), Error> {
        let order = self.next_tag;
        self.next_tag += 1;
        self.children.push(Child {
            spec,
            live: None,
            order,
            restarts: 0,
            last_exit: None,
        });
        let last = self.children.len() - 1;
        let started = self.launch(last).await;
        if started.is_err() {
            self.children.pop();
        }
        started
    }

    async fn start_dynamic(&mut self, spec: ChildSpec) -> Result<(), Error> {
        let name = &self.shared.name;
        spec.validate()
            .map_err(|e| e.with_context("supervisor", name.clone()))?;
        if self.shared.table.read().contains_key(&spec.id) {
            return Err(Error::new(
                ErrorCode::ALREADY_EXISTS,
                format!("supervisor `{name}` already has a child `{}`", spec.id),
            )
            .with_context("supervisor", name.clone())
            .with_context("child", spec.id));
        }
        if let Some(max) = self.config.max_children {
            if self.children.len() >= max {
                return Err(Error::new(
                    ErrorCode::SUPERVISOR_FULL,
                    format!("supervisor `{name}` already runs its maximum of {max} children"),
                )
                .with_context("supervisor", name.clone())
                .with_context("child", spec.id)
                .with_context("max_children", max));
            }
        }
        self.add(spec).await
    }

    async fn terminate(&mut self, id: &str) -> Result<ExitReason, Error> {
        let Some(idx) = self.children.iter().position(|c| c.spec.id == id) else {
            return Err(
                Error::not_found("child", id).with_context("supervisor", self.shared.name.clone())
            );
        };
        let child = self.remove(idx);
        Ok(match child.live {
            Some(live) => live.handle.shutdown().await,
            None => child.last_exit.unwrap_or(ExitReason::Cancelled),
        })
    }

    fn remove(&mut self, idx: usize) -> Child {
        let child = self.children.remove(idx);
        self.shared.table.write().remove(&child.spec.id);
        child
    }

    /// Stops every child in reverse start order, each within its own deadline.
    async fn stop_all(&mut self, reason: ExitReason) -> ShutdownReport {
        let mut children = Vec::with_capacity(self.children.len());
        while let Some(child) = self.children.pop() {
            self.shared.table.write().remove(&child.spec.id);
            let exit = match child.live {
                Some(live) => live.handle.shutdown().await,
                None => match child.last_exit {
                    Some(exit) => exit,
                    None => continue,
                },
            };
            children.push(ChildExit {
                id: child.spec.id,
                exit,
            });
        }
        ShutdownReport { reason, children }
    }
}
