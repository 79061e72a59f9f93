//! Token bucket: the token count (fixed point, 32 fraction bits) and the instant it was
//! last refilled, packed into one 128-bit atomic.
//!
//! Tokens refill continuously at `rate / period` up to `burst`. A request for `n` takes `n`
//! tokens or is denied with the time the missing tokens take to refill. Because the count
//! itself is stored, changing the quota keeps the tokens a caller has (capped at the new
//! burst).

use portable_atomic::{AtomicU128, Ordering};

use super::{Decision, mul_div_ceil};
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
    // u64 × u64 always fits in 128 bits.
    let elapsed = now.saturating_sub(at);
    let gained = (u128::from(elapsed) * u128::from(p.refill_k)) >> 32;
    let gained = u64::try_from(gained).unwrap_or(u64::MAX);
    tokens.saturating_add(gained).min(cap)
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
                return Decision::Deny(mul_div_ceil(need - have, ONE, p.refill_k).max(1));
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
        at.saturating_add(mul_div_ceil(cap - tokens, ONE, p.refill_k))
    }

    pub(crate) fn available(&self, now: u64, p: &Snapshot) -> u64 {
        let (tokens, at) = unpack(self.state.load(Ordering::Acquire));
        refilled(tokens, at, now, p) / ONE
    }
}
