//! The memory manager driven by a fake source: levels with hysteresis, the protection gate,
//! cleanup strategies and their reports, events, status and config validation.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use foundation_core::telemetry::Event;
use foundation_core::{Error, ErrorCode, Result, TelemetryBus};
use foundation_observe::memory::{
    CleanupCompleted, CleanupStrategy, CleanupTrigger, FnStrategy, Freed, MemoryConfig,
    MemoryManager, MemoryReading, MemorySource, PressureChanged, PruneBusBuffers, StrategyOutcome,
    Trim, TrimCaches,
};
use foundation_protect::protection::{PressureLevel, Protection};

/// Usage in percent of a 100-byte cgroup limit, set by the test.
#[derive(Clone, Default)]
struct Percent(Arc<AtomicU64>);

impl Percent {
    fn set(&self, pct: u64) {
        self.0.store(pct, Ordering::SeqCst);
    }
}

impl MemorySource for Percent {
    fn read(&self) -> Result<MemoryReading> {
        Ok(MemoryReading {
            cgroup_current_bytes: Some(self.0.load(Ordering::SeqCst)),
            cgroup_limit_bytes: Some(100),
            ..MemoryReading::default()
        })
    }
}

struct Fixture {
    usage: Percent,
    bus: TelemetryBus,
    manager: MemoryManager,
}

fn fixture(config: MemoryConfig) -> Fixture {
    let usage = Percent::default();
    let bus = TelemetryBus::new();
    let manager = MemoryManager::builder()
        .config(config)
        .source(usage.clone())
        .bus(bus.clone())
        .build()
        .unwrap();
    Fixture {
        usage,
        bus,
        manager,
    }
}

impl Fixture {
    fn at(&self, pct: u64) -> PressureLevel {
        self.usage.set(pct);
        self.manager.sample_now().unwrap().level
    }
}

/// A strategy that records its runs into a shared log.
struct Logged {
    name: &'static str,
    priority: u32,
    min_level: PressureLevel,
    log: Arc<Mutex<Vec<(&'static str, PressureLevel)>>>,
}

impl CleanupStrategy for Logged {
    fn name(&self) -> &str {
        self.name
    }
    fn priority(&self) -> u32 {
        self.priority
    }
    fn min_level(&self) -> PressureLevel {
        self.min_level
    }
    fn clean(&self, level: PressureLevel) -> Result<Freed> {
        self.log.lock().unwrap().push((self.name, level));
        Ok(Freed::bytes(10))
    }
}

#[test]
fn levels_follow_usage_with_hysteresis() {
    use PressureLevel::*;
    let f = fixture(MemoryConfig::default());
    assert_eq!(f.manager.level(), Low, "low before the first sample");
    assert_eq!(f.at(69), Low);
    assert_eq!(f.at(70), Medium);
    assert_eq!(f.at(66), Medium, "within the 5-point margin");
    assert_eq!(f.at(85), High);
    assert_eq!(f.at(95), Critical);
    assert_eq!(
        f.at(91),
        Critical,
        "hovering under the threshold does not flap"
    );
    assert_eq!(f.at(96), Critical);
    assert_eq!(f.at(89), High);
    assert_eq!(f.at(64), Low);
}

#[test]
fn level_changes_are_published_with_usage_and_limit() {
    let f = fixture(MemoryConfig::default());
    let mut sub = f
        .bus
        .subscribe_prefix("foundation.memory.pressure_changed", 16);
    f.at(50);
    f.at(97);
    f.at(96);
    f.at(10);
    let changes: Vec<PressureChanged> = sub
        .drain()
        .iter()
        .map(|e| e.downcast_ref::<PressureChanged>().unwrap().clone())
        .collect();
    assert_eq!(
        changes,
        vec![
            PressureChanged {
                from: PressureLevel::Low,
                to: PressureLevel::Critical,
                usage_bytes: 97,
                limit_bytes: 100
            },
            PressureChanged {
                from: PressureLevel::Critical,
                to: PressureLevel::Low,
                usage_bytes: 10,
                limit_bytes: 100
            },
        ]
    );
    assert_eq!(changes[0].name(), "foundation.memory.pressure_changed");
}

#[tokio::test(start_paused = true)]
async fn the_protection_gate_refuses_new_work_at_critical_and_admits_it_again() {
    let f = fixture(MemoryConfig {
        interval: Duration::from_secs(1),
        ..MemoryConfig::default()
    });
    let protection = Protection::builder("orders")
        .bus(f.bus.clone())
        .memory_gate(f.manager.gate())
        .build()
        .unwrap();
    let call = || protection.run(|_| async { Ok::<_, Error>("done") });
    let sampler = f.manager.start();
    // Samples at 0 s, 1 s, 2 s...; the checks below fall half-way between them.
    tokio::time::sleep(Duration::from_millis(500)).await;

    f.usage.set(90);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(f.manager.level(), PressureLevel::High);
    assert_eq!(call().await.unwrap(), "done", "high still admits work");

    f.usage.set(99);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let refused = call().await.unwrap_err();
    assert!(refused.is(ErrorCode::MEMORY_PRESSURE), "{refused}");
    assert_eq!(refused.context_value("stage"), Some("memory_gate"));
    assert!(refused.message().contains("critical"), "{refused}");

    f.usage.set(92);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(call().await.is_err(), "still critical within the margin");

    f.usage.set(60);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        call().await.unwrap(),
        "done",
        "admitted once pressure falls"
    );
    sampler.stop().await;
}

