//! The facade: stage order, structured refusals naming the stage, retries through the
//! breaker, fallbacks, per-caller accounting, the memory gate, TOML and the tower layer.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use foundation_core::{Error, ErrorCode, TelemetryBus};
use foundation_protect::breaker::{BreakerConfig, BreakerState, WindowConfig};
use foundation_protect::bulkhead::BulkheadConfig;
use foundation_protect::limiter::LimiterConfig;
use foundation_protect::protection::{
    ManualGate, PressureLevel, Protection, ProtectionBuilder, ProtectionLayer, ProtectionRegistry,
};
use foundation_protect::retry::{Backoff, RetryConfig};
use foundation_protect::timeout::TimeoutConfig;

fn quiet(name: &str) -> ProtectionBuilder {
    Protection::builder(name).bus(TelemetryBus::new())
}

fn small_breaker() -> BreakerConfig {
    BreakerConfig {
        window: WindowConfig::Count { size: 4 },
        minimum_calls: 4,
        failure_rate_threshold: 50.0,
        open_duration: Duration::from_secs(10),
        half_open_probes: 1,
        ..BreakerConfig::default()
    }
}

fn quick_retry(attempts: u32) -> RetryConfig {
    RetryConfig {
        max_attempts: attempts,
        backoff: Backoff::Constant {
            delay: Duration::from_millis(10),
        },
        ..RetryConfig::default()
    }
}

fn stage(err: &Error) -> Option<&str> {
    err.context_value("stage")
}

