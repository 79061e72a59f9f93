//! Leaky bucket as a queue: one `AtomicU64`, the instant the queue has drained.
//!
//! Admitted work leaves the bucket at exactly one permit per `T = period / rate`.
//! - `decide` (for `check`): admitted only when the queue is empty; the permits are then
//!   "in the bucket" for `n·T`, so the output never bursts.
//! - `reserve` (for `acquire`): joins the queue when at most `burst` permits would be
//!   queued, and tells the caller how long to wait for its slot.

use std::sync::atomic::{AtomicU64, Ordering};

use super::{Decision, Reservation};
use crate::limiter::params::Snapshot;

pub(crate) struct LeakyBucket {
    drained_at: AtomicU64,
}

impl LeakyBucket {
    pub(crate) fn new() -> LeakyBucket {
        LeakyBucket {
            drained_at: AtomicU64::new(0),
        }
    }

    #[inline]
    pub(crate) fn decide(&self, now: u64, n: u64, p: &Snapshot) -> Decision {
        let mut current = self.drained_at.load(Ordering::Acquire);
        loop {
            if current > now {
                return Decision::Deny(current - now);
            }
            let next = now.saturating_add(n.saturating_mul(p.emission_ns));
            match self.drained_at.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Decision::Admit,
                Err(seen) => current = seen,
            }
        }
    }

    pub(crate) fn reserve(&self, now: u64, n: u64, p: &Snapshot) -> Reservation {
        let work = n.saturating_mul(p.emission_ns);
        let mut current = self.drained_at.load(Ordering::Acquire);
        loop {
            let start = current.max(now);
            let queued = start - now;
            if queued.saturating_add(work) > p.tau_ns {
                return Reservation::Full(queued.saturating_add(work) - p.tau_ns);
            }
            match self.drained_at.compare_exchange_weak(
                current,
                start.saturating_add(work),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Reservation::At(queued),
                Err(seen) => current = seen,
            }
        }
    }

    /// Hands back a reservation that ends at `end` and holds `work` nanoseconds, if it is
    /// still the last one queued; otherwise those queued after it keep their places.
    pub(crate) fn cancel(&self, end: u64, work: u64) {
        let _ = self.drained_at.compare_exchange(
            end,
            end.saturating_sub(work),
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }

    pub(crate) fn idle_at(&self) -> u64 {
        self.drained_at.load(Ordering::Acquire)
    }

    /// `check` admits up to `burst` when the queue is empty, nothing otherwise.
    pub(crate) fn available(&self, now: u64, p: &Snapshot) -> u64 {
        if self.drained_at.load(Ordering::Acquire) <= now {
            p.burst
        } else {
            0
        }
    }
}
