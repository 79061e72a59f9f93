//! Test workers for the supervisor tests: each start and stop goes to a shared log, each
//! instance carries its generation, and a live counter catches orphaned agents.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use foundation_core::error::{Error, ErrorCode};
use foundation_core::telemetry::{Event, Subscription, TelemetryBus};
use foundation_runtime::agent::{Agent, AgentConfig, AgentRef, Context, Reply, StopReason};
use foundation_runtime::supervisor::{ChildSpec, SupervisorRef};
use parking_lot::Mutex;

pub const LONG: Duration = Duration::from_secs(60);

/// How the next starts of a worker behave.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StartMode {
    Ok,
    Fail,
    Panic,
}

#[derive(Debug)]
pub enum Msg {
    /// A handler panic.
    Crash,
    /// Stops itself with `StopReason::Normal`.
    Finish,
    /// Stops itself with an abnormal reason.
    Fail,
    /// Which instance this is (1 for the first start of the id).
    Generation(Reply<u32>),
}

pub struct Worker {
    id: String,
    generation: u32,
    fixture: Fixture,
    stop_delay: Duration,
}

impl Agent for Worker {
    type Msg = Msg;

    async fn on_start(&mut self, _ctx: &mut Context<Self>) -> Result<(), Error> {
        self.fixture.record(format!("start:{}", self.id));
        let mode = self.fixture.next_start(&self.id);
        match mode {
            StartMode::Ok => Ok(()),
            StartMode::Fail => Err(Error::new(ErrorCode::NOT_FOUND, "no saved state")),
            StartMode::Panic => panic!("start of {} exploded", self.id),
        }
    }

    async fn handle(&mut self, msg: Msg, ctx: &mut Context<Self>) {
        match msg {
            Msg::Crash => panic!("{} crashed", self.id),
            Msg::Finish => ctx.stop(StopReason::Normal),
            Msg::Fail => ctx.stop(StopReason::Other("failed".into())),
            Msg::Generation(reply) => ctx.reply(reply, self.generation),
        }
    }

    async fn on_stop(&mut self, _reason: &StopReason, _ctx: &mut Context<Self>) {
        if !self.stop_delay.is_zero() {
            tokio::time::sleep(self.stop_delay).await;
        }
        self.fixture.record(format!("stop:{}", self.id));
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.fixture.inner.alive.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(Default)]
struct Inner {
    log: Mutex<Vec<String>>,
    alive: AtomicUsize,
    modes: Mutex<HashMap<String, StartMode>>,
    failures: Mutex<HashMap<String, u32>>,
    generations: Mutex<HashMap<String, u32>>,
}

/// Shared by every worker of a test.
#[derive(Clone, Default)]
pub struct Fixture {
    inner: Arc<Inner>,
    pub bus: TelemetryBus,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture::default()
    }

    fn record(&self, line: String) {
        self.inner.log.lock().push(line);
    }

    /// A permanent worker child with a 1 s stop deadline.
    pub fn worker(&self, id: &str) -> ChildSpec {
        self.worker_with(id, Duration::ZERO, Duration::from_secs(1))
    }

    /// A worker whose `on_stop` takes `stop_delay`, with its own stop deadline.
    pub fn worker_with(&self, id: &str, stop_delay: Duration, deadline: Duration) -> ChildSpec {
        let fixture = self.clone();
        let owned = id.to_owned();
        let config = AgentConfig {
            name: id.to_owned(),
            mailbox_capacity: 16,
            stop_deadline: deadline,
        };
        ChildSpec::agent(
            id,
            move || {
                let generation = {
                    let mut generations = fixture.inner.generations.lock();
                    let g = generations.entry(owned.clone()).or_insert(0);
                    *g += 1;
                    *g
                };
                fixture.inner.alive.fetch_add(1, Ordering::SeqCst);
                Worker {
                    id: owned.clone(),
                    generation,
                    fixture: fixture.clone(),
                    stop_delay,
                }
            },
            config,
        )
    }

    /// From now on, starts of `id` behave like `mode`.
    pub fn set_start(&self, id: &str, mode: StartMode) {
        self.inner.modes.lock().insert(id.to_owned(), mode);
    }

    /// The next `n` starts of `id` fail, then they behave as set by `set_start`.
    pub fn fail_next(&self, id: &str, n: u32) {
        self.inner.failures.lock().insert(id.to_owned(), n);
    }

    fn next_start(&self, id: &str) -> StartMode {
        if let Some(n) = self.inner.failures.lock().get_mut(id).filter(|n| **n > 0) {
            *n -= 1;
            return StartMode::Fail;
        }
        let modes = self.inner.modes.lock();
        modes.get(id).copied().unwrap_or(StartMode::Ok)
    }

    /// The log so far, emptied.
    pub fn take_log(&self) -> Vec<String> {
        std::mem::take(&mut *self.inner.log.lock())
    }

    /// How many worker values exist (made by a factory and not yet dropped).
    pub fn alive(&self) -> usize {
        self.inner.alive.load(Ordering::SeqCst)
    }

    /// How many instances of `id` were made.
    pub fn generations(&self, id: &str) -> u32 {
        self.inner.generations.lock().get(id).copied().unwrap_or(0)
    }

    pub fn events(&self) -> Subscription {
        self.bus.subscribe_prefix("foundation.supervisor.", 1024)
    }
}

/// Lets every task run until all are idle (paused time: the clock only advances when
/// nothing else can run, so this returns once the supervisors have settled).
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

/// How many tasks the test's runtime still runs (supervisor loops and agents; the test's
/// own future is not a task).
pub fn live_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// The current instance of worker `id`.
pub fn worker(sup: &SupervisorRef, id: &str) -> AgentRef<Worker> {
    sup.child::<Worker>(id).expect("worker is a child")
}

/// Crashes worker `id` (a handler panic) and waits for the supervisor to settle.
pub async fn crash(sup: &SupervisorRef, id: &str) {
    let w = worker(sup, id);
    w.cast(Msg::Crash).unwrap();
    w.wait().await;
    settle().await;
}

/// Asks the current instance of `id` which generation it is.
pub async fn generation(sup: &SupervisorRef, id: &str) -> u32 {
    worker(sup, id)
        .call(Msg::Generation, Duration::from_secs(1))
        .await
        .unwrap()
}

/// Event names received so far, in order.
pub fn event_names(sub: &mut Subscription) -> Vec<&'static str> {
    sub.drain().iter().map(|e| e.name()).collect()
}

pub fn downcast<E: Event + Clone>(events: &[Arc<dyn Event>]) -> Vec<E> {
    events
        .iter()
        .filter_map(|e| e.downcast_ref::<E>().cloned())
        .collect()
}

pub fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}
