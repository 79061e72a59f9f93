//! Agents and helpers shared by the registry test files.
#![allow(dead_code)]

use std::time::Duration;

use foundation_core::clock::ManualClock;
use foundation_core::telemetry::TelemetryBus;
use foundation_runtime::agent::{Agent, AgentConfig, AgentHandle, Context, Reply, StopReason};
use foundation_runtime::registry::{Registry, RegistryConfig};

/// A worker that answers with its name, can be told to panic, and can be made to overrun
/// its stop deadline.
pub struct Worker {
    pub slow_stop: bool,
}

#[derive(Debug)]
pub enum Msg {
    Name(Reply<String>),
    Panic,
}

impl Agent for Worker {
    type Msg = Msg;
    async fn handle(&mut self, msg: Msg, ctx: &mut Context<Self>) {
        match msg {
            Msg::Name(reply) => {
                let name = ctx.name().to_owned();
                ctx.reply(reply, name);
            }
            Msg::Panic => panic!("worker told to panic"),
        }
    }

    async fn on_stop(&mut self, _: &StopReason, _: &mut Context<Self>) {
        if self.slow_stop {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    }
}

/// Another agent type, for wrong-type lookups.
pub struct Other;

impl Agent for Other {
    type Msg = ();
    async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
}

/// Spawns a [`Worker`] named `name` on `bus`.
pub async fn worker(name: &str, bus: &TelemetryBus) -> AgentHandle<Worker> {
    foundation_runtime::agent::spawn_on(
        Worker { slow_stop: false },
        AgentConfig::named(name),
        bus.clone(),
    )
    .await
    .unwrap()
}

/// A registry on a manual clock and its own bus, with no background sweeper.
pub struct Fixture {
    pub registry: Registry,
    pub clock: ManualClock,
    pub bus: TelemetryBus,
}

pub fn fixture() -> Fixture {
    fixture_with(RegistryConfig {
        sweep_interval: None,
        expiry_grace: Duration::from_secs(10),
        ..RegistryConfig::default()
    })
}

pub fn fixture_with(config: RegistryConfig) -> Fixture {
    let clock = ManualClock::new();
    let bus = TelemetryBus::new();
    let registry = Registry::builder()
        .config(config)
        .clock(clock.clock())
        .bus(bus.clone())
        .build()
        .unwrap();
    Fixture {
        registry,
        clock,
        bus,
    }
}
