//! Rate limiting: five algorithms, direct and keyed limiters, a Redis backend, a tower layer.
//!
//! | algorithm | state | `check_n(n)` admits when | denial's `retry_after` |
//! | --- | --- | --- | --- |
//! | `gcra` (default) | one `u64` (theoretical arrival time) | the schedule stays within `burst` permits of now | until the schedule allows `n` |
//! | `token_bucket` | tokens + last refill (128-bit atomic) | `n` tokens are there (continuous refill at `rate/period`, cap `burst`) | until `n` tokens have refilled |
//! | `fixed_window` | window start + count | the window's count + `n` ≤ `rate` | until the next window |
//! | `sliding_window` | window start + previous and current counts | the sliding-window *counter approximation* + `n` ≤ `rate` | until the weighted count allows `n` |
//! | `leaky_bucket` | one `u64` (when the queue drains) | the queue is empty (no bursts: output leaves at `rate/period`) | until the queue has drained |
//!
//! Every decision is one compare-and-swap loop on atomics: lock-free, no allocation when
//! admitted. A denial is a [`foundation_core::Error`] with code `RATE_LIMITED`, a
//! `retry_after` and context `limiter=<name>`; asking for more than the capacity at once is
//! `RATE_LIMIT_EXCEEDS_CAPACITY`. `acquire`/`acquire_n` wait instead, first come first
//! served, and never admit more than the quota; with the leaky bucket an `acquire` takes a
//! slot in a queue at most `burst` deep and sleeps until its slot (traffic shaping).
//!
//! - [`RateLimiter`]: one quota for everyone. [`KeyedRateLimiter`]: one quota per key, with
//!   at most `max_keys` keys kept (idle keys are evicted on insert; see [`keyed`]).
//! - `RedisRateLimiter` (feature `redis`): GCRA in a Lua script on the Redis server's clock,
//!   one round trip per check, shared by every process; a policy for when Redis is down.
//! - [`Limiter`]: the one type the `Protection` facade holds for any of them.
//! - [`LimiterRegistry`]: limiters by name from a map of [`LimiterConfig`]s.
//! - [`RateLimitLayer`]: a tower layer that refuses (or waits, `on_limit = "wait"`).
//!
//! Telemetry: counters `admitted`/`denied` in [`LimiterStatus`]; events
//! [`LimiterRejected`] (`foundation.limiter.rejected`, at most one per limiter per period,
//! with the number of denials it stands for) and [`LimiterBackendUnavailable`].
//!
//! ```
//! use foundation_core::{ErrorCode, ManualClock};
//! use foundation_protect::limiter::{Algorithm, Quota, RateLimiter};
//! use std::time::Duration;
//!
//! let time = ManualClock::new();
//! let limiter = RateLimiter::builder()
//!     .name("api")
//!     .algorithm(Algorithm::Gcra)
//!     .quota(Quota::per_second(10).with_burst(2))
//!     .clock(time.clock())
//!     .build()
//!     .unwrap();
//!
//! assert!(limiter.check().is_ok());
//! assert!(limiter.check().is_ok());
//! let denied = limiter.check().unwrap_err();
//! assert!(denied.is(ErrorCode::RATE_LIMITED));
//! assert_eq!(denied.retry_after(), Some(Duration::from_millis(100)));
//! assert_eq!(denied.context_value("limiter"), Some("api"));
//!
//! time.advance(Duration::from_millis(100));
//! assert!(limiter.check().is_ok());
//! ```

mod algorithm;
mod backend;
pub mod config;
mod direct;
mod engine;
pub mod events;
pub mod keyed;
mod layer;
mod params;
#[cfg(feature = "redis")]
mod redis;
mod registry;
mod status;

pub use backend::Limiter;
pub use config::{Algorithm, LimiterConfig, OnLimit, OnUnavailable, Quota, RedisBackendConfig};
pub use direct::{RateLimiter, RateLimiterBuilder};
pub use events::{LimiterBackendUnavailable, LimiterRejected};
pub use keyed::{KeyedRateLimiter, KeyedRateLimiterBuilder};
pub use layer::{RateLimitLayer, RateLimitService};
#[cfg(feature = "redis")]
pub use redis::{RedisRateLimiter, RedisRateLimiterBuilder};
pub use registry::LimiterRegistry;
pub use status::LimiterStatus;