#[tokio::test(start_paused = true)]
async fn memory_gate_refuses_at_critical_before_the_call_runs() {
    let gate = ManualGate::new();
    let p = quiet("mem")
        .memory_gate(Arc::new(gate.clone()))
        .build()
        .unwrap();
    let calls = AtomicU32::new(0);
    let call = |_| async {
        calls.fetch_add(1, Ordering::SeqCst);
        Ok::<_, Error>(())
    };

    gate.set(PressureLevel::High);
    p.run(call).await.unwrap();
    gate.set(PressureLevel::Critical);
    let err = p.run(call).await.unwrap_err();
    assert!(err.is(ErrorCode::MEMORY_PRESSURE), "{err}");
    assert_eq!(stage(&err), Some("memory_gate"));
    assert_eq!(err.context_value("protection"), Some("mem"));
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    gate.set(PressureLevel::Low);
    p.run(call).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn memory_gate_level_is_configurable() {
    let gate = ManualGate::new();
    let p = quiet("mem")
        .memory_gate_at(Arc::new(gate.clone()), PressureLevel::High)
        .build()
        .unwrap();
    gate.set(PressureLevel::High);
    let err = p.run(|_| async { Ok::<_, Error>(()) }).await.unwrap_err();
    assert!(err.is(ErrorCode::MEMORY_PRESSURE));
}

#[tokio::test(start_paused = true)]
async fn rate_limit_refusal_names_the_stage_and_carries_retry_after() {
    let p = quiet("limited")
        .rate_limit(LimiterConfig {
            rate: 2,
            burst: 2,
            period_ms: 1_000,
            ..LimiterConfig::default()
        })
        .build()
        .unwrap();
    for _ in 0..2 {
        p.run(|_| async { Ok::<_, Error>(()) }).await.unwrap();
    }
    let err = p.run(|_| async { Ok::<_, Error>(()) }).await.unwrap_err();
    assert!(err.is(ErrorCode::RATE_LIMITED), "{err}");
    assert_eq!(stage(&err), Some("rate_limit"));
    assert!(err.retry_after().is_some_and(|d| d > Duration::ZERO));
}

#[tokio::test(start_paused = true)]
async fn bulkhead_refusal_names_the_stage_while_a_call_holds_the_slot() {
    let p = quiet("bulk")
        .bulkhead(BulkheadConfig {
            max_concurrent: 1,
            max_waiting: 0,
            max_wait: Duration::from_millis(100),
        })
        .build()
        .unwrap();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
    let holder = {
        let p = p.clone();
        tokio::spawn(async move {
            let mut started_tx = Some(started_tx);
            let mut released = Some(released);
            p.run(|_| {
                let started_tx = started_tx.take();
                let released = released.take();
                async move {
                    if let Some(tx) = started_tx {
                        tx.send(()).unwrap();
                    }
                    if let Some(rx) = released {
                        rx.await.unwrap();
                    }
                    Ok::<_, Error>(())
                }
            })
            .await
        })
    };
    started.await.unwrap();
    let err = p.run(|_| async { Ok::<_, Error>(()) }).await.unwrap_err();
    assert!(err.is(ErrorCode::BULKHEAD_FULL), "{err}");
    assert_eq!(stage(&err), Some("bulkhead"));
    release.send(()).unwrap();
    holder.await.unwrap().unwrap();
    p.run(|_| async { Ok::<_, Error>(()) }).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn open_breaker_refuses_without_running_the_call() {
    let p = quiet("cb")
        .circuit_breaker(small_breaker())
        .build()
        .unwrap();
    p.breaker().unwrap().force_open();
    let calls = AtomicU32::new(0);
    let err = p
        .run(|_| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<_, Error>(())
        })
        .await
        .unwrap_err();
    assert!(err.code().category() == foundation_core::Category::Protect && err.code().kind() == 1);
    assert_eq!(stage(&err), Some("circuit_breaker"));
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn timeout_cancels_a_hung_attempt_and_names_the_stage() {
    let p = quiet("slow")
        .timeout(TimeoutConfig {
            duration: Duration::from_millis(50),
        })
        .build()
        .unwrap();
    let err = p
        .run(|ctx| async move {
            assert_eq!(ctx.timeout(), Some(Duration::from_millis(50)));
            std::future::pending::<()>().await;
            Ok::<_, Error>(())
        })
        .await
        .unwrap_err();
    assert!(err.is(ErrorCode::TIMEOUT), "{err}");
    assert_eq!(stage(&err), Some("timeout"));
}

#[tokio::test(start_paused = true)]
async fn the_calls_own_error_is_returned_untagged() {
    let p = quiet("plain")
        .circuit_breaker(small_breaker())
        .build()
        .unwrap();
    let err = p
        .run(|_| async { Err::<(), _>(Error::new(ErrorCode::APPLICATION, "bad request")) })
        .await
        .unwrap_err();
    assert!(err.is(ErrorCode::APPLICATION));
    assert_eq!(stage(&err), None);
}

#[tokio::test(start_paused = true)]
async fn retries_recover_a_transient_failure_and_each_attempt_is_recorded() {
    let p = quiet("flaky")
        .circuit_breaker(BreakerConfig {
            window: WindowConfig::Count { size: 100 },
            minimum_calls: 100,
            ..small_breaker()
        })
        .retry(quick_retry(3))
        .timeout(TimeoutConfig {
            duration: Duration::from_secs(1),
        })
        .build()
        .unwrap();
    let value = p
        .run(|ctx| async move {
            if ctx.attempt() < 3 {
                Err(Error::new(ErrorCode::NETWORK, "reset"))
            } else {
                Ok(ctx.attempt())
            }
        })
        .await
        .unwrap();
    assert_eq!(value, 3);
    let status = p.breaker().unwrap().status();
    assert_eq!(status.window.calls(), 3, "{status:?}");
    assert_eq!(status.window.network, 2);
}

#[tokio::test(start_paused = true)]
async fn retry_stops_at_once_when_the_breaker_opens() {
    let p = quiet("down")
        .circuit_breaker(small_breaker())
        .retry(quick_retry(10))
        .build()
        .unwrap();
    let calls = AtomicU32::new(0);
    let err = p
        .run(|_| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(Error::new(ErrorCode::NETWORK, "refused"))
        })
        .await
        .unwrap_err();
    // Four failures fill the window and trip the breaker; the fifth attempt is refused.
    assert!(err.is(ErrorCode::CIRCUIT_OPEN), "{err}");
    assert_eq!(stage(&err), Some("circuit_breaker"));
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    assert_eq!(p.breaker().unwrap().state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn exhausted_retries_name_the_retry_stage() {
    let p = quiet("exhaust").retry(quick_retry(2)).build().unwrap();
    let err = p
        .run(|_| async { Err::<(), _>(Error::new(ErrorCode::NETWORK, "refused")) })
        .await
        .unwrap_err();
    assert!(err.is(ErrorCode::RETRY_EXHAUSTED), "{err}");
    assert_eq!(stage(&err), Some("retry"));
}

#[tokio::test(start_paused = true)]
async fn fallback_answers_when_refused() {
    let p = quiet("fb")
        .circuit_breaker(small_breaker())
        .build()
        .unwrap();
    p.breaker().unwrap().force_open();
    let v = p
        .run_or_else(
            |_| async { Ok::<_, Error>("live") },
            |err| {
                assert_eq!(err.context_value("stage"), Some("circuit_breaker"));
                Ok("cached")
            },
        )
        .await
        .unwrap();
    assert_eq!(v, "cached");
}

#[tokio::test(start_paused = true)]
async fn per_caller_counts_show_who_is_failing() {
    let p = quiet("agents")
        .circuit_breaker(BreakerConfig {
            window: WindowConfig::Count { size: 100 },
            minimum_calls: 100,
            ..small_breaker()
        })
        .build()
        .unwrap();
    for _ in 0..3 {
        let _ = p
            .run_for("agent-bad", |ctx| async move {
                assert_eq!(ctx.caller(), Some("agent-bad"));
                Err::<(), _>(Error::new(ErrorCode::NETWORK, "x"))
            })
            .await;
    }
    p.run_for("agent-good", |_| async { Ok::<_, Error>(()) })
        .await
        .unwrap();
    let status = p.breaker().unwrap().status();
    let bad = status
        .callers
        .iter()
        .find(|c| c.caller == "agent-bad")
        .unwrap();
    let good = status
        .callers
        .iter()
        .find(|c| c.caller == "agent-good")
        .unwrap();
    assert_eq!(bad.failures(), 3);
    assert_eq!(good.failures(), 0);
}

#[tokio::test(start_paused = true)]
async fn invalid_stage_configs_are_refused_naming_every_field() {
    let err = quiet("bad")
        .circuit_breaker(BreakerConfig {
            failure_rate_threshold: 150.0,
            ..BreakerConfig::default()
        })
        .bulkhead(BulkheadConfig {
            max_concurrent: 0,
            ..BulkheadConfig::default()
        })
        .build()
        .unwrap_err();
    assert!(err.is(ErrorCode::INVALID_CONFIG));
    let fields: Vec<&str> = err.context_values("field").collect();
    assert!(
        fields.contains(&"protection.bad.circuit_breaker.failure_rate_threshold"),
        "{fields:?}"
    );
    assert!(
        fields.contains(&"protection.bad.bulkhead.max_concurrent"),
        "{fields:?}"
    );

    let err = quiet("  ").build().unwrap_err();
    assert_eq!(err.context_value("field"), Some("protection.name"));
}

const TOML: &str = r#"
[protection.payments]
timeout = { duration_ms = 2000 }

[protection.payments.circuit_breaker]
failure_rate_threshold = 40.0
minimum_calls = 5

[protection.payments.retry]
max_attempts = 3

[protection.search.rate_limit]
algorithm = "token_bucket"
rate = 10
burst = 10
"#;

#[tokio::test(start_paused = true)]
async fn registry_builds_named_protections_from_toml() {
    let registry = ProtectionRegistry::from_toml(TOML).unwrap();
    assert_eq!(registry.names().collect::<Vec<_>>(), ["payments", "search"]);
    let payments = registry.get("payments").unwrap();
    assert_eq!(payments.breaker().unwrap().config().minimum_calls, 5);
    assert!(registry.get("search").unwrap().limiter().is_some());
    let err = registry.get("nope").unwrap_err();
    assert!(err.is(ErrorCode::NOT_FOUND));
}

#[test]
fn registry_refuses_bad_toml_naming_the_problem() {
    let malformed = ProtectionRegistry::from_toml("[protection.x\nretry = ").unwrap_err();
    assert!(malformed.is(ErrorCode::INVALID_CONFIG), "{malformed}");

    let unknown_stage =
        ProtectionRegistry::from_toml("[protection.x.cache]\nsize = 1").unwrap_err();
    assert!(unknown_stage.message().contains("cache"), "{unknown_stage}");

    let unknown_algorithm =
        ProtectionRegistry::from_toml("[protection.x.rate_limit]\nalgorithm = \"magic\"")
            .unwrap_err();
    assert!(
        unknown_algorithm.message().contains("magic"),
        "{unknown_algorithm}"
    );

    let out_of_range = ProtectionRegistry::from_toml(
        "[protection.x.circuit_breaker]\nfailure_rate_threshold = -1.0",
    )
    .unwrap_err();
    assert_eq!(
        out_of_range.context_value("field"),
        Some("protection.x.circuit_breaker.failure_rate_threshold")
    );

    let negative =
        ProtectionRegistry::from_toml("[protection.x.timeout]\nduration_ms = -5").unwrap_err();
    assert!(negative.is(ErrorCode::INVALID_CONFIG), "{negative}");

    let empty_name =
        ProtectionRegistry::from_toml("[protection.\"\".retry]\nmax_attempts = 2").unwrap_err();
    assert!(empty_name.is(ErrorCode::INVALID_CONFIG), "{empty_name}");
}

#[tokio::test(start_paused = true)]
async fn tower_layer_runs_requests_through_the_protection() {
    use tower::{Service, ServiceBuilder, ServiceExt};

    let p = quiet("tower").retry(quick_retry(3)).build().unwrap();
    let attempts = Arc::new(AtomicU32::new(0));
    let seen = attempts.clone();
    let mut svc = ServiceBuilder::new()
        .layer(ProtectionLayer::new(p))
        .service(tower::service_fn(move |req: u32| {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    Err(Error::new(ErrorCode::NETWORK, "first attempt fails"))
                } else {
                    Ok(req * 2)
                }
            }
        }));
    let out = svc.ready().await.unwrap().call(21).await.unwrap();
    assert_eq!(out, 42);
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
}

struct Counter(AtomicU32);

impl foundation_protect::pool::Manager for Counter {
    type Connection = u32;
    async fn create(&self) -> Result<u32, Error> {
        Ok(self.0.fetch_add(1, Ordering::SeqCst))
    }
}

#[tokio::test(start_paused = true)]
async fn pooled_protection_checks_out_a_connection_per_attempt() {
    use foundation_protect::pool::{Pool, PoolConfig};

    let pool = Pool::builder(Counter(AtomicU32::new(0)))
        .name("db")
        .bus(TelemetryBus::new())
        .config(PoolConfig {
            max_size: 1,
            max_overflow: 0,
            min_idle: 0,
            checkout_timeout: Duration::from_millis(100),
            ..PoolConfig::default()
        })
        .build()
        .unwrap();
    let p = quiet("db")
        .retry(quick_retry(3))
        .build()
        .unwrap()
        .with_pool(pool.clone())
        .unwrap();
    let got = p
        .run(|conn, ctx| async move {
            if ctx.attempt() == 1 {
                // A broken connection: detach it so the pool makes a new one.
                conn.discard();
                Err(Error::new(ErrorCode::NETWORK, "connection reset"))
            } else {
                Ok(*conn)
            }
        })
        .await
        .unwrap();
    assert_eq!(got, 1, "the retry got a fresh connection");
    assert_eq!(pool.status().in_use, 0);

    // Holding the only connection makes the next checkout time out, named as the pool stage.
    let no_retry = quiet("db")
        .build()
        .unwrap()
        .with_pool(pool.clone())
        .unwrap();
    let held = pool.get().await.unwrap();
    let err = no_retry
        .run(|conn, _| async move { Ok(*conn) })
        .await
        .unwrap_err();
    assert!(err.is(ErrorCode::POOL_TIMEOUT), "{err}");
    assert_eq!(stage(&err), Some("pool"));
    drop(held);
    assert_eq!(
        no_retry
            .run(|conn, _| async move { Ok(*conn) })
            .await
            .unwrap(),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn the_protections_classifier_decides_what_the_breaker_counts() {
    use foundation_protect::outcome::{FnClassifier, Outcome};

    // HTTP 404s are the caller's problem, not the dependency's: never count them.
    let classifier = FnClassifier(|e: &Error| {
        if e.message().contains("404") {
            Outcome::Ignored
        } else {
            Outcome::Application
        }
    });
    let p = quiet("lookups")
        .classifier(Arc::new(classifier))
        .circuit_breaker(small_breaker())
        .build()
        .unwrap();
    for _ in 0..20 {
        let err = p
            .run(|_| async { Err::<(), _>(Error::new(ErrorCode::APPLICATION, "HTTP 404")) })
            .await
            .unwrap_err();
        assert!(err.is(ErrorCode::APPLICATION));
    }
    assert_eq!(p.breaker().unwrap().state(), BreakerState::Closed);
    for _ in 0..4 {
        let _ = p
            .run(|_| async { Err::<(), _>(Error::new(ErrorCode::APPLICATION, "HTTP 500")) })
            .await;
    }
    assert_eq!(p.breaker().unwrap().state(), BreakerState::Open);
}

/// One attempt would take two permits from a breaker shared by the facade and its pool (the
/// attempt's and the pool's create); in half-open with one probe the create is always
/// refused and the breaker could never close. The pairing is refused up front.
#[tokio::test(start_paused = true)]
async fn a_pool_guarded_by_the_protections_own_breaker_is_refused() {
    use foundation_protect::pool::Pool;

    let protection = quiet("db")
        .circuit_breaker(small_breaker())
        .build()
        .unwrap();
    let shared = protection.breaker().unwrap().clone();
    let pool = Pool::builder(Counter(AtomicU32::new(0)))
        .name("db")
        .bus(TelemetryBus::new())
        .breaker(shared)
        .build()
        .unwrap();
    let err = protection.clone().with_pool(pool).unwrap_err();
    assert!(err.is(ErrorCode::INVALID_CONFIG), "{err}");
    assert_eq!(
        err.context_value("field"),
        Some("protection.db.pool.breaker")
    );

    let own = foundation_protect::breaker::CircuitBreaker::new("db-pool", small_breaker()).unwrap();
    let pool = Pool::builder(Counter(AtomicU32::new(0)))
        .name("db")
        .bus(TelemetryBus::new())
        .breaker(own)
        .build()
        .unwrap();
    let p = protection.with_pool(pool).unwrap();
    assert_eq!(p.run(|conn, _| async move { Ok(*conn) }).await.unwrap(), 0);
}
