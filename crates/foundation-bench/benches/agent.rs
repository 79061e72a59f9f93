//! Foundation agents against ractor, kameo and a bare tokio mpsc + oneshot pair.
//!
//! Run: `cargo bench -p foundation-bench --bench agent -- --warm-up-time 1 --measurement-time 3`
//!
//! Groups (registry and supervisor benches go in their own files, `benches/registry.rs` and
//! `benches/supervisor.rs`):
//! - `agent_call/<flavor>`: one request/reply round trip to a counter, with a 5 s timeout
//!   where the contender has one (`*_no_timeout` variants show what the timer costs).
//!   `foundation_static_describe` is an agent naming its messages with static labels instead
//!   of the default `Debug` rendering. Runs on a current-thread runtime (pure per-call
//!   overhead, caller and agent on one thread) and on a 2-worker multi-thread runtime
//!   (caller and agent may sit on either worker).
//! - `agent_cast/multi_thread`: 1000 notices then one call to flush them, per iteration.
//!   Mailboxes hold 1024 (ractor's is unbounded; kameo's bounded one is filled with
//!   `try_send`, like Foundation's `cast`).
//! - `agent_spawn/multi_thread`: spawn an agent (its start hook has run) and stop it
//!   gracefully, awaiting its task.
//!
//! Every contender runs its loop in one task spawned on the runtime (`iter_custom`; callers
//! in a service are tasks), on the same runtime settings, so the executor's per-iteration
//! entry cost is not counted. Wall-clock numbers on a busy machine swing widely; the
//! `agent_instructions` example counts instructions per operation with callgrind instead.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime,
};
use foundation_runtime::agent::StopReason;
use tokio::runtime::Runtime;

/// The timeout every call that takes one is given; never reached.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Notices per `agent_cast` iteration.
const CASTS: u64 = 1000;
/// Mailbox capacity for every bounded contender.
const MAILBOX: usize = 1024;

mod foundation_counter {
    use std::borrow::Cow;

    use foundation_runtime::agent::{Agent, AgentConfig, AgentHandle, Context, Reply, spawn};

    use super::MAILBOX;

    #[derive(Debug)]
    pub enum Msg {
        Add(u64),
        Get(Reply<u64>),
    }

    fn apply<A: Agent>(count: &mut u64, msg: Msg, ctx: &mut Context<A>) {
        match msg {
            Msg::Add(n) => *count += n,
            Msg::Get(reply) => ctx.reply(reply, *count),
        }
    }

    /// Names its messages in panic reports with the default `Debug` rendering.
    pub struct Counter(pub u64);

    impl Agent for Counter {
        type Msg = Msg;
        async fn handle(&mut self, msg: Msg, ctx: &mut Context<Self>) {
            apply(&mut self.0, msg, ctx);
        }
    }

    /// Names its messages with a static label per variant (the hot-path advice of
    /// `Agent::describe`).
    pub struct Labelled(pub u64);

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

    pub async fn start<A: Agent<Msg = Msg>>(agent: A) -> AgentHandle<A> {
        let mut config = AgentConfig::named("counter");
        config.mailbox_capacity = MAILBOX;
        spawn(agent, config).await.unwrap()
    }
}

mod ractor_counter {
    use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
    use tokio::task::JoinHandle;

    pub enum Msg {
        Add(u64),
        Get(RpcReplyPort<u64>),
    }

    pub struct Counter;

    impl Actor for Counter {
        type Msg = Msg;
        type State = u64;
        type Arguments = ();

        async fn pre_start(
            &self,
            _myself: ActorRef<Msg>,
            _args: (),
        ) -> Result<u64, ActorProcessingErr> {
            Ok(0)
        }

        async fn handle(
            &self,
            _myself: ActorRef<Msg>,
            msg: Msg,
            count: &mut u64,
        ) -> Result<(), ActorProcessingErr> {
            match msg {
                Msg::Add(n) => *count += n,
                Msg::Get(reply) => {
                    let _ = reply.send(*count);
                }
            }
            Ok(())
        }
    }

    pub async fn start() -> (ActorRef<Msg>, JoinHandle<()>) {
        Actor::spawn(None, Counter, ()).await.unwrap()
    }
}

mod kameo_counter {
    use kameo::Actor;
    use kameo::actor::{ActorRef, Spawn};
    use kameo::mailbox;
    use kameo::message::{Context, Message};

    use super::MAILBOX;

    #[derive(Actor)]
    pub struct Counter(pub u64);

    pub struct Add(pub u64);
    pub struct Get;

    impl Message<Add> for Counter {
        type Reply = ();
        async fn handle(&mut self, msg: Add, _ctx: &mut Context<Self, ()>) {
            self.0 += msg.0;
        }
    }

