//! Supervisors: trees of agents that restart what crashed, Erlang/OTP style.
//!
//! A supervisor runs as its own tokio task and owns its children: agents (a factory makes a
//! fresh agent value on every start) and nested supervisors. [`start`] validates a
//! [`SupervisorSpec`] and starts its static children in order (if one fails, the started
//! ones are stopped in reverse order and the start fails with that child's error, naming
//! it). It returns a [`SupervisorHandle`], the owner of the task (dropping it aborts the
//! supervisor, which drops and so cancels every child); it dereferences to a cloneable
//! [`SupervisorRef`].
//!
//! **Restarts.** When a child ends, its [`Restart`] policy decides: `Permanent` always
//! restarts, `Transient` only after an abnormal exit (`!ExitReason::is_normal()`),
//! `Temporary` never. **A child that ends and is not restarted is removed from the
//! supervisor** (it disappears from [`SupervisorRef::which_children`]). A restart applies
//! the [`Strategy`]: `OneForOne` restarts the child alone, `OneForAll` all children,
//! `RestForOne` the child and those started after it — siblings are stopped in reverse
//! start order, then everything stopped is started again in start order (temporary
//! siblings are stopped and removed). Each restart emits
//! [`ChildRestarted`] (`foundation.supervisor.child_restarted`).
//!
//! **Intensity and escalation.** At most `max_restarts` restarts (default
//! [`DEFAULT_MAX_RESTARTS`] = 3) within a sliding `period` (default [`DEFAULT_PERIOD`] =
//! 5 s, on tokio's clock). One more and the supervisor gives up: it emits
//! [`SupervisorGaveUp`] (`foundation.supervisor.gave_up`), stops all children in reverse
//! start order and exits with [`ExitReason::Escalated`](crate::agent::ExitReason::Escalated) — abnormal, so its parent restarts
//! it by its own strategy, up to the top, whose [`SupervisorRef::wait`] reports it. A
//! restart whose start fails counts as another restart, so a child that can never start
//! ends in escalation, never in a loop.
//!
//! **Shutdown.** [`SupervisorHandle::shutdown`] stops the children in reverse start order,
//! each within its own deadline (an agent's `AgentConfig::stop_deadline`; an agent that
//! overruns it is aborted), and returns a [`ShutdownReport`] with every child's exit.
//!
//! **Run time.** [`SupervisorRef::start_child`] and [`SupervisorRef::terminate_child`] go
//! through the supervisor loop; [`SupervisorRef::child`] (typed: the current instance, the
//! new one after a restart) and [`SupervisorRef::which_children`] read a table the loop
//! keeps up to date, without a round trip. [`Workflows`] runs one supervisor per unit of
//! work so one workflow's crash never touches another.
//!
//! **Exits are learned** from each instance's `wait()` future, tagged with the instance and
//! polled in a `FuturesUnordered` by the loop; an exit of an instance the loop already
//! replaced or stopped is ignored. Starting a child runs its `on_start` while the loop
//! waits, as in OTP: a child must not ask its own supervisor to start, terminate or stop
//! from `on_start` (lookups are fine; they do not go through the loop).
//!
//! ```
//! use std::time::Duration;
//! use foundation_core::telemetry::TelemetryBus;
//! use foundation_runtime::agent::{Agent, AgentConfig, Context, Reply};
//! use foundation_runtime::supervisor::{self, ChildRestarted, ChildSpec, Strategy, SupervisorSpec};
//!
//! #[derive(Debug)]
//! enum Msg {
//!     Get(Reply<u64>),
//!     Crash,
//! }
//!
//! struct Counter(u64);
//!
//! impl Agent for Counter {
//!     type Msg = Msg;
//!     async fn handle(&mut self, msg: Msg, ctx: &mut Context<Self>) {
//!         match msg {
//!             Msg::Get(reply) => ctx.reply(reply, self.0),
//!             Msg::Crash => panic!("boom"),
//!         }
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let spec = SupervisorSpec::new("app")
//!     .strategy(Strategy::OneForOne)
//!     .intensity(3, Duration::from_secs(5))
//!     .child(ChildSpec::agent("counter", || Counter(7), AgentConfig::named("counter")));
//! let bus = TelemetryBus::new();
//! let mut restarts = bus.subscribe_prefix("foundation.supervisor.child_restarted", 16);
//! let sup = supervisor::start_on(spec, bus).await.unwrap();
//!
//! sup.child::<Counter>("counter").unwrap().cast(Msg::Crash).unwrap();
//! let event = restarts.recv().await.unwrap();
//! let event = event.downcast_ref::<ChildRestarted>().unwrap();
//! assert_eq!((event.child.as_str(), event.restarts), ("counter", 1));
//!
//! // The lookup returns the new instance, made fresh by the factory.
//! let counter = sup.child::<Counter>("counter").unwrap();
//! assert_eq!(counter.call(Msg::Get, Duration::from_secs(1)).await.unwrap(), 7);
//! let report = sup.shutdown().await;
//! assert_eq!(report.children.len(), 1);
//! # });
//! ```

mod child;
mod events;
mod handle;
mod intensity;
mod runner;
mod spec;
mod workflows;

pub use child::ChildInfo;
pub use events::{ChildRestarted, SupervisorGaveUp};
pub use handle::{ChildExit, ShutdownReport, SupervisorHandle, SupervisorRef, start, start_on};
pub use spec::{
    ChildKind, ChildSpec, DEFAULT_MAX_RESTARTS, DEFAULT_PERIOD, Restart, Strategy,
    SupervisorConfig, SupervisorSpec,
};
pub use workflows::Workflows;
