//! Type erasure of children: agents and nested supervisors behind three small private
//! traits — how to start one ([`StartChild`]), the running instance the supervisor owns
//! ([`RunningChild`]) and the shared reference others look up ([`ChildRef`]).

use std::any::Any;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use foundation_core::error::{Error, ErrorCode};
use foundation_core::telemetry::TelemetryBus;
use foundation_core::validate::Validator;
use futures::FutureExt;
use futures::future::BoxFuture;
use serde::Serialize;

use super::handle::{SupervisorHandle, SupervisorRef, start_on};
use super::spec::{ChildKind, Restart, SupervisorSpec};
use crate::agent::{Agent, AgentConfig, AgentHandle, AgentRef, ExitReason, StopReason, spawn_on};

/// How to start one child; shared by every (re)start of it.
pub(super) trait StartChild: Send + Sync {
    /// Starts a fresh instance reporting to `bus`.
    fn start(&self, bus: &TelemetryBus)
    -> BoxFuture<'static, Result<Box<dyn RunningChild>, Error>>;
    /// Records what is wrong with the child's own settings.
    fn validate_into(&self, v: &mut Validator);
    /// Agent or supervisor.
    fn kind(&self) -> ChildKind;
}

/// A started instance, owned by its supervisor: dropping it cancels the child.
pub(super) trait RunningChild: Send {
    /// The reference published in the supervisor's table.
    fn reference(&self) -> Arc<dyn ChildRef>;
    /// Stops it gracefully within its deadline (aborting on overrun) and awaits its end.
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ExitReason>;
}

/// A cloneable reference to an instance: watch it, check it, downcast it.
pub(super) trait ChildRef: Send + Sync {
    /// Whether the instance is still running.
    fn is_alive(&self) -> bool;
    /// Resolves when the instance exits.
    fn wait(&self) -> BoxFuture<'static, ExitReason>;
    /// The concrete reference (`AgentRef<A>` or `SupervisorRef`).
    fn as_any(&self) -> &dyn Any;
}

/// A row of [`SupervisorRef::which_children`](super::SupervisorRef::which_children).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChildInfo {
    /// The child's id.
    pub id: String,
    /// Agent or nested supervisor.
    pub kind: ChildKind,
    /// Its restart policy.
    pub restart: Restart,
    /// Whether its current instance is running (false only briefly, between an exit and
    /// the supervisor handling it).
    pub running: bool,
    /// How many times the supervisor restarted it (attempts, including failed starts).
    pub restarts: u32,
}

/// Starts an agent child from its factory.
pub(super) struct AgentStart<A, F> {
    factory: F,
    config: AgentConfig,
    agent: PhantomData<fn() -> A>,
}

impl<A, F> AgentStart<A, F> {
    pub(super) fn new(factory: F, config: AgentConfig) -> AgentStart<A, F> {
        AgentStart {
            factory,
            config,
            agent: PhantomData,
        }
    }
}

impl<A, F> StartChild for AgentStart<A, F>
where
    A: Agent,
    F: Fn() -> A + Send + Sync + 'static,
{
    fn start(
        &self,
        bus: &TelemetryBus,
    ) -> BoxFuture<'static, Result<Box<dyn RunningChild>, Error>> {
        let config = self.config.clone();
        let bus = bus.clone();
        match std::panic::catch_unwind(AssertUnwindSafe(&self.factory)) {
            Ok(agent) => async move {
                let handle = spawn_on(agent, config, bus).await?;
                Ok(Box::new(handle) as Box<dyn RunningChild>)
            }
            .boxed(),
            Err(payload) => {
                let message = crate::panic::message(&*payload);
                let err = Error::new(
                    ErrorCode::AGENT_START_FAILED,
                    format!("the factory of agent `{}` panicked: {message}", config.name),
                )
                .with_context("agent", config.name)
                .with_context("panic", message);
                futures::future::ready(Err(err)).boxed()
            }
        }
    }

    fn validate_into(&self, v: &mut Validator) {
        v.nested("config", &self.config);
    }

    fn kind(&self) -> ChildKind {
        ChildKind::Agent
    }
}

impl StartChild for SupervisorSpec {
    fn start(
        &self,
        bus: &TelemetryBus,
    ) -> BoxFuture<'static, Result<Box<dyn RunningChild>, Error>> {
        let spec = self.clone();
        let bus = bus.clone();
        async move {
            let handle = start_on(spec, bus).await?;
            Ok(Box::new(handle) as Box<dyn RunningChild>)
        }
        .boxed()
    }

    fn validate_into(&self, v: &mut Validator) {
        v.nested("supervisor", self);
    }

    fn kind(&self) -> ChildKind {
        ChildKind::Supervisor
    }
}

impl<A: Agent> RunningChild for AgentHandle<A> {
    fn reference(&self) -> Arc<dyn ChildRef> {
        Arc::new(self.agent_ref())
    }

    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ExitReason> {
        (*self).shutdown(StopReason::Shutdown).boxed()
    }
}

impl RunningChild for SupervisorHandle {
    fn reference(&self) -> Arc<dyn ChildRef> {
        Arc::new(SupervisorRef::clone(self))
    }

    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ExitReason> {
        async move { (*self).shutdown().await.reason }.boxed()
    }
}

impl<A: Agent> ChildRef for AgentRef<A> {
    fn is_alive(&self) -> bool {
        AgentRef::is_alive(self)
    }

    fn wait(&self) -> BoxFuture<'static, ExitReason> {
        let agent = self.clone();
        async move { agent.wait().await }.boxed()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl ChildRef for SupervisorRef {
    fn is_alive(&self) -> bool {
        SupervisorRef::is_alive(self)
    }

    fn wait(&self) -> BoxFuture<'static, ExitReason> {
        let supervisor = self.clone();
        async move { supervisor.wait().await }.boxed()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
