//! Token bucket: the token count (fixed point, 32 fraction bits) and the instant it was
//! last refilled, packed into one 128-bit atomic.
//!
//! Tokens refill continuously at `rate / period` up to `burst`. A request for `n` takes `n`
//! tokens or is denied with the time the missing tokens take to refill. Because the count
//! itself is stored, changing the quota keeps the tokens a caller has (capped at the new
//! burst).

use portable_atomic::{AtomicU128, Ordering};

use super::Decision;
use crate::limiter::params::Snapshot;

const ONE: u64 = 1 << 32;

pub(crate) struct TokenBucket {
    state: AtomicU128,
}

#[inline]
fn pack(tokens: u64, at: u64) -> u128 {
    (u128::from(tokens) << 64) | u128::from(at)
}

#[inline]
fn unpack(s: u128) -> (u64, u64) {
    ((s >> 64) as u64, s as u64)
}

/// Tokens (fixed point) at `now`, refilled from `(tokens, at)`.
#[inline]
fn refilled(tokens: u64, at: u64, now: u64, p: &Snapshot) -> u64 {
    let cap = p.burst.saturating_mul(ONE);
    if tokens >= cap {
        return cap;
    }
    // Exact: elapsed · rate · 2^32 / period; an overflow means "long enough to be full".
    let elapsed = u128::from(now.saturating_sub(at));
    let gained = (elapsed * u128::from(p.rate))
        .checked_mul(u128::from(ONE))
        .map_or(u128::MAX, |x| x / u128::from(p.period_ns));
    let gained = u64::try_from(gained).unwrap_or(u64::MAX);
    tokens.saturating_add(gained).min(cap)
}

/// Nanoseconds for `tokens` (fixed point) to refill, rounded up.
fn refill_time(tokens: u64, p: &Snapshot) -> u64 {
    let per_token = u128::from(p.rate) << 32;
    let t = (u128::from(tokens) * u128::from(p.period_ns)).div_ceil(per_token);
    u64::try_from(t).unwrap_or(u64::MAX).max(1)
}

impl TokenBucket {
    pub(crate) fn new(now: u64, p: &Snapshot) -> TokenBucket {
        TokenBucket {
            state: AtomicU128::new(pack(p.burst.saturating_mul(ONE), now)),
        }
    }

    #[inline]
    pub(crate) fn decide(&self, now: u64, n: u64, p: &Snapshot) -> Decision {
        let need = n.saturating_mul(ONE);
        let mut current = self.state.load(Ordering::Acquire);
        loop {
            let (tokens, at) = unpack(current);
            let have = refilled(tokens, at, now, p);
            if have < need {
                // Measured from the stored instant, so rounding cannot add a nanosecond.
                let ready = at.saturating_add(refill_time(need - tokens, p));
                return Decision::Deny(ready.saturating_sub(now).max(1));
            }
            match self.state.compare_exchange_weak(
                current,
                pack(have - need, at.max(now)),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Decision::Admit,
                Err(seen) => current = seen,
            }
        }
    }

    pub(crate) fn idle_at(&self, p: &Snapshot) -> u64 {
        let (tokens, at) = unpack(self.state.load(Ordering::Acquire));
        let cap = p.burst.saturating_mul(ONE);
        if tokens >= cap {
            return at;
        }
        at.saturating_add(refill_time(cap - tokens, p))
    }

    pub(crate) fn available(&self, now: u64, p: &Snapshot) -> u64 {
        let (tokens, at) = unpack(self.state.load(Ordering::Acquire));
        refilled(tokens, at, now, p) / ONE
    }
}
