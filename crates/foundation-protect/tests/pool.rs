//! Behaviour of the connection pool, on paused tokio time (and one multi-thread stress test).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use foundation_core::{Error, ErrorCode, TelemetryBus};
use foundation_protect::pool::{
    ConnectionFailed, ConnectionReplaced, Manager, Pool, PoolConfig, PoolExhausted, QueueOrder,
    RecyclePolicy, ReplaceReason,
};
use parking_lot::Mutex;

#[derive(Debug, Default)]
struct Stats {
    next_id: AtomicU64,
    live: AtomicUsize,
    max_live: AtomicUsize,
    recycled: AtomicUsize,
    fail_create: AtomicBool,
    fail_recycle: AtomicBool,
    hang_create: AtomicBool,
    hang_recycle: AtomicBool,
    broken: Mutex<HashSet<u64>>,
}

#[derive(Debug)]
struct Conn {
    id: u64,
    stats: Arc<Stats>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.stats.live.fetch_sub(1, SeqCst);
    }
}

#[derive(Clone, Default)]
struct TestManager(Arc<Stats>);

impl TestManager {
    fn stats(&self) -> &Stats {
        &self.0
    }
    fn break_conn(&self, id: u64) {
        self.0.broken.lock().insert(id);
    }
}

impl Manager for TestManager {
    type Connection = Conn;

    async fn create(&self) -> Result<Conn, Error> {
        let s = &self.0;
        if s.fail_create.load(SeqCst) {
            return Err(Error::new(ErrorCode::NETWORK, "connection refused"));
        }
        if s.hang_create.load(SeqCst) {
            std::future::pending::<()>().await; // a black-holed backend
        }
        let live = s.live.fetch_add(1, SeqCst) + 1;
        s.max_live.fetch_max(live, SeqCst);
        Ok(Conn {
            id: s.next_id.fetch_add(1, SeqCst) + 1,
            stats: self.0.clone(),
        })
    }

    async fn recycle(&self, conn: &mut Conn) -> Result<(), Error> {
        self.0.recycled.fetch_add(1, SeqCst);
        if self.0.hang_recycle.load(SeqCst) {
            std::future::pending::<()>().await;
        }
        if self.0.fail_recycle.load(SeqCst) {
            return Err(Error::new(ErrorCode::NETWORK, "ping failed"));
        }
        let _ = conn.id;
        Ok(())
    }

    fn is_broken(&self, conn: &mut Conn) -> bool {
        self.0.broken.lock().contains(&conn.id)
    }
}

fn cfg(max_size: usize) -> PoolConfig {
    PoolConfig {
        max_size,
        checkout_timeout: Duration::from_secs(1),
        maintenance_interval: Duration::from_secs(1),
        max_lifetime: None,
        idle_timeout: None,
        ..PoolConfig::default()
    }
}

fn build(config: PoolConfig) -> (Pool<TestManager>, TelemetryBus) {
    let bus = TelemetryBus::new();
    let pool = Pool::builder(TestManager::default())
        .name("db")
        .config(config)
        .bus(bus.clone())
        .build()
        .unwrap();
    (pool, bus)
}