    impl Message<Get> for Counter {
        type Reply = u64;
        async fn handle(&mut self, _msg: Get, _ctx: &mut Context<Self, u64>) -> u64 {
            self.0
        }
    }

    pub async fn start() -> ActorRef<Counter> {
        let actor = Counter::spawn_with_mailbox(Counter(0), mailbox::bounded(MAILBOX));
        actor.wait_for_startup().await;
        actor
    }
}

mod bare_pair {
    use tokio::sync::{mpsc, oneshot};
    use tokio::task::JoinHandle;

    use super::MAILBOX;

    pub enum Msg {
        Add(u64),
        Get(oneshot::Sender<u64>),
    }

    /// A task looping on `recv`, answering on the oneshot: the floor for any agent.
    pub fn start() -> (mpsc::Sender<Msg>, JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel(MAILBOX);
        let task = tokio::spawn(async move {
            let mut count = 0u64;
            while let Some(msg) = rx.recv().await {
                match msg {
                    Msg::Add(n) => count += n,
                    Msg::Get(reply) => {
                        let _ = reply.send(count);
                    }
                }
            }
        });
        (tx, task)
    }

    pub async fn get(tx: &mpsc::Sender<Msg>) -> u64 {
        let (reply, answer) = oneshot::channel();
        tx.send(Msg::Get(reply)).await.unwrap();
        answer.await.unwrap()
    }
}