#[test]
fn strategies_for_the_level_run_in_priority_order_when_it_rises() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let f = fixture(MemoryConfig::default());
    for (name, priority, min_level) in [
        ("late-critical", 50, PressureLevel::Critical),
        ("late-medium", 50, PressureLevel::Medium),
        ("first-high", 1, PressureLevel::High),
        ("mid-medium", 10, PressureLevel::Medium),
    ] {
        f.manager.register(Logged {
            name,
            priority,
            min_level,
            log: log.clone(),
        });
    }
    f.at(75);
    assert_eq!(
        log.lock().unwrap().drain(..).collect::<Vec<_>>(),
        vec![
            ("mid-medium", PressureLevel::Medium),
            ("late-medium", PressureLevel::Medium)
        ]
    );
    f.at(80);
    assert!(
        log.lock().unwrap().is_empty(),
        "staying at medium runs nothing"
    );
    f.at(96);
    let names: Vec<_> = log.lock().unwrap().drain(..).map(|(n, _)| n).collect();
    assert_eq!(
        names,
        vec!["first-high", "mid-medium", "late-critical", "late-medium"],
        "priority first, then registration order"
    );
    let report = f.manager.last_cleanup().unwrap();
    assert_eq!(report.level, PressureLevel::Critical);
    assert_eq!(report.trigger, CleanupTrigger::LevelRose);
    assert_eq!(
        (report.usage_bytes, report.limit_bytes),
        (Some(96), Some(100))
    );
    assert_eq!((report.freed_bytes, report.failed), (40, 0));
    f.at(10);
    assert!(log.lock().unwrap().is_empty(), "falling runs nothing");
}

#[tokio::test(start_paused = true)]
async fn cleanup_repeats_while_high_at_most_once_per_interval() {
    let runs = Arc::new(AtomicU64::new(0));
    let counted = runs.clone();
    let f = fixture(MemoryConfig {
        interval: Duration::from_secs(1),
        cleanup_interval: Duration::from_secs(10),
        ..MemoryConfig::default()
    });
    f.manager.register(
        FnStrategy::new("count", move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(Freed::default())
        })
        .from_level(PressureLevel::Medium),
    );
    f.usage.set(75);
    // Samples at 0 s, 1 s, 2 s...; the checks below fall between them.
    let sampler = f.manager.start();
    tokio::time::sleep(Duration::from_millis(30_500)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 1, "medium runs once, on entry");

    f.usage.set(90);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 1, "not sampled yet");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        runs.load(Ordering::SeqCst),
        2,
        "entering high (at 31 s) runs at once"
    );
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(
        runs.load(Ordering::SeqCst),
        4,
        "then at 41 s and 51 s while high"
    );
    assert_eq!(
        f.manager.last_cleanup().unwrap().trigger,
        CleanupTrigger::Sustained
    );
    sampler.stop().await;
}