/// Lets spawned tasks run until `done` holds (bounded, so a bug fails instead of hanging).
async fn until(mut done: impl FnMut() -> bool) {
    for _ in 0..10_000 {
        if done() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("condition never became true");
}

#[tokio::test(start_paused = true)]
async fn checkout_and_return_reuses_the_connection() {
    let (pool, _) = build(cfg(2));
    let conn = pool.get().await.unwrap();
    assert_eq!(conn.id, 1);
    let s = pool.status();
    assert_eq!((s.size, s.idle, s.in_use), (1, 0, 1));
    drop(conn);
    let s = pool.status();
    assert_eq!((s.size, s.idle, s.in_use), (1, 1, 0));
    assert_eq!(pool.get().await.unwrap().id, 1);
    assert_eq!(pool.status().created, 1);
    let metrics = tokio::runtime::Handle::current().metrics();
    assert_eq!(
        metrics.num_alive_tasks(),
        1,
        "only the maintenance task: returns spawn nothing"
    );
}

#[tokio::test(start_paused = true)]
async fn lifo_takes_the_most_recent_and_fifo_the_oldest() {
    for (order, expected) in [(QueueOrder::Lifo, 3), (QueueOrder::Fifo, 1)] {
        let (pool, _) = build(PoolConfig { order, ..cfg(3) });
        let held = [
            pool.get().await.unwrap(),
            pool.get().await.unwrap(),
            pool.get().await.unwrap(),
        ];
        drop(held); // returned in order 1, 2, 3
        assert_eq!(pool.get().await.unwrap().id, expected, "{order:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn overflow_connections_are_closed_when_returned() {
    let (pool, _) = build(PoolConfig {
        max_overflow: 2,
        ..cfg(2)
    });
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(pool.get().await.unwrap());
    }
    let s = pool.status();
    assert_eq!((s.size, s.overflow, s.in_use), (4, 2, 4));
    let err = pool.get().await.unwrap_err();
    assert!(err.is(ErrorCode::POOL_TIMEOUT), "{err}");
    drop(held);
    let s = pool.status();
    assert_eq!((s.size, s.idle, s.overflow, s.closed), (2, 2, 0, 2));
    assert_eq!(pool.manager().stats().live.load(SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn checkout_timeout_names_the_pool_and_publishes_exhausted() {
    let (pool, bus) = build(cfg(1));
    let mut events = bus.subscribe_prefix("foundation.pool.exhausted", 8);
    let _held = pool.get().await.unwrap();
    let started = tokio::time::Instant::now();
    let err = pool.get().await.unwrap_err();
    assert_eq!(started.elapsed(), Duration::from_secs(1));
    assert!(err.is(ErrorCode::POOL_TIMEOUT));
    assert_eq!(err.context_value("pool"), Some("db"));
    assert_eq!(err.context_value("waiters"), Some("0"));
    assert_eq!(err.context_value("size"), Some("1"));
    assert_eq!(pool.status().timeouts, 1);
    assert_eq!(pool.status().waiters, 0);
    let ev = events.try_recv().expect("exhausted event");
    let ev = ev.downcast_ref::<PoolExhausted>().unwrap();
    assert_eq!(
        (ev.pool.as_str(), ev.waited),
        ("db", Duration::from_secs(1))
    );
}

#[tokio::test(start_paused = true)]
async fn waiters_are_served_first_come_first_served() {
    let (pool, _) = build(PoolConfig {
        checkout_timeout: Duration::from_secs(60),
        ..cfg(1)
    });
    let held = pool.get().await.unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..5 {
        let (p, o) = (pool.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            let conn = p.get().await.unwrap();
            o.lock().push(i);
            tokio::time::sleep(Duration::from_millis(10)).await;
            drop(conn);
        }));
        until(|| pool.status().waiters == i + 1).await;
    }
    drop(held);
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(*order.lock(), vec![0, 1, 2, 3, 4]);
    assert_eq!(pool.status().created, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn never_more_than_max_size_plus_overflow_under_contention() {
    let (pool, _) = build(PoolConfig {
        max_overflow: 2,
        checkout_timeout: Duration::from_secs(600),
        ..cfg(4)
    });
    let in_use = Arc::new(AtomicUsize::new(0));
    let max_in_use = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let (p, in_use, max_in_use) = (pool.clone(), in_use.clone(), max_in_use.clone());
            tokio::spawn(async move {
                for i in 0..100 {
                    let conn = match p.try_get() {
                        Ok(conn) => conn,
                        Err(_) => p.get().await.unwrap(),
                    };
                    max_in_use.fetch_max(in_use.fetch_add(1, SeqCst) + 1, SeqCst);
                    tokio::task::yield_now().await;
                    in_use.fetch_sub(1, SeqCst);
                    if i % 7 == 0 {
                        conn.discard();
                    } else {
                        drop(conn);
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let stats = pool.manager().stats();
    assert!(
        stats.max_live.load(SeqCst) <= 6,
        "{}",
        stats.max_live.load(SeqCst)
    );
    assert!(max_in_use.load(SeqCst) <= 6);
    assert_eq!(pool.status().waiters, 0);
    // Stop the maintenance task (it may be replacing discarded connections), then the books
    // must balance: every connection the manager made was closed.
    pool.close().await;
    let s = pool.status();
    assert_eq!((s.size, s.idle, s.in_use), (0, 0, 0), "{s:?}");
    assert_eq!(stats.live.load(SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn broken_connection_returned_is_replaced_in_the_background() {
    let (pool, bus) = build(cfg(2));
    let mut events = bus.subscribe_prefix("foundation.pool.connection_replaced", 8);
    let conn = pool.get().await.unwrap();
    pool.manager().break_conn(conn.id);
    drop(conn);
    assert_eq!((pool.status().size, pool.status().closed), (0, 1));
    until(|| pool.status().idle == 1).await;
    assert_eq!(pool.status().replaced, 1);
    let ev = events.try_recv().expect("replaced event");
    assert_eq!(
        ev.downcast_ref::<ConnectionReplaced>().unwrap().reason,
        ReplaceReason::Broken
    );
    assert_eq!(pool.get().await.unwrap().id, 2);
}

#[tokio::test(start_paused = true)]
async fn broken_idle_connection_is_replaced_at_checkout() {
    let (pool, _) = build(cfg(2));
    drop(pool.get().await.unwrap());
    pool.manager().break_conn(1);
    let conn = pool.get().await.unwrap();
    assert_eq!(conn.id, 2);
    let s = pool.status();
    assert_eq!((s.size, s.replaced, s.closed), (1, 1, 1));
}

#[tokio::test(start_paused = true)]
async fn background_health_check_replaces_a_failing_idle_connection() {
    let (pool, _) = build(cfg(2));
    drop(pool.get().await.unwrap());
    pool.manager().stats().fail_recycle.store(true, SeqCst);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(pool.manager().stats().recycled.load(SeqCst) >= 1);
    let s = pool.status();
    assert_eq!((s.idle, s.replaced), (1, 1));
    pool.manager().stats().fail_recycle.store(false, SeqCst);
    assert_eq!(pool.get().await.unwrap().id, 2);
}

#[tokio::test(start_paused = true)]
async fn recycle_on_checkout_and_on_return() {
    let (pool, _) = build(PoolConfig {
        recycle: RecyclePolicy::OnCheckout,
        ..cfg(1)
    });
    drop(pool.get().await.unwrap()); // created: no recycle
    drop(pool.get().await.unwrap());
    drop(pool.get().await.unwrap());
    assert_eq!(pool.manager().stats().recycled.load(SeqCst), 2);

    let (pool, _) = build(PoolConfig {
        recycle: RecyclePolicy::OnReturn,
        maintenance_interval: Duration::from_secs(60),
        ..cfg(1)
    });
    drop(pool.get().await.unwrap());
    assert_eq!(pool.manager().stats().recycled.load(SeqCst), 0);
    drop(pool.get().await.unwrap()); // the deferred recycle runs at this checkout
    assert_eq!(pool.manager().stats().recycled.load(SeqCst), 1);
    tokio::time::sleep(Duration::from_secs(61)).await; // ...or in maintenance
    assert_eq!(pool.manager().stats().recycled.load(SeqCst), 2);
    drop(pool.get().await.unwrap());
    assert_eq!(pool.manager().stats().recycled.load(SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn idle_timeout_closes_surplus_idle_connections_down_to_min_idle() {
    let (pool, _) = build(PoolConfig {
        min_idle: 1,
        idle_timeout: Some(Duration::from_secs(10)),
        ..cfg(4)
    });
    let held = [
        pool.get().await.unwrap(),
        pool.get().await.unwrap(),
        pool.get().await.unwrap(),
    ];
    drop(held);
    assert_eq!(pool.status().idle, 3);
    tokio::time::sleep(Duration::from_secs(12)).await;
    let s = pool.status();
    assert_eq!((s.size, s.idle, s.closed), (1, 1, 2));
}

#[tokio::test(start_paused = true)]
async fn max_lifetime_retires_and_replaces_idle_and_returned_connections() {
    let (pool, bus) = build(PoolConfig {
        min_idle: 1,
        max_lifetime: Some(Duration::from_secs(60)),
        maintenance_interval: Duration::from_secs(10),
        ..cfg(2)
    });
    let mut events = bus.subscribe_prefix("foundation.pool.connection_replaced", 16);
    pool.fill().await.unwrap();
    let held = pool.get().await.unwrap(); // id 1; maintenance makes id 2 for min_idle
    until(|| pool.status().idle == 1).await;
    tokio::time::sleep(Duration::from_secs(61)).await;
    let closed = pool.status().closed;
    assert_eq!(closed, 1, "the idle connection (id 2) was retired");
    drop(held); // too old: closed, not kept
    assert_eq!(pool.status().closed, 2);
    tokio::time::sleep(Duration::from_secs(70)).await;
    let s = pool.status();
    assert_eq!((s.size, s.idle), (2, 2), "retired connections are replaced");
    assert!(s.replaced >= 2);
    let reasons: Vec<_> = events
        .drain()
        .iter()
        .map(|e| e.downcast_ref::<ConnectionReplaced>().unwrap().reason)
        .collect();
    assert!(
        reasons.iter().all(|r| *r == ReplaceReason::Expired),
        "{reasons:?}"
    );
    assert!(
        pool.get().await.unwrap().id >= 3,
        "an old connection came back"
    );
}

#[tokio::test(start_paused = true)]
async fn min_idle_is_kept_by_maintenance_and_by_fill() {
    let (pool, _) = build(PoolConfig {
        min_idle: 3,
        ..cfg(5)
    });
    until(|| pool.status().idle == 3).await;
    let (pool, _) = build(PoolConfig {
        min_idle: 2,
        ..cfg(5)
    });
    pool.fill().await.unwrap();
    assert_eq!(pool.status().idle, 2);
    let held = [pool.get().await.unwrap(), pool.get().await.unwrap()];
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(pool.status().idle, 2, "refilled while both are in use");
    drop(held);
    assert_eq!(pool.status().size, 4);
}

#[tokio::test(start_paused = true)]
async fn connect_failure_is_reported_with_the_managers_error() {
    let (pool, bus) = build(cfg(2));
    let mut events = bus.subscribe_prefix("foundation.pool.connection_failed", 8);
    pool.manager().stats().fail_create.store(true, SeqCst);
    let err = pool.get().await.unwrap_err();
    assert!(err.is(ErrorCode::POOL_CONNECT_FAILED), "{err}");
    let source = std::error::Error::source(&err)
        .and_then(|s| s.downcast_ref::<Error>())
        .unwrap();
    assert!(source.is(ErrorCode::NETWORK));
    assert!(err.message().contains("connection refused"));
    let s = pool.status();
    assert_eq!((s.size, s.connect_failures), (0, 1));
    let ev = events.try_recv().unwrap();
    assert!(
        ev.downcast_ref::<ConnectionFailed>()
            .unwrap()
            .error
            .contains("refused")
    );
}

#[tokio::test(start_paused = true)]
async fn close_refuses_waiters_and_later_checkouts() {
    let (pool, _) = build(PoolConfig {
        checkout_timeout: Duration::from_secs(60),
        ..cfg(1)
    });
    let held = pool.get().await.unwrap();
    let p = pool.clone();
    let waiter = tokio::spawn(async move { p.get().await.map(drop) });
    until(|| pool.status().waiters == 1).await;
    pool.close().await;
    assert!(
        waiter
            .await
            .unwrap()
            .unwrap_err()
            .is(ErrorCode::POOL_CLOSED)
    );
    assert!(pool.get().await.unwrap_err().is(ErrorCode::POOL_CLOSED));
    assert!(pool.try_get().unwrap_err().is(ErrorCode::POOL_CLOSED));
    drop(held);
    let s = pool.status();
    assert!(s.is_closed && !s.maintenance_running);
    assert_eq!((s.size, s.idle), (0, 0));
    assert_eq!(pool.manager().stats().live.load(SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn maintenance_task_stops_on_close_and_when_the_last_handle_drops() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let (pool, _) = build(cfg(1));
    assert!(pool.status().maintenance_running);
    assert_eq!(metrics.num_alive_tasks(), 1);
    pool.close().await;
    assert_eq!(metrics.num_alive_tasks(), 0);

    let (pool, _) = build(cfg(1));
    let clone = pool.clone();
    drop(pool);
    tokio::task::yield_now().await;
    assert_eq!(metrics.num_alive_tasks(), 1, "a clone still holds the pool");
    drop(clone);
    until(|| metrics.num_alive_tasks() == 0).await;
}

#[test]
fn built_outside_a_runtime_there_is_no_maintenance_task() {
    let (pool, _) = build(cfg(1));
    assert!(!pool.status().maintenance_running);
}

#[tokio::test(start_paused = true)]
async fn bad_config_and_empty_name_are_refused_by_field() {
    let err = Pool::builder(TestManager::default())
        .config(PoolConfig {
            max_size: 0,
            ..cfg(1)
        })
        .build()
        .unwrap_err();
    assert!(err.is(ErrorCode::INVALID_CONFIG));
    assert_eq!(err.context_value("field"), Some("max_size"));
    let err = Pool::builder(TestManager::default())
        .name(" ")
        .build()
        .unwrap_err();
    assert_eq!(err.context_value("field"), Some("name"));

    let (pool, _) = build(PoolConfig {
        min_idle: 2,
        ..cfg(4)
    });
    let err = pool.resize(1).unwrap_err();
    assert_eq!(err.context_value("field"), Some("min_idle"));
    assert_eq!(
        pool.config().max_size,
        4,
        "a refused config changes nothing"
    );
}

#[tokio::test(start_paused = true)]
async fn resize_gives_room_to_waiters_and_closes_surplus_idle() {
    let (pool, _) = build(PoolConfig {
        checkout_timeout: Duration::from_secs(60),
        ..cfg(1)
    });
    let held = pool.get().await.unwrap();
    let p = pool.clone();
    let waiter = tokio::spawn(async move { p.get().await.map(|c| c.id) });
    until(|| pool.status().waiters == 1).await;
    pool.resize(2).unwrap();
    assert_eq!(waiter.await.unwrap().unwrap(), 2);
    drop(held);
    assert_eq!(pool.status().idle, 2);
    pool.resize(1).unwrap();
    let s = pool.status();
    assert_eq!((s.size, s.idle, s.closed), (1, 1, 1));
}

#[tokio::test(start_paused = true)]
async fn cancelled_waiter_leaves_the_line_and_loses_nothing() {
    let (pool, _) = build(PoolConfig {
        checkout_timeout: Duration::from_secs(60),
        ..cfg(1)
    });
    let held = pool.get().await.unwrap();
    let p = pool.clone();
    let waiter = tokio::spawn(async move { p.get().await.map(drop) });
    until(|| pool.status().waiters == 1).await;
    waiter.abort();
    until(|| pool.status().waiters == 0).await;
    drop(held);
    let s = pool.status();
    assert_eq!((s.size, s.idle), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn try_get_detach_and_discard() {
    let (pool, _) = build(cfg(2));
    assert!(pool.try_get().unwrap_err().is(ErrorCode::POOL_TIMEOUT));
    drop(pool.get().await.unwrap());
    let conn = pool.try_get().unwrap();
    let raw = conn.detach();
    assert_eq!(raw.id, 1);
    assert_eq!(
        pool.status().size,
        0,
        "a detached connection leaves the pool"
    );
    drop(raw);
    let conn = pool.get().await.unwrap();
    conn.discard();
    assert_eq!(pool.status().closed, 1);
    until(|| pool.status().replaced == 1).await;
    assert_eq!(pool.status().idle, 1);
}

/// A create that never answers (a black-holed backend) must neither wedge the maintenance
/// task nor keep the slot it reserved: it is given up after `checkout_timeout`.
#[tokio::test(start_paused = true)]
async fn a_hung_create_in_maintenance_gives_its_slot_back() {
    let manager = TestManager::default();
    manager.stats().hang_create.store(true, SeqCst);
    let pool = Pool::builder(manager.clone())
        .name("db")
        .config(PoolConfig {
            min_idle: 1,
            ..cfg(1)
        })
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        pool.status().size,
        1,
        "the create under way holds the only slot"
    );
    manager.stats().hang_create.store(false, SeqCst);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let conn = pool.get().await.unwrap();
    assert_eq!(conn.id, 1);
    assert_eq!(pool.status().size, 1);
}

/// Likewise a background recycle that never answers: the connection is replaced and the
/// maintenance task goes on.
#[tokio::test(start_paused = true)]
async fn a_hung_background_recycle_is_given_up_and_replaced() {
    let (pool, _) = build(cfg(1));
    drop(pool.get().await.unwrap());
    pool.manager().stats().hang_recycle.store(true, SeqCst);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(pool.manager().stats().recycled.load(SeqCst), 1);
    pool.manager().stats().hang_recycle.store(false, SeqCst);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let conn = pool.get().await.unwrap();
    assert_eq!(conn.id, 2, "the hung connection was replaced");
    assert_eq!(pool.status().replaced, 1);
}
