//! Protection for every external call.
//!
//! The stages — [`breaker`], [`limiter`], [`retry`], [`bulkhead`], [`timeout`], [`pool`] —
//! each stand alone and are each a tower `Layer`; [`Protection`](protection) composes them in
//! the order memory gate → rate limit → bulkhead → (retry: breaker → timeout → pool → call →
//! record). Every refusal is a [`foundation_core::Error`] naming the stage and the reason.

pub mod breaker;
pub mod bulkhead;
pub mod limiter;
pub mod outcome;
pub mod pool;
pub mod protection;
pub mod retry;
pub mod timeout;
