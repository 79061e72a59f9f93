//! [`KeyedRateLimiter`]: one quota per key, with bounded memory.
//!
//! Keys live in `2^k` shards (hashbrown tables behind `parking_lot` read-write locks; a
//! known key costs one hash, a shared read lock and the algorithm's CAS). Each shard holds
//! at most `max_keys / shards` keys. When a new key finds its shard full, the shard is swept
//! (amortised, on insert; no background task): every key whose state is back to "full"
//! (bucket refilled, window expired) is forgotten, which changes nothing for that key. If
//! the shard is still full, the new key is refused with `RATE_LIMITED` (context
//! `reason=max_keys`) and a `retry_after` of when the next key becomes idle: memory stays
//! bounded and no tracked key loses its state. [`KeyedRateLimiter::sweep`] sweeps every
//! shard on demand.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash, RandomState};
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use foundation_core::{Clock, Error, TelemetryBus, Validate, Validator};
use hashbrown::HashTable;
use parking_lot::RwLock;

use super::algorithm::{Decision, Reservation, State};
use super::config::{Algorithm, LimiterConfig, Quota};
use super::engine::{Engine, resolve_quota};
use super::params::{Params, Snapshot};
use super::status::LimiterStatus;

const MAX_SHARD_BITS: u32 = 5;

/// A rate limiter keeping one quota per key `K` (user id, IP, tenant...). Cheap to clone;
/// clones share state.
pub struct KeyedRateLimiter<K> {
    inner: Arc<Inner<K>>,
}

impl<K> Clone for KeyedRateLimiter<K> {
    fn clone(&self) -> Self {
        KeyedRateLimiter {
            inner: self.inner.clone(),
        }
    }
}

impl<K> std::fmt::Debug for KeyedRateLimiter<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedRateLimiter")
            .field("name", &&*self.inner.engine.name)
            .field("algorithm", &self.inner.engine.algorithm)
            .field("quota", &self.inner.engine.params.quota())
            .finish()
    }
}

struct Inner<K> {
    engine: Engine,
    config: LimiterConfig,
    hasher: RandomState,
    shards: Box<[Shard<K>]>,
    shard_bits: u32,
    shard_capacity: usize,
}

struct Shard<K> {
    table: RwLock<HashTable<(K, State)>>,
    /// No sweep can free anything before this instant (ns).
    sweep_after: AtomicU64,
}

/// Builds a [`KeyedRateLimiter`] (see [`KeyedRateLimiter::builder`]).
#[derive(Debug, Clone)]
pub struct KeyedRateLimiterBuilder<K> {
    name: String,
    config: LimiterConfig,
    quota_exact: Option<Quota>,
    clock: Clock,
    bus: Option<TelemetryBus>,
    key: PhantomData<fn() -> K>,
}

impl<K> KeyedRateLimiterBuilder<K> {
    /// The limiter's name, used in errors, events and the registry.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The whole configuration (`max_keys` bounds the keys kept).
    pub fn config(mut self, config: LimiterConfig) -> Self {
        self.config = config;
        self
    }

    /// The algorithm (overrides the config's).
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.config.algorithm = algorithm;
        self
    }

    /// The quota of each key (overrides the config's rate, period and burst).
    pub fn quota(mut self, quota: Quota) -> Self {
        self.quota_exact = Some(quota);
        self
    }

    /// The most keys kept (overrides the config's `max_keys`).
    pub fn max_keys(mut self, max_keys: usize) -> Self {
        self.config.max_keys = max_keys;
        self
    }

    /// The clock (default: tokio's). In production `Clock::fast()` makes `check` cheaper
    /// (the clock read is a large part of it).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The telemetry bus (default: the global bus).
    pub fn bus(mut self, bus: TelemetryBus) -> Self {
        self.bus = Some(bus);
        self
    }

    /// Validates and builds.
    pub fn build(self) -> Result<KeyedRateLimiter<K>, Error> {
        let quota = resolve_quota(&self.name, &self.config, self.quota_exact)?;
        let max_keys = self.config.max_keys;
        // Largest power of two ≤ min(max_keys, 32) shards, each with an equal share.
        let shard_bits = (usize::BITS - 1 - max_keys.max(1).leading_zeros()).min(MAX_SHARD_BITS);
        let shard_count = 1usize << shard_bits;
        let shards = (0..shard_count)
            .map(|_| Shard {
                table: RwLock::new(HashTable::new()),
                sweep_after: AtomicU64::new(0),
            })
            .collect();
        Ok(KeyedRateLimiter {
            inner: Arc::new(Inner {
                engine: Engine::new(
                    Arc::from(self.name.as_str()),
                    self.config.algorithm,
                    Params::new(quota),
                    self.clock,
                    self.bus.unwrap_or_else(|| TelemetryBus::global().clone()),
                ),
                config: self.config,
                hasher: RandomState::new(),
                shards,
                shard_bits,
                shard_capacity: max_keys / shard_count,
            }),
        })
    }
}

