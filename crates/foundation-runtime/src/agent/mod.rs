//! Agents: isolated state behind a bounded mailbox, talked to with typed messages.
//!
//! An [`Agent`] owns its state and handles one message at a time on its own tokio task.
//! [`spawn`] runs `on_start` and returns an [`AgentHandle`], the owner of the task (dropping
//! it cancels the agent); it dereferences to an [`AgentRef`], the cheap cloneable address.
//!
//! - [`AgentRef::call`] is request/reply with a timeout: the message carries a [`Reply`],
//!   the caller gets the answer or an error (`TIMEOUT`, `SHUTDOWN`, `AGENT_PANICKED`,
//!   `AGENT_REPLY_DROPPED`), never a silent drop or a hang.
//! - [`AgentRef::cast`] is a notice; a full mailbox is an `AGENT_MAILBOX_FULL` error.
//! - Lifecycle hooks: [`Agent::on_start`] (load state; an error or panic fails the spawn),
//!   [`Agent::after_message`] (incremental save; answers given with [`Context::reply`] are
//!   delivered only after it ran, so a caller that got an answer knows the save is done),
//!   [`Agent::on_stop`] (save state; gets the [`StopReason`], runs once).
//! - A panic in a handler is caught; the agent exits with [`ExitReason::Panicked`] naming
//!   the message ([`Agent::describe`]) and every pending caller gets an error.
//! - [`AgentRef::stop`] is graceful within the configured `stop_deadline`; an agent that
//!   overruns it is aborted and reported as [`ExitReason::Aborted`].
//! - [`AgentRef::wait`] returns the [`ExitReason`]; a supervisor waits on its children
//!   with it. Lifecycle changes are emitted on the telemetry bus as
//!   `foundation.agent.started`, `.stopped` and `.panicked`.
//!
//! ```
//! use std::time::Duration;
//! use foundation_runtime::agent::{spawn, Agent, AgentConfig, Context, Reply, StopReason};
//!
//! #[derive(Debug)]
//! enum Msg {
//!     Add(u64),
//!     Get(Reply<u64>),
//! }
//!
//! struct Counter(u64);
//!
//! impl Agent for Counter {
//!     type Msg = Msg;
//!     async fn handle(&mut self, msg: Msg, ctx: &mut Context<Self>) {
//!         match msg {
//!             Msg::Add(n) => self.0 += n,
//!             Msg::Get(reply) => ctx.reply(reply, self.0),
//!         }
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let counter = spawn(Counter(0), AgentConfig::named("counter")).await.unwrap();
//! counter.cast(Msg::Add(2)).unwrap();
//! let total = counter.call(Msg::Get, Duration::from_secs(1)).await.unwrap();
//! assert_eq!(total, 2);
//! counter.shutdown(StopReason::Normal).await;
//! # });
//! ```

use std::borrow::Cow;
use std::fmt::Debug;
use std::future::Future;

use foundation_core::error::Error;

mod config;
mod context;
mod events;
mod exit;
mod exit_hooks;
mod handle;
mod lifecycle;
mod reply;

pub use config::{AgentConfig, MAX_MAILBOX_CAPACITY};
pub use context::Context;
pub use events::{AgentPanicked, AgentStarted, AgentStopped};
pub use exit::{ExitReason, StopReason};
pub use exit_hooks::ExitHook;
pub use handle::{AgentHandle, AgentRef};
pub use lifecycle::{spawn, spawn_on};
pub use reply::Reply;

/// An agent: state plus the code that handles its messages, one at a time.
///
/// Implement the methods as `async fn`; the futures must be `Send`.
pub trait Agent: Sized + Send + 'static {
    /// The messages it accepts. Requests carry a [`Reply`].
    type Msg: Send + Debug + 'static;

    /// Handles one message. Answer requests with [`Context::reply`].
    fn handle(
        &mut self,
        msg: Self::Msg,
        ctx: &mut Context<Self>,
    ) -> impl Future<Output = ()> + Send;

    /// Runs once before any message; load state here. An error or a panic fails the
    /// [`spawn`] with `AGENT_START_FAILED`.
    fn on_start(
        &mut self,
        ctx: &mut Context<Self>,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let _ = ctx;
        async { Ok(()) }
    }

    /// Runs after each handled message, before its answers are delivered; an incremental
    /// (write-through) save goes here.
    fn after_message(&mut self, ctx: &mut Context<Self>) -> impl Future<Output = ()> + Send {
        let _ = ctx;
        async {}
    }

    /// Runs once on a graceful stop, within the stop deadline; save state here. It does not
    /// run after a panic (the last `after_message` save is the one to trust).
    fn on_stop(
        &mut self,
        reason: &StopReason,
        ctx: &mut Context<Self>,
    ) -> impl Future<Output = ()> + Send {
        let _ = (reason, ctx);
        async {}
    }

    /// How a message is named in a panic report, computed before each message is handled.
    /// The default is its `Debug` rendering (one small allocation per message); agents on a
    /// hot path can return a static label per variant instead.
    fn describe(msg: &Self::Msg) -> Cow<'static, str> {
        use std::fmt::Write;
        // Sized so that a typical rendering needs no reallocation.
        let mut name = String::with_capacity(64);
        let _ = write!(name, "{msg:?}");
        Cow::Owned(name)
    }
}