#[test]
fn failing_and_panicking_strategies_are_reported_and_the_rest_still_run() {
    let f = fixture(MemoryConfig::default());
    let mut events = f.bus.subscribe_prefix("foundation.memory.cleanup", 4);
    f.manager
        .register(FnStrategy::new("boom", |_| panic!("cache index corrupted")).with_priority(1));
    f.manager.register(
        FnStrategy::new("refuses", |_| {
            Err(Error::new(ErrorCode::UNAVAILABLE, "flush target down"))
        })
        .with_priority(2),
    );
    f.manager
        .register(FnStrategy::new("works", |_| Ok(Freed::items(7))).with_priority(3));
    f.at(99);
    let report = f.manager.last_cleanup().unwrap();
    assert_eq!(report.failed, 2);
    assert_eq!(report.freed_items, 7);
    let outcomes: Vec<_> = report.results.iter().map(|r| &r.outcome).collect();
    assert_eq!(
        outcomes[0],
        &StrategyOutcome::Panicked {
            message: "cache index corrupted".into()
        }
    );
    match outcomes[1] {
        StrategyOutcome::Failed { code, error } => {
            assert_eq!(code, "core.unavailable");
            assert!(error.contains("flush target down"));
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert_eq!(outcomes[2], &StrategyOutcome::Freed(Freed::items(7)));

    let published = events.try_recv().expect("the run is published");
    let published = published.downcast_ref::<CleanupCompleted>().unwrap();
    assert_eq!(published.report, report);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["results"][0]["outcome"]["status"], "panicked");
    assert_eq!(json["results"][1]["outcome"]["code"], "core.unavailable");
    assert_eq!(json["results"][2]["outcome"]["items"], 7);
}

struct Cache {
    entries: Mutex<Vec<u64>>,
}

impl Trim for Cache {
    fn trim(&self, level: PressureLevel) -> Freed {
        let mut entries = self.entries.lock().unwrap();
        let keep = if level >= PressureLevel::Critical {
            0
        } else {
            entries.len() / 2
        };
        let gone = entries.len() - keep;
        entries.truncate(keep);
        Freed {
            bytes: gone as u64 * 8,
            items: gone as u64,
            detail: None,
        }
    }
}

struct Broken;
impl Trim for Broken {
    fn trim(&self, _: PressureLevel) -> Freed {
        panic!("trim bug")
    }
}

#[test]
fn trim_caches_trims_every_live_cache_and_forgets_dropped_ones() {
    let f = fixture(MemoryConfig::default());
    let caches = TrimCaches::new();
    f.manager.register(caches.clone());
    let users = Arc::new(Cache {
        entries: Mutex::new((0..10).collect()),
    });
    let sessions = Arc::new(Cache {
        entries: Mutex::new((0..4).collect()),
    });
    caches.register("users", &users);
    caches.register("sessions", &sessions);
    assert_eq!(caches.len(), 2);

    f.at(75);
    assert_eq!(users.entries.lock().unwrap().len(), 5);
    assert_eq!(sessions.entries.lock().unwrap().len(), 2);
    let report = f.manager.last_cleanup().unwrap();
    assert_eq!((report.freed_items, report.freed_bytes), (7, 56));

    drop(sessions);
    assert_eq!(caches.len(), 1, "a dropped cache leaves the list");
    f.at(99);
    assert!(
        users.entries.lock().unwrap().is_empty(),
        "critical empties it"
    );

    let broken = Arc::new(Broken);
    caches.register("broken", &broken);
    let report = f.manager.cleanup_now(PressureLevel::Medium);
    assert_eq!(report.trigger, CleanupTrigger::Requested);
    match &report.results[0].outcome {
        StrategyOutcome::Failed { error, .. } => {
            assert!(error.contains("broken (trim bug)"), "{error}")
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn prune_bus_buffers_sheds_stuck_subscribers_from_high_up() {
    let f = fixture(MemoryConfig::default());
    f.manager.register(PruneBusBuffers::new(f.bus.clone()));
    let stuck = f.bus.subscribe_prefix("app.", 1);
    #[derive(Debug)]
    struct Tick;
    impl Event for Tick {
        fn name(&self) -> &'static str {
            "app.tick"
        }
    }
    f.bus.emit(Tick);
    f.at(75);
    assert!(!stuck.is_shed(), "not at medium");
    f.at(90);
    assert!(stuck.is_shed());
    let report = f.manager.last_cleanup().unwrap();
    assert_eq!(report.results[0].strategy, "prune_bus_buffers");
    assert_eq!(report.freed_items, 1, "the one buffered event");
}

#[test]
fn status_serializes_level_sources_and_strategies() {
    let f = fixture(MemoryConfig::default());
    f.manager.register(TrimCaches::new());
    f.at(88);
    let json = serde_json::to_value(f.manager.status()).unwrap();
    assert_eq!(json["level"], "high");
    assert_eq!(json["last_sample"]["usage_bytes"], 88);
    assert_eq!(json["last_sample"]["usage_source"], "cgroup");
    assert_eq!(json["last_sample"]["limit_source"], "cgroup");
    assert_eq!(json["strategies"][0]["name"], "trim_caches");
    assert_eq!(json["strategies"][0]["min_level"], "medium");
    assert_eq!(json["last_cleanup"]["trigger"], "level_rose");
    assert_eq!(json["last_error"], serde_json::Value::Null);
}

#[test]
fn a_panicking_source_is_an_error_not_a_crash() {
    struct Panics;
    impl MemorySource for Panics {
        fn read(&self) -> Result<MemoryReading> {
            panic!("driver fell over")
        }
    }
    let m = MemoryManager::builder()
        .source(Panics)
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    let err = m.sample_now().unwrap_err();
    assert!(err.is(ErrorCode::INTERNAL));
    assert!(err.message().contains("driver fell over"));
}

#[test]
fn config_validation_names_each_bad_field() {
    let bad = MemoryConfig {
        interval: Duration::ZERO,
        limit_bytes: Some(0),
        medium: 0.9,
        high: 0.8,
        critical: 1.5,
        hysteresis: -0.1,
        ..MemoryConfig::default()
    };
    let err = MemoryManager::new(bad).unwrap_err();
    assert!(err.is(ErrorCode::INVALID_CONFIG));
    let fields: Vec<_> = err.context_values("field").collect();
    for field in [
        "memory.interval_ms",
        "memory.limit_bytes",
        "memory.critical",
        "memory.medium",
        "memory.hysteresis",
    ] {
        assert!(fields.contains(&field), "{field} missing from {fields:?}");
    }
    assert!(
        err.message()
            .contains("memory.critical: must be within (0, 1], got 1.5")
    );

    let nan = MemoryConfig {
        high: f64::NAN,
        ..MemoryConfig::default()
    };
    assert!(MemoryManager::new(nan).is_err());
    let wide_margin = MemoryConfig {
        hysteresis: 0.7,
        ..MemoryConfig::default()
    };
    let err = MemoryManager::new(wide_margin).unwrap_err();
    assert_eq!(err.context_value("field"), Some("memory.hysteresis"));
}

#[test]
fn config_reads_from_json_with_millisecond_durations() {
    let cfg: MemoryConfig =
        serde_json::from_str(r#"{"interval_ms": 250, "critical": 0.9, "limit_bytes": 1024}"#)
            .unwrap();
    assert_eq!(cfg.interval, Duration::from_millis(250));
    assert_eq!(cfg.critical, 0.9);
    assert_eq!(cfg.high, MemoryConfig::default().high);
    assert!(serde_json::from_str::<MemoryConfig>(r#"{"critcal": 0.9}"#).is_err());
}

#[tokio::test(start_paused = true)]
async fn the_monitor_gives_back_its_long_windows_under_pressure() {
    use foundation_observe::memory::TrimMonitorHistory;
    use foundation_observe::monitor::{Monitor, Window};

    let f = fixture(MemoryConfig::default());
    let monitor = Monitor::builder().bus(f.bus.clone()).build().unwrap();
    for _ in 0..100 {
        monitor
            .record_latency("op", &[], Duration::from_millis(3))
            .unwrap();
    }
    f.manager.register(TrimMonitorHistory::new(monitor.clone()));
    let count = |w| monitor.summary("op", &[], w).unwrap().count;

    assert_eq!(f.at(90), PressureLevel::High);
    let report = f.manager.last_cleanup().expect("cleanup ran at high");
    let trimmed = report
        .results
        .iter()
        .find(|r| r.strategy == "trim_monitor_history")
        .unwrap();
    assert!(
        matches!(&trimmed.outcome, StrategyOutcome::Freed(freed) if freed.bytes > 0),
        "{trimmed:?}"
    );
    assert_eq!(
        (
            count(Window::Minute),
            count(Window::Hour),
            count(Window::Day)
        ),
        (100, 100, 0)
    );

    assert_eq!(f.at(99), PressureLevel::Critical);
    assert_eq!((count(Window::Minute), count(Window::Hour)), (100, 0));
}
