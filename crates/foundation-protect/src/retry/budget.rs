//! [`RetryBudget`]: retries limited to a ratio of calls over a sliding window.
//!
//! Like Finagle's and tower's TTL budget: every call *deposits* one, every retry
//! *withdraws* one, and a retry is allowed while
//!
//! ```text
//! withdrawals (retries) in the window + 1 <= min_retries_per_sec × ttl + retry_ratio × deposits (calls) in the window
//! ```
//!
//! so when a dependency fails hard, retries add at most `retry_ratio` extra load (plus a small
//! floor so low-traffic callers can still retry) instead of multiplying it by `max_attempts`.
//!
//! The window is ten slots of `ttl / 10`; each slot is one atomic word holding its slot number
//! and its count, so deposits (one per call, on the happy path) are a single lock-free update.
//! A withdrawal increments first and rolls back if that overdraws, so concurrent retries never
//! exceed the budget (under contention one may be refused that a serial order would allow).
//! Share one budget between several retries with an `Arc`.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use foundation_core::{Clock, Error, Validate, Validator};
use serde::{Deserialize, Serialize};

use foundation_core::millis;

const SLOTS: usize = 10;

/// Configuration of a [`RetryBudget`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryBudgetConfig {
    /// How long a deposit (a call) counts towards the budget.
    #[serde(rename = "ttl_ms", with = "millis")]
    pub ttl: Duration,
    /// Retries per second always allowed, whatever the traffic (may be 0).
    pub min_retries_per_sec: u32,
    /// Retries allowed per call made, in `0..=1` (0.2: retries add at most 20 % load).
    pub retry_ratio: f64,
}

impl Default for RetryBudgetConfig {
    fn default() -> Self {
        RetryBudgetConfig {
            ttl: Duration::from_secs(10),
            min_retries_per_sec: 10,
            retry_ratio: 0.2,
        }
    }
}

impl Validate for RetryBudgetConfig {
    fn validate_into(&self, v: &mut Validator) {
        v.positive_duration("ttl_ms", self.ttl)
            .check(
                self.ttl.is_zero() || self.ttl >= Duration::from_millis(SLOTS as u64),
                "ttl_ms",
                format_args!("must be at least {SLOTS} ms"),
            )
            .range("retry_ratio", self.retry_ratio, 0.0, 1.0);
    }
}

/// A counter per window slot: the high 32 bits are the slot's epoch, the low 32 its count.
#[derive(Default)]
struct Slot(AtomicU64);

fn pack(epoch: u32, count: u32) -> u64 {
    (u64::from(epoch) << 32) | u64::from(count)
}

fn unpack(word: u64) -> (u32, u32) {
    ((word >> 32) as u32, word as u32)
}

impl Slot {
    /// Adds one for `epoch`, resetting the slot if it still holds an older epoch.
    fn increment(&self, epoch: u32) {
        let _ = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
                let (e, count) = unpack(word);
                Some(if e == epoch {
                    pack(e, count.saturating_add(1))
                } else {
                    pack(epoch, 1)
                })
            });
    }

    /// Takes back one added for `epoch`; a no-op if the slot has moved on.
    fn decrement(&self, epoch: u32) {
        let _ = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
                let (e, count) = unpack(word);
                (e == epoch && count > 0).then(|| pack(e, count - 1))
            });
    }

    /// The count if the slot's epoch lies within the window ending at `now`.
    fn live_count(&self, now: u32) -> u64 {
        let (e, count) = unpack(self.0.load(Ordering::Acquire));
        if now.wrapping_sub(e) < SLOTS as u32 {
            u64::from(count)
        } else {
            0
        }
    }
}

/// A retry budget shared by every [`Retry`](super::Retry) holding the same `Arc`.
pub struct RetryBudget {
    config: RetryBudgetConfig,
    reserve: f64,
    slot_nanos: u64,
    origin: Instant,
    clock: Clock,
    deposits: [Slot; SLOTS],
    withdrawals: [Slot; SLOTS],
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBudget")
            .field("config", &self.config)
            .field("calls", &self.calls())
            .field("retries", &self.retries())
            .finish()
    }
}

impl RetryBudget {
    /// A budget on tokio's clock.
    pub fn new(config: RetryBudgetConfig) -> Result<Arc<RetryBudget>, Error> {
        RetryBudget::with_clock(config, Clock::tokio())
    }

    /// A budget on the given clock.
    pub fn with_clock(config: RetryBudgetConfig, clock: Clock) -> Result<Arc<RetryBudget>, Error> {
        config.validate_at("retry.budget")?;
        let slot_nanos = u64::try_from(config.ttl.as_nanos() / SLOTS as u128)
            .unwrap_or(u64::MAX)
            .max(1);
        Ok(Arc::new(RetryBudget {
            reserve: f64::from(config.min_retries_per_sec) * config.ttl.as_secs_f64(),
            config,
            slot_nanos,
            origin: clock.now(),
            clock,
            deposits: Default::default(),
            withdrawals: Default::default(),
        }))
    }

    /// The configuration.
    pub fn config(&self) -> &RetryBudgetConfig {
        &self.config
    }

    fn epoch(&self) -> u32 {
        let elapsed = self.clock.now().saturating_duration_since(self.origin);
        // Epochs wrap after 2^32 slots; the window only compares nearby epochs.
        (elapsed.as_nanos() / u128::from(self.slot_nanos)) as u32
    }

    fn sum(slots: &[Slot; SLOTS], epoch: u32) -> u64 {
        slots.iter().map(|s| s.live_count(epoch)).sum()
    }

    /// Retries the window allows in all (a hair of slack absorbs float rounding).
    fn allowed(&self, epoch: u32) -> f64 {
        self.reserve + self.config.retry_ratio * Self::sum(&self.deposits, epoch) as f64 + 1e-9
    }

    /// Records one call (done by [`Retry::start`](super::Retry::start)).
    #[inline]
    pub fn deposit(&self) {
        let epoch = self.epoch();
        self.deposits[epoch as usize % SLOTS].increment(epoch);
    }

    /// Takes one retry from the budget; `false` if the budget is spent.
    pub fn try_withdraw(&self) -> bool {
        let epoch = self.epoch();
        let slot = &self.withdrawals[epoch as usize % SLOTS];
        slot.increment(epoch);
        let allowed = self.allowed(epoch);
        let taken = Self::sum(&self.withdrawals, epoch) as f64;
        if taken <= allowed {
            true
        } else {
            slot.decrement(epoch);
            false
        }
    }

    /// Calls recorded in the current window.
    pub fn calls(&self) -> u64 {
        Self::sum(&self.deposits, self.epoch())
    }

    /// Retries taken in the current window.
    pub fn retries(&self) -> u64 {
        Self::sum(&self.withdrawals, self.epoch())
    }

    /// Retries that could be taken now.
    pub fn remaining(&self) -> u64 {
        let epoch = self.epoch();
        let allowed = self.allowed(epoch);
        (allowed.floor() as u64).saturating_sub(Self::sum(&self.withdrawals, epoch))
    }
}
