//! The five admission algorithms over one shared state type.
//!
//! Time is `u64` nanoseconds since the limiter's origin. Every state starts "full" (a fresh
//! key may take its whole burst) and every decision is one compare-and-swap loop: lock-free,
//! no allocation.

mod fixed_window;
mod gcra;
mod leaky_bucket;
mod sliding_window;
mod token_bucket;

use super::config::Algorithm;
use super::params::Snapshot;

pub(crate) use fixed_window::FixedWindow;
pub(crate) use gcra::Gcra;
pub(crate) use leaky_bucket::LeakyBucket;
pub(crate) use sliding_window::SlidingWindow;
pub(crate) use token_bucket::TokenBucket;

/// The result of one decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Admitted; the state was updated.
    Admit,
    /// Refused; the same request may succeed after this many nanoseconds.
    Deny(u64),
}

/// One limiter's (or one key's) state.
pub(crate) enum State {
    Gcra(Gcra),
    TokenBucket(TokenBucket),
    FixedWindow(FixedWindow),
    SlidingWindow(SlidingWindow),
    LeakyBucket(LeakyBucket),
}

impl State {
    /// A full state at `now`.
    pub(crate) fn new(algorithm: Algorithm, now: u64, p: &Snapshot) -> State {
        match algorithm {
            Algorithm::Gcra => State::Gcra(Gcra::new()),
            Algorithm::TokenBucket => State::TokenBucket(TokenBucket::new(now, p)),
            Algorithm::FixedWindow => State::FixedWindow(FixedWindow::new()),
            Algorithm::SlidingWindow => State::SlidingWindow(SlidingWindow::new()),
            Algorithm::LeakyBucket => State::LeakyBucket(LeakyBucket::new()),
        }
    }

    /// Takes `n` permits now if the algorithm allows it (`n` is within capacity).
    #[inline]
    pub(crate) fn decide(&self, now: u64, n: u64, p: &Snapshot) -> Decision {
        match self {
            State::Gcra(s) => s.decide(now, n, p),
            State::TokenBucket(s) => s.decide(now, n, p),
            State::FixedWindow(s) => s.decide(now, n, p),
            State::SlidingWindow(s) => s.decide(now, n, p),
            State::LeakyBucket(s) => s.decide(now, n, p),
        }
    }

    /// For a waiting caller: takes `n` permits, possibly in the future. Returns how long the
    /// caller must wait before proceeding (`Admit` = at once). Only the leaky bucket queues;
    /// the others are the same as [`State::decide`].
    #[inline]
    pub(crate) fn reserve(&self, now: u64, n: u64, p: &Snapshot) -> Reservation {
        match self {
            State::LeakyBucket(s) => s.reserve(now, n, p),
            other => match other.decide(now, n, p) {
                Decision::Admit => Reservation::At(0),
                Decision::Deny(d) => Reservation::Full(d),
            },
        }
    }

    /// Hands back a waiting caller's reservation that ends at `end` and holds `work`
    /// nanoseconds, if nobody queued after it (only the leaky bucket queues).
    pub(crate) fn cancel(&self, end: u64, work: u64) {
        if let State::LeakyBucket(s) = self {
            s.cancel(end, work);
        }
    }

    /// The instant (ns) from which this state is back to "full", so it may be forgotten.
    pub(crate) fn idle_at(&self, p: &Snapshot) -> u64 {
        match self {
            State::Gcra(s) => s.idle_at(),
            State::TokenBucket(s) => s.idle_at(p),
            State::FixedWindow(s) => s.idle_at(p),
            State::SlidingWindow(s) => s.idle_at(p),
            State::LeakyBucket(s) => s.idle_at(),
        }
    }

    /// Permits a `check_n` could take right now.
    pub(crate) fn available(&self, now: u64, p: &Snapshot) -> u64 {
        match self {
            State::Gcra(s) => s.available(now, p),
            State::TokenBucket(s) => s.available(now, p),
            State::FixedWindow(s) => s.available(now, p),
            State::SlidingWindow(s) => s.available(now, p),
            State::LeakyBucket(s) => s.available(now, p),
        }
    }
}

/// A waiting caller's place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reservation {
    /// Taken; proceed after this many nanoseconds.
    At(u64),
    /// No room now; try again after this many nanoseconds.
    Full(u64),
}

/// `a * b / c`, rounded up, in 128 bits, saturated to `u64`.
pub(crate) fn mul_div_ceil(a: u64, b: u64, c: u64) -> u64 {
    let r = (u128::from(a) * u128::from(b)).div_ceil(u128::from(c.max(1)));
    u64::try_from(r).unwrap_or(u64::MAX)
}
