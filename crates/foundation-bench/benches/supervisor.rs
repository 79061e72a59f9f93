//! Supervisor restart latency: from a child's crash to its new instance answering a call.
//!
//! Run: `cargo bench -p foundation-bench --bench supervisor -- --warm-up-time 1 --measurement-time 3`
//!
//! Each iteration sends the current instance a message that panics, then looks the child up
//! until the supervisor has published a live new instance and calls it. The time covers the
//! panic being caught and reported, the supervisor learning of the exit, the restart
//! decision, a fresh agent from the factory, its start hook, and one call round trip.
//! Target: under 50 µs. Runs on a current-thread runtime and on a 2-worker multi-thread
//! runtime (where supervisor, child and caller may sit on different workers).

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use foundation_runtime::agent::{Agent, AgentConfig, AgentRef, Context, Reply};
use foundation_runtime::supervisor::{self, ChildSpec, Strategy, SupervisorSpec};
use tokio::runtime::Runtime;

#[derive(Debug)]
enum Msg {
    Ping(Reply<()>),
    Crash,
}

struct Worker;

impl Agent for Worker {
    type Msg = Msg;
    async fn handle(&mut self, msg: Msg, ctx: &mut Context<Self>) {
        match msg {
            Msg::Ping(reply) => ctx.reply(reply, ()),
            Msg::Crash => panic!("crash requested by the benchmark"),
        }
    }
}

fn runtimes() -> [(&'static str, Runtime); 2] {
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    [("current_thread", current), ("multi_thread", multi)]
}

/// The live instance of the child that is not `old`.
async fn restarted(sup: &supervisor::SupervisorRef, old: &AgentRef<Worker>) -> AgentRef<Worker> {
    loop {
        if !old.is_alive() {
            if let Ok(new) = sup.child::<Worker>("worker") {
                if new.is_alive() {
                    return new;
                }
            }
        }
        tokio::task::yield_now().await;
    }
}

fn restart_latency(c: &mut Criterion) {
    // Panics are the point here; keep the bench output readable.
    std::panic::set_hook(Box::new(|_| {}));
    let mut group = c.benchmark_group("supervisor_restart");
    for (flavor, rt) in runtimes() {
        let spec = SupervisorSpec::new("bench")
            .strategy(Strategy::OneForOne)
            // Restarts never exhaust the intensity: a million within a millisecond.
            .intensity(1_000_000, Duration::from_millis(1))
            .child(ChildSpec::agent(
                "worker",
                || Worker,
                AgentConfig::named("worker"),
            ));
        let sup = rt.block_on(supervisor::start(spec)).unwrap();
        let sup_ref = (*sup).clone();
        group.bench_function(flavor, |b| {
            b.iter_custom(|iters| {
                let sup = sup_ref.clone();
                let task = rt.spawn(async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let old = sup.child::<Worker>("worker").unwrap();
                        let start = Instant::now();
                        old.cast(Msg::Crash).unwrap();
                        let new = restarted(&sup, &old).await;
                        new.call(Msg::Ping, Duration::from_secs(5)).await.unwrap();
                        total += start.elapsed();
                    }
                    total
                });
                rt.block_on(task).unwrap()
            })
        });
        rt.block_on(sup.shutdown());
    }
    group.finish();
    let _ = std::panic::take_hook();
}

criterion_group!(benches, restart_latency);
criterion_main!(benches);
