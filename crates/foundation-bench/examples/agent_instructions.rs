//! Fixed-count agent loops to count instructions with callgrind, which (unlike wall-clock
//! benches on a busy 2-core machine) gives nearly the same count run after run.
//!
//! ```text
//! cargo build --release -p foundation-bench --example agent_instructions
//! B=target/release/examples/agent_instructions
//! for n in 10000 20000; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null $B foundation $n 2>&1 | grep Collected
//! done
//! ```
//!
//! Instructions per operation = (count at 20000 − count at 10000) / 10000; spread between
//! runs is about ±80 instructions. Contenders, all on a current-thread runtime with the
//! caller in a spawned task:
//! - `bare`, `bare_timeout`: a task looping on a tokio mpsc, answering on a oneshot; the
//!   caller without / with `tokio::time::timeout`.
//! - `foundation`, `static`: `AgentRef::call` (5 s timeout) to an agent with the default
//!   `describe` / with static labels.
//! - `bare_cast`, `cast`, `cast_static`: 1000 notices then one call to flush, per 1000
//!   operations.
//! - `spawn`: spawn an agent and shut it down gracefully.

use std::borrow::Cow;
use std::hint::black_box;
use std::time::Duration;

use foundation_runtime::agent::{
    Agent, AgentConfig, AgentHandle, Context, Reply, StopReason, spawn,
};
use tokio::sync::{mpsc, oneshot};

#[path = "support/instructions.rs"]
mod instructions;

const TIMEOUT: Duration = Duration::from_secs(5);
const BATCH: u64 = 1000;

#[derive(Debug)]
enum Msg {
    Add(u64),
    Get(Reply<u64>),
}

fn apply<A: Agent>(count: &mut u64, msg: Msg, ctx: &mut Context<A>) {
    match msg {
        Msg::Add(n) => *count += n,
        Msg::Get(reply) => ctx.reply(reply, *count),
    }
}

/// Default `describe` (the message's `Debug` rendering).
struct Counter(u64);

impl Agent for Counter {
    type Msg = Msg;
    async fn handle(&mut self, msg: Msg, ctx: &mut Context<Self>) {
        apply(&mut self.0, msg, ctx);
    }
}

/// Static labels from `describe`.
struct Labelled(u64);

impl Agent for Labelled {
    type Msg = Msg;
    async fn handle(&mut self, msg: Msg, ctx: &mut Context<Self>) {
        apply(&mut self.0, msg, ctx);
    }

    fn describe(msg: &Msg) -> Cow<'static, str> {
        Cow::Borrowed(match msg {
            Msg::Add(_) => "Add",
            Msg::Get(_) => "Get",
        })
    }
}

async fn start<A: Agent<Msg = Msg>>(agent: A) -> AgentHandle<A> {
    let mut config = AgentConfig::named("counter");
    config.mailbox_capacity = 1024;
    spawn(agent, config).await.unwrap()
}

async fn calls<A: Agent<Msg = Msg>>(agent: A, n: u64) {
    let agent = start(agent).await;
    for _ in 0..n {
        black_box(agent.call(Msg::Get, TIMEOUT).await.unwrap());
    }
}

async fn casts<A: Agent<Msg = Msg>>(agent: A, n: u64) {
    let agent = start(agent).await;
    for _ in 0..n / BATCH {
        for i in 0..BATCH {
            agent.cast(Msg::Add(i)).unwrap();
        }
        black_box(agent.call(Msg::Get, TIMEOUT).await.unwrap());
    }
}

/// The bare pair: `Add` carries no reply, `Get` one.
fn bare() -> mpsc::Sender<(u64, Option<oneshot::Sender<u64>>)> {
    let (tx, mut rx) = mpsc::channel::<(u64, Option<oneshot::Sender<u64>>)>(1024);
    tokio::spawn(async move {
        let mut count = 0;
        while let Some((n, reply)) = rx.recv().await {
            count += n;
            if let Some(reply) = reply {
                let _ = reply.send(count);
            }
        }
    });
    tx
}

async fn bare_get(tx: &mpsc::Sender<(u64, Option<oneshot::Sender<u64>>)>) -> u64 {
    let (reply, answer) = oneshot::channel();
    tx.send((0, Some(reply))).await.unwrap();
    answer.await.unwrap()
}

async fn run(contender: &str, n: u64) -> Result<(), String> {
    match contender {
        "bare" => {
            let tx = bare();
            for _ in 0..n {
                black_box(bare_get(&tx).await);
            }
        }
        "bare_timeout" => {
            let tx = bare();
            for _ in 0..n {
                let answer = tokio::time::timeout(TIMEOUT, bare_get(&tx)).await;
                black_box(answer.unwrap());
            }
        }
        "bare_cast" => {
            let tx = bare();
            for _ in 0..n / BATCH {
                for i in 0..BATCH {
                    tx.send((i, None)).await.unwrap();
                }
                black_box(bare_get(&tx).await);
            }
        }
        "foundation" => calls(Counter(0), n).await,
        "static" => calls(Labelled(0), n).await,
        "cast" => casts(Counter(0), n).await,
        "cast_static" => casts(Labelled(0), n).await,
        "spawn" => {
            for _ in 0..n {
                let agent = spawn(Counter(0), AgentConfig::named("counter"))
                    .await
                    .unwrap();
                black_box(agent.shutdown(StopReason::Normal).await);
            }
        }
        other => return Err(format!("unknown contender `{other}`")),
    }
    Ok(())
}

fn main() -> Result<(), String> {
    let (contender, n, rt) = instructions::contender_count_runtime("agent_instructions")?;
    rt.block_on(async move { tokio::spawn(async move { run(&contender, n).await }).await })
        .map_err(|e| e.to_string())?
}
