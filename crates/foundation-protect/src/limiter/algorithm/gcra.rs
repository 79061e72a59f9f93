//! GCRA: the theoretical arrival time (TAT) in one `AtomicU64`.
//!
//! A request for `n` permits at `now` moves the TAT to `max(TAT, now) + n·T` and is allowed
//! when the new TAT is at most `τ = burst·T` ahead of `now`.

use std::sync::atomic::{AtomicU64, Ordering};

use super::Decision;
use crate::limiter::params::Snapshot;

pub(crate) struct Gcra {
    tat: AtomicU64,
}

impl Gcra {
    pub(crate) fn new() -> Gcra {
        Gcra {
            tat: AtomicU64::new(0),
        }
    }

    #[inline]
    pub(crate) fn decide(&self, now: u64, n: u64, p: &Snapshot) -> Decision {
        let increment = n.saturating_mul(p.emission_ns);
        let mut current = self.tat.load(Ordering::Acquire);
        loop {
            let next = current.max(now).saturating_add(increment);
            let allow_at = next.saturating_sub(p.tau_ns);
            if allow_at > now {
                return Decision::Deny(allow_at - now);
            }
            match self
                .tat
                .compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Decision::Admit,
                Err(seen) => current = seen,
            }
        }
    }

    pub(crate) fn idle_at(&self) -> u64 {
        self.tat.load(Ordering::Acquire)
    }

    pub(crate) fn available(&self, now: u64, p: &Snapshot) -> u64 {
        let ahead = self.tat.load(Ordering::Acquire).saturating_sub(now);
        p.tau_ns.saturating_sub(ahead) / p.emission_ns
    }
}
