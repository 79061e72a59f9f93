//! Property test: under any sequence of checkouts, returns, discards, detaches, resizes and
//! time passing, the pool's books balance and it never holds more than it may.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use foundation_core::{Error, ErrorCode, TelemetryBus};
use foundation_protect::pool::{Manager, Pool, PoolConfig, Pooled, QueueOrder};
use proptest::prelude::*;

/// Counts live connections (created minus dropped).
#[derive(Clone, Default)]
struct Counting(Arc<AtomicUsize>);

struct Tracked(Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_sub(1, SeqCst);
    }
}

impl Manager for Counting {
    type Connection = Tracked;
    async fn create(&self) -> Result<Tracked, Error> {
        self.0.fetch_add(1, SeqCst);
        Ok(Tracked(self.0.clone()))
    }
}

#[derive(Debug, Clone)]
enum Op {
    Get,
    TryGet,
    Return(usize),
    Discard(usize),
    Detach(usize),
    Resize(usize),
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Get),
        1 => Just(Op::TryGet),
        3 => any::<usize>().prop_map(Op::Return),
        1 => any::<usize>().prop_map(Op::Discard),
        1 => any::<usize>().prop_map(Op::Detach),
        1 => (1usize..6).prop_map(Op::Resize),
        1 => (0u64..5_000).prop_map(Op::Advance),
    ]
}

fn take(held: &mut Vec<Pooled<Counting>>, i: usize) -> Option<Pooled<Counting>> {
    (!held.is_empty()).then(|| held.swap_remove(i % held.len()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn books_balance_and_limits_hold(
        ops in proptest::collection::vec(op(), 1..40),
        max_overflow in 0usize..3,
        fifo in any::<bool>(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let manager = Counting::default();
            let live = manager.0.clone();
            let pool = Pool::builder(manager)
                .bus(TelemetryBus::new())
                .config(PoolConfig {
                    max_size: 3,
                    max_overflow,
                    min_idle: 1,
                    order: if fifo { QueueOrder::Fifo } else { QueueOrder::Lifo },
                    checkout_timeout: Duration::from_millis(100),
                    maintenance_interval: Duration::from_millis(700),
                    idle_timeout: Some(Duration::from_secs(2)),
                    max_lifetime: Some(Duration::from_secs(9)),
                    ..PoolConfig::default()
                })
                .build()
                .unwrap();
            let mut held = Vec::new();
            let mut detached = Vec::new();
            let mut prev_size = 0;
            for op in ops {
                match op {
                    Op::Get => match pool.get().await {
                        Ok(c) => held.push(c),
                        Err(e) => prop_assert!(e.is(ErrorCode::POOL_TIMEOUT), "{e}"),
                    },
                    Op::TryGet => {
                        if let Ok(c) = pool.try_get() {
                            held.push(c);
                        }
                    }
                    Op::Return(i) => drop(take(&mut held, i)),
                    Op::Discard(i) => {
                        if let Some(c) = take(&mut held, i) {
                            c.discard();
                        }
                    }
                    Op::Detach(i) => {
                        if let Some(c) = take(&mut held, i) {
                            detached.push(c.detach());
                        }
                    }
                    Op::Resize(n) => {
                        let _ = pool.resize(n);
                    }
                    Op::Advance(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
                }
                let s = pool.status();
                let cfg = pool.config();
                prop_assert_eq!(s.in_use, held.len(), "{:?}", s);
                prop_assert_eq!(s.size + detached.len(), live.load(SeqCst), "{:?}", s);
                prop_assert!(s.idle <= cfg.max_size, "{:?}", s);
                // It may sit above a shrunk limit until connections come back, but it never
                // grows beyond the limit.
                prop_assert!(s.size <= cfg.max_connections() || s.size <= prev_size, "{:?}", s);
                prop_assert_eq!(s.waiters, 0);
                prev_size = s.size;
            }
            drop(held);
            pool.close().await;
            prop_assert_eq!(live.load(SeqCst), detached.len());
            Ok(())
        })?;
    }
}
