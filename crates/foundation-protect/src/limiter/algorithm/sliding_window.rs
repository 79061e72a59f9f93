//! Sliding window, counter approximation: the current window's start, the previous
//! window's count and the current count in one 128-bit atomic.
//!
//! At `e` nanoseconds into the current window the estimate over the last `period` is
//! `prev · (period − e) / period + curr`; a request for `n` is admitted when
//! `estimate + n ≤ rate` (computed exactly in integers). Memory is constant, and the
//! approximation assumes the previous window's requests were spread evenly.

use portable_atomic::{AtomicU128, Ordering};

use super::{Decision, mul_div_ceil};
use crate::limiter::params::Snapshot;

pub(crate) struct SlidingWindow {
    state: AtomicU128,
}

#[inline]
fn pack(start: u64, prev: u32, curr: u32) -> u128 {
    (u128::from(start) << 64) | (u128::from(prev) << 32) | u128::from(curr)
}

#[inline]
fn unpack(s: u128) -> (u64, u64, u64) {
    (
        (s >> 64) as u64,
        u64::from((s >> 32) as u32),
        u64::from(s as u32),
    )
}

/// The window containing `now`: `(start, prev, curr)`.
#[inline]
fn current(start: u64, prev: u64, curr: u64, now: u64, period: u64) -> (u64, u64, u64) {
    let end = start.saturating_add(period);
    if now < end {
        return (start, prev, curr);
    }
    let aligned = now - now % period;
    if aligned == end {
        (aligned, curr, 0)
    } else {
        (aligned, 0, 0)
    }
}

/// Whether `prev·(P−e) + (curr+n)·P ≤ rate·P`.
#[inline]
fn fits(prev: u64, curr: u64, n: u64, elapsed: u64, p: &Snapshot) -> bool {
    let period = u128::from(p.period_ns);
    let weighted = u128::from(prev) * (period - u128::from(elapsed.min(p.period_ns)));
    weighted + u128::from(curr.saturating_add(n)) * period <= u128::from(p.rate) * period
}

/// How long until a request for `n` fits, given it does not fit now.
fn wait(start: u64, prev: u64, curr: u64, n: u64, now: u64, p: &Snapshot) -> u64 {
    let period = p.period_ns;
    let wait = if curr.saturating_add(n) > p.rate {
        // Wait for the next window, then for `curr` (then previous) to decay enough.
        let next = start.saturating_add(period);
        let excess = curr - (p.rate - n);
        next.saturating_add(mul_div_ceil(period, excess, curr))
            .saturating_sub(now)
    } else {
        // This window has room; wait for the previous window's weight to decay.
        let room = p.rate - n - curr;
        let excess = prev.saturating_sub(room);
        start
            .saturating_add(mul_div_ceil(period, excess, prev))
            .saturating_sub(now)
    };
    wait.max(1)
}

impl SlidingWindow {
    pub(crate) fn new() -> SlidingWindow {
        SlidingWindow {
            state: AtomicU128::new(0),
        }
    }

    #[inline]
    pub(crate) fn decide(&self, now: u64, n: u64, p: &Snapshot) -> Decision {
        let mut seen = self.state.load(Ordering::Acquire);
        loop {
            let (start, prev, curr) = unpack(seen);
            let (start, prev, curr) = current(start, prev, curr, now, p.period_ns);
            if !fits(prev, curr, n, now.saturating_sub(start), p) {
                return Decision::Deny(wait(start, prev, curr, n, now, p));
            }
            let next = pack(start, prev as u32, (curr + n) as u32);
            match self
                .state
                .compare_exchange_weak(seen, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Decision::Admit,
                Err(s) => seen = s,
            }
        }
    }

    pub(crate) fn idle_at(&self, p: &Snapshot) -> u64 {
        let (start, prev, curr) = unpack(self.state.load(Ordering::Acquire));
        if curr > 0 {
            start.saturating_add(p.period_ns.saturating_mul(2))
        } else if prev > 0 {
            start.saturating_add(p.period_ns)
        } else {
            0
        }
    }

    pub(crate) fn available(&self, now: u64, p: &Snapshot) -> u64 {
        let (start, prev, curr) = unpack(self.state.load(Ordering::Acquire));
        let (start, prev, curr) = current(start, prev, curr, now, p.period_ns);
        let period = u128::from(p.period_ns);
        let weighted = (u128::from(prev)
            * (period - u128::from(now.saturating_sub(start).min(p.period_ns))))
        .div_ceil(period);
        p.rate
            .saturating_sub(curr)
            .saturating_sub(u64::try_from(weighted).unwrap_or(u64::MAX))
    }
}