fn current_thread() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn multi_thread() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Times `$iters` runs of `$body` in one task spawned on `$rt` (callers in a service are
/// tasks, not `block_on`), with `$state` moved into the task and borrowed as `$s`.
macro_rules! timed {
    ($rt:expr, $iters:expr, $state:expr, |$s:ident| $body:expr) => {{
        let state = $state;
        let iters = $iters;
        let task = $rt.spawn(async move {
            let $s = &state;
            let start = Instant::now();
            for _ in 0..iters {
                $body;
            }
            start.elapsed()
        });
        $rt.block_on(task).unwrap()
    }};
}

fn call_round_trip(group: &mut BenchmarkGroup<'_, WallTime>, rt: &Runtime) {
    let (bare, bare_task) = rt.block_on(async { bare_pair::start() });
    group.bench_function("bare_pair_no_timeout", |b| {
        b.iter_custom(|iters| {
            timed!(rt, iters, bare.clone(), |tx| {
                black_box(bare_pair::get(tx).await)
            })
        });
    });
    group.bench_function("bare_pair", |b| {
        b.iter_custom(|iters| {
            timed!(rt, iters, bare.clone(), |tx| {
                let answer = tokio::time::timeout(TIMEOUT, bare_pair::get(tx));
                black_box(answer.await.unwrap())
            })
        });
    });
    drop(bare);
    rt.block_on(bare_task).unwrap();

    let foundation = rt.block_on(foundation_counter::start(foundation_counter::Counter(0)));
    group.bench_function("foundation", |b| {
        b.iter_custom(|iters| {
            timed!(rt, iters, foundation.agent_ref(), |agent| {
                let answer = agent.call(foundation_counter::Msg::Get, TIMEOUT);
                black_box(answer.await.unwrap())
            })
        });
    });
    rt.block_on(foundation.shutdown(StopReason::Normal));
    let labelled = rt.block_on(foundation_counter::start(foundation_counter::Labelled(0)));
    group.bench_function("foundation_static_describe", |b| {
        b.iter_custom(|iters| {
            timed!(rt, iters, labelled.agent_ref(), |agent| {
                let answer = agent.call(foundation_counter::Msg::Get, TIMEOUT);
                black_box(answer.await.unwrap())
            })
        });
    });
    rt.block_on(labelled.shutdown(StopReason::Normal));

    let (ractor, ractor_task) = rt.block_on(ractor_counter::start());
    group.bench_function("ractor_no_timeout", |b| {
        b.iter_custom(|iters| {
            timed!(rt, iters, ractor.clone(), |actor| {
                black_box(ractor::call!(actor, ractor_counter::Msg::Get).unwrap())
            })
        });
    });
    group.bench_function("ractor", |b| {
        b.iter_custom(|iters| {
            timed!(rt, iters, ractor.clone(), |actor| {
                let answer = actor.call(ractor_counter::Msg::Get, Some(TIMEOUT));
                black_box(answer.await.unwrap().unwrap())
            })
        });
    });
    ractor.stop(None);
    rt.block_on(ractor_task).unwrap();

    let kameo = rt.block_on(kameo_counter::start());
    group.bench_function("kameo_no_timeout", |b| {
        b.iter_custom(|iters| {
            timed!(rt, iters, kameo.clone(), |actor| {
                black_box(actor.ask(kameo_counter::Get).await.unwrap())
            })
        });
    });
    group.bench_function("kameo", |b| {
        b.iter_custom(|iters| {
            timed!(rt, iters, kameo.clone(), |actor| {
                let answer = actor.ask(kameo_counter::Get).reply_timeout(TIMEOUT);
                black_box(answer.await.unwrap())
            })
        });
    });
    rt.block_on(async {
        kameo.stop_gracefully().await.unwrap();
        kameo.wait_for_shutdown().await;
    });
}

fn agent_call(c: &mut Criterion) {
    for (flavor, rt) in [
        ("current_thread", current_thread()),
        ("multi_thread", multi_thread()),
    ] {
        let mut group = c.benchmark_group(format!("agent_call/{flavor}"));
        call_round_trip(&mut group, &rt);
        group.finish();
    }
}

fn agent_cast(c: &mut Criterion) {
    let rt = multi_thread();
    let mut group = c.benchmark_group("agent_cast/multi_thread");
    group.throughput(criterion::Throughput::Elements(CASTS));

    let (bare, bare_task) = rt.block_on(async { bare_pair::start() });
    group.bench_function("bare_pair", |b| {
        b.iter_custom(|iters| {
            timed!(rt, iters, bare.clone(), |tx| {
                for n in 0..CASTS {
                    tx.send(bare_pair::Msg::Add(n)).await.unwrap();
                }
                black_box(bare_pair::get(tx).await)
            })
        });
    });
    drop(bare);
    rt.block_on(bare_task).unwrap();

    let foundation = rt.block_on(foundation_counter::start(foundation_counter::Counter(0)));
    group.bench_function("foundation", |b| {
        b.iter_custom(|iters| {
            timed!(rt, iters, foundation.agent_ref(), |agent| {
                for n in 0..CASTS {
                    agent.cast(foundation_counter::Msg::Add(n)).unwrap();
                }
                let total = agent.call(foundation_counter::Msg::Get, TIMEOUT);
                black_box(total.await.unwrap())
            })
        });
    });
    rt.block_on(foundation.shutdown(StopReason::Normal));

    let (ractor, ractor_task) = rt.block_on(ractor_counter::start());
    group.bench_function("ractor", |b| {
        b.iter_custom(|iters| {
            timed!(rt, iters, ractor.clone(), |actor| {
                for n in 0..CASTS {
                    actor.cast(ractor_counter::Msg::Add(n)).unwrap();
                }
                let total = actor.call(ractor_counter::Msg::Get, Some(TIMEOUT));
                black_box(total.await.unwrap().unwrap())
            })
        });
    });
    ractor.stop(None);
    rt.block_on(ractor_task).unwrap();

    let kameo = rt.block_on(kameo_counter::start());
    group.bench_function("kameo", |b| {
        b.iter_custom(|iters| {
            timed!(rt, iters, kameo.clone(), |actor| {
                for n in 0..CASTS {
                    actor.tell(kameo_counter::Add(n)).try_send().unwrap();
                }
                let total = actor.ask(kameo_counter::Get).reply_timeout(TIMEOUT);
                black_box(total.await.unwrap())
            })
        });
    });
    rt.block_on(async {
        kameo.stop_gracefully().await.unwrap();
        kameo.wait_for_shutdown().await;
    });
    group.finish();
}

fn agent_spawn(c: &mut Criterion) {
    let rt = multi_thread();
    let mut group = c.benchmark_group("agent_spawn/multi_thread");
    group.bench_function("bare_task", |b| {
        b.iter_custom(|iters| {
            timed!(rt, iters, (), |_unit| {
                let (tx, task) = bare_pair::start();
                drop(tx);
                task.await.unwrap()
            })
        });
    });
    group.bench_function("foundation", |b| {
        b.iter_custom(|iters| {
            timed!(rt, iters, (), |_unit| {
                let agent = foundation_counter::start(foundation_counter::Counter(0)).await;
                black_box(agent.shutdown(StopReason::Normal).await)
            })
        });
    });
    group.bench_function("ractor", |b| {
        b.iter_custom(|iters| {
            timed!(rt, iters, (), |_unit| {
                let (actor, task) = ractor_counter::start().await;
                actor.stop(None);
                task.await.unwrap()
            })
        });
    });
    group.bench_function("kameo", |b| {
        b.iter_custom(|iters| {
            timed!(rt, iters, (), |_unit| {
                let actor = kameo_counter::start().await;
                actor.stop_gracefully().await.unwrap();
                actor.wait_for_shutdown().await
            })
        });
    });
    group.finish();
}

criterion_group!(benches, agent_call, agent_cast, agent_spawn);
criterion_main!(benches);
