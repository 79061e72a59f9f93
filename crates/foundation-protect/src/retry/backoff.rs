//! The delay before the next attempt, per [`Backoff`] kind, cap and [`Jitter`].

use std::time::Duration;

use super::config::{Backoff, Jitter, RetryConfig};

/// Per-call backoff progress: the previous delay and a lazily seeded random source.
///
/// The random source (SplitMix64: 8 bytes of state, plenty for spreading delays) is seeded
/// on the first jittered delay only, from the configured seed or from `rand`, so a call that
/// never retries never touches it and the per-call state stays small.
#[derive(Debug)]
pub(crate) struct BackoffState {
    previous: Option<Duration>,
    rng: Option<u64>,
    seed: Option<u64>,
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

    /// The next 64 random bits (SplitMix64).
    fn next_u64(&mut self) -> u64 {
        let seed = self.seed;
        let state = self
            .rng
            .get_or_insert_with(|| seed.unwrap_or_else(rand::random));
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform duration in `low..=high` (`low` if `high < low`).
    fn uniform(&mut self, low: Duration, high: Duration) -> Duration {
        let lo = nanos(low);
        let span = nanos(high).max(lo) - lo;
        let offset = match span.checked_add(1) {
            // Multiply-shift maps 64 random bits onto 0..=span without modulo bias to speak of.
            Some(n) => ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64,
            None => self.next_u64(),
        };
        Duration::from_nanos(lo + offset)
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
