//! A `Reply` handed out of the handler: answered later from elsewhere, or outliving its
//! caller.

use std::time::Duration;

use foundation_core::error::ErrorCode;
use foundation_runtime::agent::{Agent, AgentConfig, Context, Reply, spawn};
use tokio::sync::mpsc;

/// Hands every request's `Reply` to the test instead of answering.
struct Forwarder(mpsc::UnboundedSender<Reply<u64>>);

#[derive(Debug)]
struct Ask(Reply<u64>);

impl Agent for Forwarder {
    type Msg = Ask;
    async fn handle(&mut self, Ask(reply): Ask, _ctx: &mut Context<Self>) {
        let _ = self.0.send(reply);
    }
}

async fn forwarder(
    name: &str,
) -> (
    foundation_runtime::agent::AgentHandle<Forwarder>,
    mpsc::UnboundedReceiver<Reply<u64>>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let agent = spawn(Forwarder(tx), AgentConfig::named(name))
        .await
        .unwrap();
    (agent, rx)
}

#[tokio::test(start_paused = true)]
async fn a_reply_sent_from_elsewhere_reaches_the_caller() {
    let (agent, mut replies) = forwarder("relay").await;
    let answer = async {
        let reply = replies.recv().await.unwrap();
        assert!(!reply.is_closed());
        assert!(reply.send(42));
    };
    let (got, ()) = tokio::join!(agent.call(Ask, Duration::from_secs(1)), answer);
    assert_eq!(got.unwrap(), 42);
}

#[tokio::test(start_paused = true)]
async fn a_reply_outliving_its_caller_is_closed_and_refuses_the_answer() {
    let (agent, mut replies) = forwarder("late").await;
    let err = agent
        .call(Ask, Duration::from_millis(100))
        .await
        .unwrap_err();
    assert!(err.is(ErrorCode::TIMEOUT), "{err:?}");
    let reply = replies.recv().await.unwrap();
    assert!(reply.is_closed());
    assert!(!reply.send(7));
}

#[tokio::test(start_paused = true)]
async fn a_reply_dropped_outside_the_agent_is_an_error_not_a_hang() {
    let (agent, mut replies) = forwarder("dropper").await;
    let drop_it = async { drop(replies.recv().await.unwrap()) };
    let (got, ()) = tokio::join!(agent.call(Ask, Duration::from_secs(1)), drop_it);
    let err = got.unwrap_err();
    assert!(err.is(ErrorCode::AGENT_REPLY_DROPPED), "{err:?}");
}

/// Answers with `Context::reply`, then panics before the answer is released.
struct Regretful;

impl Agent for Regretful {
    type Msg = Ask;
    async fn handle(&mut self, Ask(reply): Ask, ctx: &mut Context<Self>) {
        ctx.reply(reply, 1);
        panic!("changed my mind");
    }
}

#[tokio::test(start_paused = true)]
async fn an_answer_staged_before_a_panic_is_never_delivered() {
    let agent = spawn(Regretful, AgentConfig::named("regretful"))
        .await
        .unwrap();
    let err = agent.call(Ask, Duration::from_secs(1)).await.unwrap_err();
    assert!(err.is(ErrorCode::AGENT_PANICKED), "{err:?}");
    assert_eq!(err.context_value("agent"), Some("regretful"));
}
