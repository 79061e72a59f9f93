//! [`Persistent`]: runs a [`PersistentAgent`] as an [`Agent`], loading, saving and guarding
//! its state.

use std::borrow::Cow;

use foundation_core::error::{Error, ErrorCode};
use foundation_store::StateStore;
use serde_json::Value;

use super::PersistentAgent;
use crate::agent::{Agent, Context, StopReason};

/// A [`PersistentAgent`] with its state, run as an ordinary [`Agent`] (see the
/// [module docs](super) for when the state is loaded and saved).
pub struct Persistent<A: PersistentAgent> {
    agent: A,
    states: StateStore,
    key: String,
    state: A::State,
    /// The stored version this instance last loaded or saved; `None` while nothing is stored.
    version: Option<u64>,
    /// The state as last loaded or saved, to tell whether a message changed it.
    saved: Value,
    /// A save failed: the state in memory is not the stored one and must not be saved.
    diverged: bool,
}

impl<A: PersistentAgent> Persistent<A> {
    /// Wraps `agent`, whose state is kept in `states` under `agent.key()`. Nothing is read
    /// until the agent starts.
    pub fn new(agent: A, states: StateStore) -> Persistent<A> {
        let key = agent.key().to_owned();
        Persistent {
            agent,
            states,
            key,
            state: A::State::default(),
            version: None,
            saved: Value::Null,
            diverged: false,
        }
    }

    /// Loads the stored state (or the default) into `self`.
    async fn load(&mut self) -> Result<(), Error> {
        match self.states.load(&self.key).await? {
            Some(stored) => {
                self.state =
                    <A::State as serde::Deserialize>::deserialize(&stored.state).map_err(|e| {
                        Error::new(
                            ErrorCode::STORE_CORRUPT,
                            format!(
                                "the state stored under `{}` (version {}) is not a valid {}: {e}",
                                self.key,
                                stored.version,
                                std::any::type_name::<A::State>()
                            ),
                        )
                        .with_context("key", self.key.clone())
                        .with_context("version", stored.version)
                        .with_source(e)
                    })?;
                self.version = Some(stored.version);
                self.saved = stored.state;
            }
            None => {
                self.state = A::State::default();
                self.version = None;
                self.saved = self.snapshot()?;
            }
        }
        Ok(())
    }

    /// Saves the state if it differs from the last one saved.
    async fn save_if_changed(&mut self) -> Result<(), Error> {
        let now = self.snapshot()?;
        if now == self.saved {
            return Ok(());
        }
        self.version = Some(self.states.save(&self.key, self.version, &now).await?);
        self.saved = now;
        Ok(())
    }

    fn snapshot(&self) -> Result<Value, Error> {
        serde_json::to_value(&self.state).map_err(|e| {
            Error::invalid_input(
                "state",
                format_args!(
                    "the state of `{}` does not serialize to JSON: {e}",
                    self.key
                ),
            )
            .with_context("key", self.key.clone())
        })
    }
}

impl<A: PersistentAgent> Agent for Persistent<A> {
    type Msg = A::Msg;

    async fn handle(&mut self, msg: A::Msg, ctx: &mut Context<Self>) {
        self.agent.handle(&mut self.state, msg, ctx).await;
    }

    async fn on_start(&mut self, ctx: &mut Context<Self>) -> Result<(), Error> {
        self.load().await?;
        self.agent.on_start(&mut self.state, ctx).await?;
        self.save_if_changed().await
    }

    async fn after_message(&mut self, ctx: &mut Context<Self>) {
        if let Err(e) = self.save_if_changed().await {
            tracing::error!(
                agent = %ctx.name(), key = %self.key, error = %e,
                "state could not be saved; the message is not acknowledged and the agent stops"
            );
            self.diverged = true;
            let reason = StopReason::Other(Cow::Owned(format!(
                "the state of `{}` could not be saved: {e}",
                self.key
            )));
            // Callers of this message get `SHUTDOWN` naming the save's error instead of an
            // answer.
            ctx.myself().shared.mark_stopping_because(reason.clone());
            ctx.discard_replies();
            ctx.stop(reason);
        }
    }

    async fn on_stop(&mut self, reason: &StopReason, ctx: &mut Context<Self>) {
        self.agent.on_stop(&mut self.state, reason, ctx).await;
        if self.diverged {
            return;
        }
        if let Err(e) = self.save_if_changed().await {
            tracing::error!(
                agent = %ctx.name(), key = %self.key, error = %e,
                "state could not be saved on stop"
            );
        }
    }

    fn describe(msg: &A::Msg) -> Cow<'static, str> {
        A::describe(msg)
    }
}
