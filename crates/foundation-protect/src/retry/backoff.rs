//! The delay before the next attempt, per [`Backoff`] kind, cap and [`Jitter`].

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::config::{Backoff, Jitter, RetryConfig};

/// Per-call backoff progress: the previous delay and a lazily seeded random source.
///
/// The random source is created on the first jittered delay only, so a call that never
/// retries (or retries without jitter) never touches it.
#[derive(Debug)]
pub(crate) struct BackoffState {
    previous: Option<Duration>,
    seed: Option<u64>,
    rng: Option<SmallRng>,
}

impl BackoffState {
    /// A fresh state; `seed` makes every jittered sequence reproducible.
    pub(crate) fn new(seed: Option<u64>) -> BackoffState {
        BackoffState {
            previous: None,
            seed,
            rng: None,
        }
    }

    fn rng(&mut self) -> &mut SmallRng {
        let seed = self.seed;
        self.rng.get_or_insert_with(|| match seed {
            Some(seed) => SmallRng::seed_from_u64(seed),
            None => SmallRng::from_rng(&mut rand::rng()),
        })
    }

    /// A uniform duration in `low..=high` (`low` if `high < low`).
    fn uniform(&mut self, low: Duration, high: Duration) -> Duration {
        let lo = nanos(low);
        let hi = nanos(high).max(lo);
        Duration::from_nanos(self.rng().random_range(lo..=hi))
    }

    /// The delay to wait after attempt `failed` (1-based) failed.
    pub(crate) fn next_delay(&mut self, config: &RetryConfig, failed: u32) -> Duration {
        let cap = config.max_delay;
        let steps = failed.saturating_sub(1);
        let delay = match config.backoff {
            Backoff::DecorrelatedJitter { base } => {
                let previous = self.previous.unwrap_or(base);
                let upper = previous.saturating_mul(3);
                self.uniform(base, upper).min(cap)
            }
            Backoff::Constant { delay } => self.jitter(config.jitter, delay.min(cap)),
            Backoff::Linear { initial, step } => {
                let d = initial.saturating_add(step.saturating_mul(steps));
                self.jitter(config.jitter, d.min(cap))
            }
            Backoff::Exponential {
                initial,
                multiplier,
            } => {
                let exponent = i32::try_from(steps).unwrap_or(i32::MAX);
                let secs = initial.as_secs_f64() * multiplier.powi(exponent);
                let d = Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX);
                self.jitter(config.jitter, d.min(cap))
            }
        };
        self.previous = Some(delay);
        delay
    }

    fn jitter(&mut self, jitter: Jitter, d: Duration) -> Duration {
        match jitter {
            Jitter::None => d,
            Jitter::Full => self.uniform(Duration::ZERO, d),
            Jitter::Equal => {
                let half = d / 2;
                half + self.uniform(Duration::ZERO, d - half)
            }
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
