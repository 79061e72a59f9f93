//! [`spawn`] and the agent's run loop: start hook, messages, stop hook, exit report.

use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::sync::Arc;

use foundation_core::error::{Error, ErrorCode};
use foundation_core::telemetry::TelemetryBus;
use foundation_core::validate::Validate;
use futures::FutureExt;
use tokio::sync::{mpsc, oneshot};

use super::events::AgentStarted;
use super::handle::{Shared, within};
use super::{Agent, AgentConfig, AgentHandle, AgentRef, Context, ExitReason, StopReason};

/// Spawns `agent` on the current tokio runtime, reporting to the global telemetry bus.
///
/// Returns once `on_start` has succeeded. Errors: `INVALID_CONFIG` naming the bad field,
/// `AGENT_START_FAILED` (the source is `on_start`'s error, or the context carries the
/// panic message), `SHUTDOWN` when called outside a tokio runtime.
pub async fn spawn<A: Agent>(agent: A, config: AgentConfig) -> Result<AgentHandle<A>, Error> {
    spawn_on(agent, config, TelemetryBus::global().clone()).await
}

/// [`spawn`], reporting lifecycle events to `bus`.
pub async fn spawn_on<A: Agent>(
    agent: A,
    config: AgentConfig,
    bus: TelemetryBus,
) -> Result<AgentHandle<A>, Error> {
    config.validate()?;
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
        Error::new(
            ErrorCode::SHUTDOWN,
            "agents must be spawned on a tokio runtime",
        )
        .with_context("agent", config.name.clone())
    })?;
    let (tx, rx) = mpsc::channel(config.mailbox_capacity);
    let shared = Arc::new(Shared::new(config.name, config.stop_deadline, bus));
    let myself = AgentRef {
        tx,
        shared: shared.clone(),
    };
    let (started_tx, started_rx) = oneshot::channel();
    let task = runtime.spawn(run(agent, myself.clone(), rx, started_tx));
    let _ = shared.abort.set(task.abort_handle());
    // From here the handle owns the task: if this future is dropped, the task is aborted.
    let mut handle = AgentHandle::new(myself, task);
    match started_rx.await {
        Ok(Ok(())) => Ok(handle),
        Ok(Err(e)) => {
            handle.join().await;
            Err(e)
        }
        Err(_) => Err(Error::new(
            ErrorCode::SHUTDOWN,
            format!("agent `{}` was cancelled while starting", shared.name),
        )
        .with_context("agent", shared.name.clone())),
    }
}

async fn run<A: Agent>(
    mut agent: A,
    myself: AgentRef<A>,
    mut mailbox: mpsc::Receiver<A::Msg>,
    started: oneshot::Sender<Result<(), Error>>,
) {
    let shared = myself.shared.clone();
    let mut ctx = Context::new(myself);

    let start = AssertUnwindSafe(agent.on_start(&mut ctx))
        .catch_unwind()
        .await;
    ctx.flush_replies();
    let failure = match start {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(
            Error::new(
                ErrorCode::AGENT_START_FAILED,
                format!("agent `{}` failed to start: {e}", shared.name),
            )
            .with_context("agent", shared.name.clone())
            .with_source(e),
        ),
        Err(payload) => {
            let message = crate::panic::message(&*payload);
            shared.bus.emit(super::events::AgentPanicked {
                agent: shared.name.clone(),
                message: message.clone(),
                during: "on_start".to_owned(),
            });
            Some(
                Error::new(
                    ErrorCode::AGENT_START_FAILED,
                    format!("agent `{}` panicked in on_start: {message}", shared.name),
                )
                .with_context("agent", shared.name.clone())
                .with_context("panic", message),
            )
        }
    };
    if let Some(e) = failure {
        shared.finish(ExitReason::StartFailed(e.to_string()));
        let _ = started.send(Err(e));
        return;
    }
    if started.send(Ok(())).is_err() {
        // The spawner gave up; its handle is aborting us.
        return;
    }
    tracing::debug!(agent = %shared.name, "agent started");
    shared.bus.emit(AgentStarted {
        agent: shared.name.clone(),
    });

    let reason = loop {
        if let Some(reason) = ctx.take_stop() {
            break reason;
        }
        // Fast path: while no stop was requested, take a queued message without polling
        // the stop signal (nor an empty mailbox). The flag is set before a request is sent, so none is
        // missed; a request racing this check counts as arriving just after the message.
        let queued = if shared.stop_requested() || mailbox.is_empty() {
            None
        } else {
            mailbox.recv().now_or_never()
        };
        let msg = match queued {
            Some(Some(msg)) => msg,
            Some(None) => break StopReason::Normal,
            None => tokio::select! {
                biased;
                reason = shared.stop_requested_reason() => break reason,
                msg = mailbox.recv() => match msg {
                    Some(msg) => msg,
                    None => break StopReason::Normal,
                },
            },
        };
        let during = A::describe(&msg);
        let panicked = {
            let handling = pin!(
                AssertUnwindSafe(async {
                    agent.handle(msg, &mut ctx).await;
                    agent.after_message(&mut ctx).await;
                })
                .catch_unwind()
            );
            match handling.await {
                Ok(()) => false,
                Err(payload) => {
                    // Publish while the panicked future (and the replies it holds) is still
                    // alive: callers that see their reply dropped then read the reason.
                    shared.finish(ExitReason::Panicked {
                        message: crate::panic::message(&*payload),
                        during: during.into_owned(),
                    });
                    true
                }
            }
        };
        if panicked {
            ctx.discard_replies();
            return;
        }
        ctx.flush_replies();
    };

    // Refuse what is queued; callers of those messages see the exit reason.
    shared.mark_stopping();
    mailbox.close();
    let stopping = AssertUnwindSafe(agent.on_stop(&reason, &mut ctx)).catch_unwind();
    let exit = match within(shared.stop_deadline, stopping).await {
        Some(Ok(())) => ExitReason::Stopped(reason),
        Some(Err(payload)) => ExitReason::Panicked {
            message: crate::panic::message(&*payload),
            during: "on_stop".to_owned(),
        },
        None => ExitReason::Aborted(reason),
    };
    shared.finish(exit);
    ctx.flush_replies();
}