impl<K> KeyedRateLimiter<K> {
    /// A builder with the default config, the name `"default"`, tokio's clock and the
    /// global bus.
    pub fn builder() -> KeyedRateLimiterBuilder<K> {
        KeyedRateLimiterBuilder {
            name: "default".into(),
            config: LimiterConfig::default(),
            quota_exact: None,
            clock: Clock::tokio(),
            bus: None,
            key: PhantomData,
        }
    }

    /// The limiter's name.
    pub fn name(&self) -> &str {
        &self.inner.engine.name
    }

    /// The algorithm it runs.
    pub fn algorithm(&self) -> Algorithm {
        self.inner.engine.algorithm
    }

    /// The quota each key gets.
    pub fn quota(&self) -> Quota {
        self.inner.engine.params.quota()
    }

    /// The config it was built from.
    pub fn config(&self) -> &LimiterConfig {
        &self.inner.config
    }

    /// The most keys it keeps state for (`max_keys` rounded down to a multiple of the
    /// shard count).
    pub fn max_keys(&self) -> usize {
        self.inner.shard_capacity * self.inner.shards.len()
    }

    /// Keys holding state now.
    pub fn len(&self) -> usize {
        self.inner.shards.iter().map(|s| s.table.read().len()).sum()
    }

    /// Whether no key holds state.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Replaces every key's quota without losing any key's state.
    pub fn set_quota(&self, quota: Quota) -> Result<(), Error> {
        let mut v = Validator::new("quota");
        quota.validate_into(&mut v);
        v.finish()?;
        self.inner.engine.params.set(quota);
        // Keys may be idle sooner under the new quota: the next sweeps must look again.
        for shard in self.inner.shards.iter() {
            shard.sweep_after.store(0, Ordering::Release);
        }
        Ok(())
    }

    /// A snapshot: quota, capacity of a fresh key, counters, keys held.
    pub fn status(&self) -> LimiterStatus {
        let engine = &self.inner.engine;
        let p = engine.params.load();
        LimiterStatus::new(engine, p.capacity(engine.algorithm), Some(self.len()))
    }
}

impl<K: Hash + Eq> KeyedRateLimiter<K> {
    /// Forgets every key whose state is back to full; returns how many were removed.
    pub fn sweep(&self) -> usize {
        let inner = &*self.inner;
        let p = inner.engine.params.load();
        let now = inner.engine.now();
        inner
            .shards
            .iter()
            .map(|shard| {
                sweep(
                    shard,
                    &mut shard.table.write(),
                    now,
                    &p,
                    true,
                    &inner.hasher,
                )
            })
            .sum()
    }

    /// Takes one permit for `key` now, or refuses with `RATE_LIMITED` and a `retry_after`.
    #[inline]
    pub fn check<Q>(&self, key: &Q) -> Result<(), Error>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + std::fmt::Display + ?Sized,
    {
        self.check_n(key, 1)
    }

    /// Takes `n` permits for `key` now (all or none). A key seen for the first time is
    /// stored (the only allocation); known keys are decided without allocating.
    pub fn check_n<Q>(&self, key: &Q, n: u32) -> Result<(), Error>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + std::fmt::Display + ?Sized,
    {
        if n == 0 {
            return Ok(());
        }
        let engine = &self.inner.engine;
        let p = engine.params.load();
        let permits = u64::from(n);
        if permits > p.capacity(engine.algorithm) {
            return Err(engine.exceeds(permits, &p).with_context("key", key));
        }
        let now = engine.now();
        let decision = self.with_state(key, now, &p, |state| state.decide(now, permits, &p))?;
        match decision {
            Decision::Admit => {
                engine.counters.admitted(permits);
                Ok(())
            }
            Decision::Deny(wait) => {
                Err(engine.denied(now, permits, wait, &p, || Some(key.to_string())))
            }
        }
    }

    /// Waits until `n` permits for `key` are admitted. Unlike [`RateLimiter`](super::RateLimiter)
    /// there is no shared line across keys: each waiter sleeps until its key's `retry_after`
    /// and tries again, so one busy key never holds up another. With the leaky bucket, a call
    /// dropped while it sleeps until its reserved slot hands the slot back if nobody queued
    /// after it.
    pub async fn acquire_n<Q>(&self, key: &Q, n: u32) -> Result<(), Error>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + std::fmt::Display + ?Sized,
    {
        if n == 0 {
            return Ok(());
        }
        let engine = &self.inner.engine;
        loop {
            let p = engine.params.load();
            let permits = u64::from(n);
            if permits > p.capacity(engine.algorithm) {
                return Err(engine.exceeds(permits, &p).with_context("key", key));
            }
            let now = engine.now();
            let reservation = match self.with_state(key, now, &p, |s| s.reserve(now, permits, &p)) {
                Ok(r) => r,
                Err(e) => Reservation::Full(e.retry_after().map_or(1, |d| d.as_nanos() as u64)),
            };
            match reservation {
                Reservation::At(wait) => {
                    engine.counters.admitted(permits);
                    if wait > 0 {
                        let work = permits.saturating_mul(p.emission_ns);
                        let place = Place {
                            limiter: self,
                            key,
                            end: now.saturating_add(wait).saturating_add(work),
                            work,
                        };
                        tokio::time::sleep(Duration::from_nanos(wait)).await;
                        std::mem::forget(place);
                    }
                    return Ok(());
                }
                Reservation::Full(retry) => {
                    tokio::time::sleep(Duration::from_nanos(retry.max(1))).await
                }
            }
        }
    }

