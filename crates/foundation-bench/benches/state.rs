//! Persistent agent state: what a save costs, and what it adds to an agent call.
//!
//! Run: `cargo bench -p foundation-bench --bench state -- --warm-up-time 1 --measurement-time 3`
//! (PostgreSQL too when `FOUNDATION_TEST_POSTGRES_URL` is set; a private schema is created
//! and dropped).
//!
//! Groups:
//! - `state_save/<backend>`: one compare-and-set save of a small JSON object, committed. The
//!   backends are `sqlite` (WAL, `synchronous=FULL`, the default: one fsync per save),
//!   `sqlite_normal` (`synchronous=NORMAL`: survives `kill -9`, not power loss; no fsync per
//!   save) and `postgres`.
//! - `state_call/<flavor>`: one request/reply call to a counter that bumps its state:
//!   `plain` is an ordinary agent (no store), `persistent_<backend>` a persistent agent whose
//!   answer is delivered after the new state is saved.
//!
//! Criterion reports means; the target is a tail latency, so before the groups each backend
//! also runs a measured loop (5,000 saves, 2,000 persistent calls; 2,000 plain calls) and
//! prints p50 / p99 / max to stderr. Every loop runs in one task spawned on a 2-worker
//! multi-thread runtime.

use std::future::Future;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use foundation_bench::bench_stores;
use foundation_runtime::agent::{
    Agent, AgentConfig, AgentHandle, AgentRef, Context, Reply, StopReason, spawn,
};
use foundation_runtime::persistent::{Persistent, PersistentAgent};
use foundation_store::StateStore;
use serde_json::{Value, json};
use tokio::runtime::Runtime;

const TIMEOUT: Duration = Duration::from_secs(5);
/// Saves in the measured loop that prints percentiles.
const LOOP_SAVES: usize = 5_000;
/// Persistent calls in the measured loop that prints percentiles.
const LOOP_CALLS: usize = 2_000;

#[derive(Debug)]
enum Msg {
    Bump(Reply<u64>),
}

/// The ordinary agent: state in memory only.
struct Plain(u64);

impl Agent for Plain {
    type Msg = Msg;
    async fn handle(&mut self, Msg::Bump(reply): Msg, ctx: &mut Context<Self>) {
        self.0 += 1;
        ctx.reply(reply, self.0);
    }
}

/// The same counter, persistent.
struct Counter;

impl PersistentAgent for Counter {
    type Msg = Msg;
    type State = u64;

    fn key(&self) -> &str {
        "bench/counter"
    }

    async fn handle(
        &mut self,
        n: &mut u64,
        Msg::Bump(reply): Msg,
        ctx: &mut Context<Persistent<Self>>,
    ) {
        *n += 1;
        ctx.reply(reply, *n);
    }
}

fn value(n: u64) -> Value {
    json!({"count": n, "owner": "bench", "tags": ["a", "b"]})
}

/// Saves `key` `iters` times in a row from its current version; returns each save's time.
async fn saves(states: &StateStore, key: &str, iters: usize) -> Vec<Duration> {
    let mut version = states.load(key).await.expect("load").map(|v| v.version);
    let mut times = Vec::with_capacity(iters);
    for i in 0..iters {
        let start = Instant::now();
        version = Some(
            states
                .save(key, version, &value(i as u64))
                .await
                .expect("save"),
        );
        times.push(start.elapsed());
    }
    times
}

/// Calls `agent` `iters` times in a row; returns each call's time.
async fn calls<A: Agent<Msg = Msg>>(agent: &AgentRef<A>, iters: usize) -> Vec<Duration> {
    let mut times = Vec::with_capacity(iters);
    for _ in 0..iters {
        let start = Instant::now();
        agent.call(Msg::Bump, TIMEOUT).await.expect("call");
        times.push(start.elapsed());
    }
    times
}

fn report(what: &str, mut times: Vec<Duration>) {
    times.sort_unstable();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    eprintln!(
        "{what}: n={} p50={:?} p99={:?} max={:?}",
        times.len(),
        at(0.50),
        at(0.99),
        at(1.0)
    );
}

async fn spawn_persistent(states: StateStore) -> AgentHandle<Persistent<Counter>> {
    spawn(
        Persistent::new(Counter, states),
        AgentConfig::named("bench-persistent"),
    )
    .await
    .expect("spawn")
}

fn bench_state(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let backends = rt.block_on(bench_stores());

    for backend in &backends {
        let states = backend.store.agent_state();
        let name = backend.name;
        in_task(&rt, async move {
            let save_times = saves(&states, "bench/loop", LOOP_SAVES).await;
            report(&format!("state_save/{name}"), save_times);
            let agent = spawn_persistent(states.clone()).await;
            let call_times = calls(&agent, LOOP_CALLS).await;
            report(&format!("state_call/persistent_{name}"), call_times);
            agent.shutdown(StopReason::Normal).await;
        });
    }
    in_task(&rt, async {
        let plain = spawn(Plain(0), AgentConfig::named("bench-plain"))
            .await
            .expect("spawn");
        report("state_call/plain", calls(&plain, LOOP_CALLS).await);
        plain.shutdown(StopReason::Normal).await;
    });

    let mut group = c.benchmark_group("state_save");
    for backend in &backends {
        let states = backend.store.agent_state();
        group.bench_function(backend.name, |b| {
            b.iter_custom(|iters| {
                let states = states.clone();
                in_task(&rt, async move {
                    let times = saves(&states, "bench/criterion", iters as usize).await;
                    times.iter().sum()
                })
            });
        });
    }
    group.finish();

    let mut group = c.benchmark_group("state_call");
    let plain = rt.block_on(spawn(Plain(0), AgentConfig::named("bench-plain")));
    let plain = plain.expect("spawn");
    group.bench_function("plain", |b| {
        b.iter_custom(|iters| {
            let agent = plain.agent_ref();
            run_calls(&rt, agent, iters)
        });
    });
    for backend in &backends {
        let agent = rt.block_on(spawn_persistent(backend.store.agent_state()));
        group.bench_function(format!("persistent_{}", backend.name), |b| {
            b.iter_custom(|iters| run_calls(&rt, agent.agent_ref(), iters));
        });
        rt.block_on(agent.shutdown(StopReason::Normal));
    }
    group.finish();
    rt.block_on(plain.shutdown(StopReason::Normal));

    for backend in backends {
        rt.block_on(backend.cleanup());
    }
}

/// Runs `work` as a task spawned on the runtime (callers in a service are tasks, not the
/// thread blocked on the runtime) and waits for it.
fn in_task<T: Send + 'static>(rt: &Runtime, work: impl Future<Output = T> + Send + 'static) -> T {
    rt.block_on(async move { tokio::spawn(work).await.expect("bench task") })
}

/// `iters` calls in a row, timed as a whole.
fn run_calls<A: Agent<Msg = Msg>>(rt: &Runtime, agent: AgentRef<A>, iters: u64) -> Duration {
    in_task(rt, async move {
        let start = Instant::now();
        for _ in 0..iters {
            std::hint::black_box(agent.call(Msg::Bump, TIMEOUT).await.expect("call"));
        }
        start.elapsed()
    })
}

criterion_group!(benches, bench_state);
criterion_main!(benches);
