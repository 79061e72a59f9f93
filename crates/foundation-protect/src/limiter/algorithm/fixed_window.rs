//! Fixed window: the current window's start and its count in one 128-bit atomic.
//!
//! Windows are `period` long and aligned to the limiter's origin; each admits `rate`
//! permits. A denial's `retry_after` is the time to the next window.

use portable_atomic::{AtomicU128, Ordering};

use super::Decision;
use crate::limiter::params::Snapshot;

pub(crate) struct FixedWindow {
    state: AtomicU128,
}

#[inline]
fn pack(start: u64, count: u64) -> u128 {
    (u128::from(start) << 64) | u128::from(count)
}

#[inline]
fn unpack(s: u128) -> (u64, u64) {
    ((s >> 64) as u64, s as u64)
}

/// The window containing `now` and its count, given the stored `(start, count)`.
#[inline]
pub(crate) fn current(start: u64, count: u64, now: u64, period: u64) -> (u64, u64) {
    if now >= start.saturating_add(period) {
        (now - now % period, 0)
    } else {
        (start, count)
    }
}

impl FixedWindow {
    pub(crate) fn new() -> FixedWindow {
        FixedWindow {
            state: AtomicU128::new(0),
        }
    }

    #[inline]
    pub(crate) fn decide(&self, now: u64, n: u64, p: &Snapshot) -> Decision {
        let mut seen = self.state.load(Ordering::Acquire);
        loop {
            let (start, count) = unpack(seen);
            let (start, count) = current(start, count, now, p.period_ns);
            if count.saturating_add(n) > p.rate {
                let end = start.saturating_add(p.period_ns);
                return Decision::Deny(end.saturating_sub(now).max(1));
            }
            match self.state.compare_exchange_weak(
                seen,
                pack(start, count + n),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Decision::Admit,
                Err(s) => seen = s,
            }
        }
    }

    pub(crate) fn idle_at(&self, p: &Snapshot) -> u64 {
        let (start, count) = unpack(self.state.load(Ordering::Acquire));
        if count == 0 {
            0
        } else {
            start.saturating_add(p.period_ns)
        }
    }

    pub(crate) fn available(&self, now: u64, p: &Snapshot) -> u64 {
        let (start, count) = unpack(self.state.load(Ordering::Acquire));
        let (_, count) = current(start, count, now, p.period_ns);
        p.rate.saturating_sub(count)
    }
}
