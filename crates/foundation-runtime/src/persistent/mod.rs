//! Persistent agents: an agent whose state lives in a [`Store`](foundation_store::Store) and
//! survives crashes and restarts.
//!
//! Implement [`PersistentAgent`] (a key, a serde `State`, and a handler that gets the state
//! by `&mut`) and spawn it wrapped in [`Persistent`], which is an ordinary [`Agent`](crate::agent::Agent):
//!
//! - **Start**: the state stored under the key is loaded (none stored: `State::default()`).
//!   A stored state that does not deserialize into `State` fails the spawn
//!   (`AGENT_START_FAILED`, its source `STORE_CORRUPT` naming the key).
//! - **Write-through**: after each handled message whose state changed (its JSON differs
//!   from the last one saved), the state is saved *before* the message's answers are
//!   delivered, so a caller that got an answer knows the change is durable. Answers must be
//!   given with [`Context::reply`]; [`Reply::send`](crate::agent::Reply::send) does not wait
//!   for the save.
//! - **Stop**: after [`PersistentAgent::on_stop`] the state is saved if it changed.
//! - **Optimistic concurrency**: each save names the version the agent loaded or last saved.
//!   If another instance of the same key saved in between, the save fails with
//!   `STATE_VERSION_CONFLICT` and nothing is overwritten.
//!
//! **A failed save is never acknowledged.** When a save after a message fails (a version
//! conflict, the store unavailable, the state too large), the message's answers are dropped,
//! so their callers get a `SHUTDOWN` error naming the save's error ("agent … is stopping: the
//! state of `key` could not be saved: …") instead of an answer, and
//! the agent stops with [`StopReason::Other`] naming the key and the save error (visible
//! through [`AgentRef::wait`](crate::agent::AgentRef::wait) and logged). Its in-memory state
//! has diverged from the stored one, so it does not save again on the way out. The stop is
//! not a normal exit, so a supervisor restarts the agent, which then reloads the last saved
//! state: the unacknowledged change is gone, as its caller was told.
//!
//! After a crash (a panic, or the process killed) the restarted agent has exactly the last
//! state whose save completed: every acknowledged change, plus at most the one change whose
//! save completed just before the crash and whose answer had not been delivered yet.
//!
//! ```
//! use std::time::Duration;
//! use foundation_runtime::agent::{spawn, AgentConfig, Context, Reply, StopReason};
//! use foundation_runtime::persistent::{Persistent, PersistentAgent};
//! use foundation_store::Store;
//!
//! #[derive(Debug)]
//! enum Msg {
//!     Add(u64, Reply<u64>),
//! }
//!
//! struct Counter;
//!
//! impl PersistentAgent for Counter {
//!     type Msg = Msg;
//!     type State = u64;
//!     fn key(&self) -> &str {
//!         "counter/main"
//!     }
//!     async fn handle(&mut self, total: &mut u64, msg: Msg, ctx: &mut Context<Persistent<Self>>) {
//!         let Msg::Add(n, reply) = msg;
//!         *total += n;
//!         ctx.reply(reply, *total); // delivered once the new total is saved
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! let store = Store::open(&format!("sqlite://{}", dir.path().join("s.db").display()))
//!     .await
//!     .unwrap();
//! let agent = Persistent::new(Counter, store.agent_state());
//! let counter = spawn(agent, AgentConfig::named("counter")).await.unwrap();
//! let total = counter.call(|r| Msg::Add(2, r), Duration::from_secs(5)).await.unwrap();
//! assert_eq!(total, 2);
//! counter.shutdown(StopReason::Normal).await;
//!
//! // A new instance picks up where the last one left off.
//! let agent = Persistent::new(Counter, store.agent_state());
//! let counter = spawn(agent, AgentConfig::named("counter")).await.unwrap();
//! let total = counter.call(|r| Msg::Add(1, r), Duration::from_secs(5)).await.unwrap();
//! assert_eq!(total, 3);
//! counter.shutdown(StopReason::Normal).await;
//! # });
//! ```

use std::borrow::Cow;
use std::fmt::Debug;
use std::future::Future;

use foundation_core::error::Error;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::agent::{Context, StopReason};

mod adapter;

pub use adapter::Persistent;

/// An agent whose state is kept in a store under [`key`](Self::key); run it as
/// [`Persistent<Self>`].
///
/// Implement the methods as `async fn`; the futures must be `Send`.
pub trait PersistentAgent: Sized + Send + 'static {
    /// The messages it accepts. Requests carry a [`Reply`](crate::agent::Reply).
    type Msg: Send + Debug + 'static;

    /// The state saved after every message that changes it: any type serde maps to JSON
    /// (an object, a number, a list…). A new key starts from `Default`.
    type State: Serialize + DeserializeOwned + Default + Send + 'static;

    /// The key the state is stored under: 1 to
    /// [`MAX_STATE_KEY_LEN`](foundation_store::MAX_STATE_KEY_LEN) bytes, unique to this
    /// agent (two live agents with one key conflict). Read once, by [`Persistent::new`].
    fn key(&self) -> &str;

    /// Handles one message with the state loaded. Answer requests with [`Context::reply`]:
    /// answers are delivered once a changed state is saved.
    fn handle(
        &mut self,
        state: &mut Self::State,
        msg: Self::Msg,
        ctx: &mut Context<Persistent<Self>>,
    ) -> impl Future<Output = ()> + Send;

    /// Runs once after the state was loaded, before any message; a change it makes is
    /// saved before the agent starts. An error fails the spawn with `AGENT_START_FAILED`.
    fn on_start(
        &mut self,
        state: &mut Self::State,
        ctx: &mut Context<Persistent<Self>>,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let _ = (state, ctx);
        async { Ok(()) }
    }

    /// Runs once on a graceful stop, before the final save.
    fn on_stop(
        &mut self,
        state: &mut Self::State,
        reason: &StopReason,
        ctx: &mut Context<Persistent<Self>>,
    ) -> impl Future<Output = ()> + Send {
        let _ = (state, reason, ctx);
        async {}
    }

    /// How a message is named in a panic report; see [`Agent::describe`](crate::agent::Agent::describe).
    fn describe(msg: &Self::Msg) -> Cow<'static, str> {
        use std::fmt::Write;
        let mut name = String::with_capacity(64);
        let _ = write!(name, "{msg:?}");
        Cow::Owned(name)
    }
}