    /// Runs `f` on `key`'s state, creating it (full) if the key is new and there is room.
    #[inline]
    fn with_state<Q, R>(
        &self,
        key: &Q,
        now: u64,
        p: &Snapshot,
        f: impl Fn(&State) -> R,
    ) -> Result<R, Error>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + std::fmt::Display + ?Sized,
    {
        let inner = &*self.inner;
        let hash = inner.hasher.hash_one(key);
        let shard = &inner.shards[shard_index(hash, inner.shard_bits)];
        if let Some((_, state)) = shard.table.read().find(hash, |(k, _)| k.borrow() == key) {
            return Ok(f(state));
        }
        let mut table = shard.table.write();
        if let Some((_, state)) = table.find(hash, |(k, _)| k.borrow() == key) {
            return Ok(f(state));
        }
        if table.len() >= inner.shard_capacity {
            sweep(shard, &mut table, now, p, false, &inner.hasher);
        }
        if table.len() >= inner.shard_capacity {
            let wait = shard
                .sweep_after
                .load(Ordering::Acquire)
                .saturating_sub(now);
            // The refusal formats the key (the caller's `Display`): never under the lock.
            drop(table);
            return Err(self.full(now, wait, p, key));
        }
        let state = State::new(inner.engine.algorithm, now, p);
        let result = f(&state);
        shard
            .sweep_after
            .fetch_min(state.idle_at(p), Ordering::AcqRel);
        table.insert_unique(hash, (key.to_owned(), state), |(k, _)| {
            inner.hasher.hash_one(k)
        });
        Ok(result)
    }

    #[cold]
    fn full<Q: std::fmt::Display + ?Sized>(
        &self,
        now: u64,
        wait: u64,
        p: &Snapshot,
        key: &Q,
    ) -> Error {
        let engine = &self.inner.engine;
        engine
            .denied(now, 1, wait.max(1), p, || Some(key.to_string()))
            .with_context("reason", "max_keys")
    }
}

/// A reserved place in a key's leaky-bucket queue, waited for. Dropped before its time (the
/// caller gave up), it is handed back if nobody queued after it on that key.
struct Place<'a, K: Hash + Eq + Borrow<Q>, Q: Hash + Eq + ?Sized> {
    limiter: &'a KeyedRateLimiter<K>,
    key: &'a Q,
    end: u64,
    work: u64,
}

impl<K, Q> Drop for Place<'_, K, Q>
where
    K: Hash + Eq + Borrow<Q>,
    Q: Hash + Eq + ?Sized,
{
    fn drop(&mut self) {
        let inner = &*self.limiter.inner;
        let hash = inner.hasher.hash_one(self.key);
        let shard = &inner.shards[shard_index(hash, inner.shard_bits)];
        // The key is still there: it is not idle before its queue drains.
        if let Some((_, state)) = shard
            .table
            .read()
            .find(hash, |(k, _)| k.borrow() == self.key)
        {
            state.cancel(self.end, self.work);
        }
    }
}

#[inline]
fn shard_index(hash: u64, bits: u32) -> usize {
    if bits == 0 {
        0
    } else {
        (hash >> (64 - bits)) as usize
    }
}

/// Removes the idle keys of one shard and records when the next one becomes idle. Unless
/// `force`d, does nothing before that instant (nothing could be freed).
fn sweep<K: Hash>(
    shard: &Shard<K>,
    table: &mut HashTable<(K, State)>,
    now: u64,
    p: &Snapshot,
    force: bool,
    hasher: &RandomState,
) -> usize {
    if !force && now < shard.sweep_after.load(Ordering::Acquire) {
        return 0;
    }
    let before = table.len();
    let mut next_idle = u64::MAX;
    table.retain(|(_, state)| {
        let idle_at = state.idle_at(p);
        if idle_at <= now {
            false
        } else {
            next_idle = next_idle.min(idle_at);
            true
        }
    });
    if table.capacity() > 64 && table.len() < table.capacity() / 4 {
        table.shrink_to_fit(|(k, _)| hasher.hash_one(k));
    }
    shard.sweep_after.store(next_idle, Ordering::Release);
    before - table.len()
}
