//! A probe agent shared by the agent test files.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use foundation_core::error::{Error, ErrorCode};
use foundation_runtime::agent::{Agent, AgentConfig, Context, Reply, StopReason};
use parking_lot::Mutex;
use tokio::sync::oneshot;

#[derive(Debug)]
pub enum Msg {
    Push(u64),
    Get(Reply<Vec<u64>>),
    /// Answers "entered" at once, then waits until the sender side is dropped or fires.
    Hold(Reply<()>, oneshot::Receiver<()>),
    Sleep(Duration, Reply<()>),
    Panic(&'static str, Reply<u64>),
    PanicCast(&'static str),
    Forget(Reply<u64>),
    Saved(Reply<u64>),
}

#[derive(Default)]
pub struct Log {
    pub events: Vec<String>,
    /// How many messages `after_message` has saved.
    pub saves: u64,
    pub stops: Vec<StopReason>,
}

pub type SharedLog = Arc<Mutex<Log>>;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StartMode {
    Ok,
    Fail,
    Panic,
}

pub struct Probe {
    pub log: SharedLog,
    pub items: Vec<u64>,
    pub start: StartMode,
    pub save_delay: Duration,
    pub stop_delay: Duration,
}

impl Probe {
    pub fn new() -> (Probe, SharedLog) {
        let log = SharedLog::default();
        (
            Probe {
                log: log.clone(),
                items: Vec::new(),
                start: StartMode::Ok,
                save_delay: Duration::ZERO,
                stop_delay: Duration::ZERO,
            },
            log,
        )
    }
}

impl Agent for Probe {
    type Msg = Msg;

    async fn on_start(&mut self, _ctx: &mut Context<Self>) -> Result<(), Error> {
        self.log.lock().events.push("start".into());
        match self.start {
            StartMode::Ok => Ok(()),
            StartMode::Fail => Err(Error::new(ErrorCode::NOT_FOUND, "no saved state")),
            StartMode::Panic => panic!("start exploded"),
        }
    }

    async fn handle(&mut self, msg: Msg, ctx: &mut Context<Self>) {
        match msg {
            Msg::Push(n) => self.items.push(n),
            Msg::Get(reply) => ctx.reply(reply, self.items.clone()),
            Msg::Hold(entered, release) => {
                entered.send(());
                let _ = release.await;
            }
            Msg::Sleep(d, reply) => {
                tokio::time::sleep(d).await;
                ctx.reply(reply, ());
            }
            Msg::Panic(why, _reply) => panic!("{why}"),
            Msg::PanicCast(why) => panic!("{why}"),
            Msg::Forget(reply) => drop(reply),
            Msg::Saved(reply) => ctx.reply(reply, self.items.len() as u64),
        }
    }

    async fn after_message(&mut self, _ctx: &mut Context<Self>) {
        if !self.save_delay.is_zero() {
            tokio::time::sleep(self.save_delay).await;
        }
        self.log.lock().saves += 1;
    }

    async fn on_stop(&mut self, reason: &StopReason, _ctx: &mut Context<Self>) {
        if !self.stop_delay.is_zero() {
            tokio::time::sleep(self.stop_delay).await;
        }
        self.log.lock().stops.push(reason.clone());
    }
}

pub fn config(name: &str, capacity: usize) -> AgentConfig {
    AgentConfig {
        name: name.into(),
        mailbox_capacity: capacity,
        stop_deadline: Duration::from_secs(1),
    }
}

pub const LONG: Duration = Duration::from_secs(10);
