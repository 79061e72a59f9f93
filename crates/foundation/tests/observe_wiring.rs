//! Across crates: a supervisor's restarts and a breaker's trips reach the monitor, the
//! Prometheus export and the health checks through the telemetry bus alone.

use std::time::Duration;

use foundation::observe::health::builtin::{
    BreakersCheck, BreakersCheckConfig, RestartsCheck, RestartsCheckConfig,
};
use foundation::observe::health::{HealthCheck, HealthStatus};
use foundation::prelude::*;
use foundation::protect::breaker::BreakerRegistry;

#[derive(Debug)]
struct Crash;

struct Fragile;

impl Agent for Fragile {
    type Msg = Crash;

    async fn handle(&mut self, _crash: Crash, _ctx: &mut Context<Self>) {
        panic!("fragile agent crashed on purpose");
    }
}

#[tokio::test(start_paused = true)]
async fn restarts_and_trips_reach_the_monitor_the_export_and_health_without_wiring() {
    std::panic::set_hook(Box::new(|_| {}));
    let bus = TelemetryBus::new();
    let monitor = Monitor::builder().bus(bus.clone()).build().unwrap();
    let ticks = monitor.spawn();
    let restarts = RestartsCheck::new(
        &bus,
        Clock::tokio(),
        RestartsCheckConfig {
            warn_restarts: 2,
            ..RestartsCheckConfig::default()
        },
    )
    .unwrap();
    let mut seen = bus.subscribe_prefix("foundation.supervisor.child_restarted", 16);

    let spec = SupervisorSpec::new("imaging")
        .intensity(10, Duration::from_secs(60))
        .child(ChildSpec::agent(
            "fragile",
            || Fragile,
            AgentConfig::named("fragile"),
        ));
    let supervisor = foundation::runtime::supervisor::start_on(spec, bus.clone())
        .await
        .unwrap();
    for _ in 0..2 {
        let child = supervisor.child::<Fragile>("fragile").unwrap();
        child.cast(Crash).unwrap();
        seen.recv().await.expect("a restart event");
    }

    let breakers = BreakerRegistry::builder().bus(bus.clone()).build().unwrap();
    breakers.get_or_create("payments").unwrap().force_open();

    // The monitor's task counts what the bus delivered to it.
    while monitor
        .event_counts()
        .iter()
        .filter(|c| c.event == "foundation.supervisor.child_restarted")
        .map(|c| c.count)
        .sum::<u64>()
        < 2
    {
        tokio::task::yield_now().await;
    }

    let text = MetricsExporter::new()
        .with(monitor.clone())
        .with(breakers.clone())
        .render()
        .await;
    assert!(
        text.contains("foundation_agent_restarts_total{supervisor=\"imaging\"} 2\n"),
        "{text}"
    );
    assert!(
        text.contains("foundation_breaker_state{breaker=\"payments\",state=\"forced_open\"} 1\n")
    );

    let restarted = restarts.check().await;
    assert_eq!(restarted.status, HealthStatus::Warn, "{restarted:?}");
    let open = BreakersCheck::new(breakers, BreakersCheckConfig::default())
        .unwrap()
        .check()
        .await;
    assert_eq!(open.status, HealthStatus::Warn);
    assert!(open.output.unwrap().contains("payments"));

    supervisor.shutdown().await;
    ticks.stop().await;
}
