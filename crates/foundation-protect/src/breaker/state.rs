//! The breaker's states, why it moves between them, and the one atomic word that holds it.

use std::fmt;

use serde::Serialize;

use crate::outcome::Outcome;

/// Where a breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Calls pass and are counted; the breaker trips when a threshold is reached. While a
    /// recovery ramp runs, some calls are shed (see `BreakerStatus::ramp_percent`).
    Closed,
    /// Calls are refused with `CIRCUIT_OPEN` until the open duration has passed.
    Open,
    /// A limited number of probe calls pass; their results close or reopen the breaker.
    HalfOpen,
    /// Every call passes and nothing is counted, until an operator changes the state.
    Disabled,
    /// Every call is refused with `CIRCUIT_FORCED_OPEN`, until an operator changes the state.
    ForcedOpen,
    /// Every call passes and is counted, but the breaker never trips.
    MetricsOnly,
}

impl BreakerState {
    const ALL: [BreakerState; 6] = [
        BreakerState::Closed,
        BreakerState::Open,
        BreakerState::HalfOpen,
        BreakerState::Disabled,
        BreakerState::ForcedOpen,
        BreakerState::MetricsOnly,
    ];

    /// The lower-case name (`"half_open"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
            BreakerState::Disabled => "disabled",
            BreakerState::ForcedOpen => "forced_open",
            BreakerState::MetricsOnly => "metrics_only",
        }
    }
}

impl fmt::Display for BreakerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the breaker changed state.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TransitionReason {
    /// The failure rate reached its threshold.
    FailureRate {
        /// The rate observed, in percent.
        rate: f64,
        /// The configured threshold, in percent.
        threshold: f64,
    },
    /// One outcome class reached its own threshold.
    ClassRate {
        /// The class.
        class: Outcome,
        /// The rate observed, in percent.
        rate: f64,
        /// The configured threshold, in percent.
        threshold: f64,
    },
    /// The slow-call rate reached its threshold.
    SlowCallRate {
        /// The rate observed, in percent.
        rate: f64,
        /// The configured threshold, in percent.
        threshold: f64,
    },
    /// The open duration passed; probing begins.
    OpenDurationElapsed,
    /// The half-open probes succeeded well enough.
    ProbesSucceeded,
    /// An operator forced the breaker open.
    ForcedOpen,
    /// An operator closed the breaker.
    ForcedClose,
    /// An operator disabled the breaker.
    Disabled,
    /// An operator switched the breaker to metrics-only.
    MetricsOnly,
    /// An operator reset the breaker.
    Reset,
}

impl fmt::Display for TransitionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransitionReason::FailureRate { rate, threshold } => {
                write!(f, "failure rate {rate:.1}% >= {threshold}%")
            }
            TransitionReason::ClassRate {
                class,
                rate,
                threshold,
            } => write!(f, "{} rate {rate:.1}% >= {threshold}%", class.as_str()),
            TransitionReason::SlowCallRate { rate, threshold } => {
                write!(f, "slow-call rate {rate:.1}% >= {threshold}%")
            }
            TransitionReason::OpenDurationElapsed => f.write_str("open duration elapsed"),
            TransitionReason::ProbesSucceeded => f.write_str("half-open probes succeeded"),
            TransitionReason::ForcedOpen => f.write_str("forced open"),
            TransitionReason::ForcedClose => f.write_str("forced close"),
            TransitionReason::Disabled => f.write_str("disabled"),
            TransitionReason::MetricsOnly => f.write_str("metrics only"),
            TransitionReason::Reset => f.write_str("reset"),
        }
    }
}

/// The packed state word: `[generation:32][probes taken:16][flags:5][kind:3]`.
///
/// The generation changes on every state transition, so a permit taken before a transition
/// records nothing after it. Flags change without a new generation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Word(pub(crate) u64);

const KIND_MASK: u64 = 0b111;
/// The recovery ramp is running (only with `Closed`).
pub(crate) const RAMP: u64 = 1 << 3;
/// Slow-call detection is configured: permits read the clock.
pub(crate) const SLOW: u64 = 1 << 4;
/// Reconfiguration changed the window's shape: record through the live config.
pub(crate) const RESHAPED: u64 = 1 << 5;
/// A failure was recorded before the window held the minimum number of calls: the next
/// records (successes too) re-evaluate the thresholds until it does.
pub(crate) const PENDING: u64 = 1 << 6;
const FLAGS: u64 = RAMP | SLOW | RESHAPED | PENDING;
const PROBE_SHIFT: u32 = 8;
const PROBE_MASK: u64 = 0xFFFF << PROBE_SHIFT;
const GEN_SHIFT: u32 = 32;

impl Word {
    /// A word for `state` in generation `generation` with `flags` and no probes taken.
    pub(crate) fn new(state: BreakerState, generation: u32, flags: u64) -> Word {
        let kind = BreakerState::ALL
            .iter()
            .position(|s| *s == state)
            .unwrap_or(0) as u64;
        Word((u64::from(generation) << GEN_SHIFT) | (flags & FLAGS) | kind)
    }

    /// The state.
    #[inline]
    pub(crate) fn state(self) -> BreakerState {
        BreakerState::ALL[((self.0 & KIND_MASK) as usize).min(5)]
    }

    /// Whether this is `Closed` with no ramp: the fast path.
    #[inline]
    pub(crate) fn is_plain_closed(self) -> bool {
        self.0 & (KIND_MASK | RAMP) == 0
    }

    /// The generation.
    #[inline]
    pub(crate) fn generation(self) -> u32 {
        (self.0 >> GEN_SHIFT) as u32
    }

    /// Whether `flag` is set.
    #[inline]
    pub(crate) fn has(self, flag: u64) -> bool {
        self.0 & flag != 0
    }

    /// The flags only.
    pub(crate) fn flags(self) -> u64 {
        self.0 & FLAGS
    }

    /// The same word with `flag` set or cleared.
    pub(crate) fn with_flag(self, flag: u64, on: bool) -> Word {
        if on {
            Word(self.0 | flag)
        } else {
            Word(self.0 & !flag)
        }
    }

    /// Probe calls reserved in this half-open generation.
    pub(crate) fn probes(self) -> u32 {
        ((self.0 & PROBE_MASK) >> PROBE_SHIFT) as u32
    }

    /// The same word with `probes` reserved (at most `0xFFFF`).
    pub(crate) fn with_probes(self, probes: u32) -> Word {
        Word((self.0 & !PROBE_MASK) | (u64::from(probes.min(0xFFFF)) << PROBE_SHIFT))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_round_trips_every_field() {
        for state in BreakerState::ALL {
            let w = Word::new(state, 7, SLOW).with_probes(3);
            assert_eq!(w.state(), state);
            assert_eq!(w.generation(), 7);
            assert_eq!(w.probes(), 3);
            assert!(w.has(SLOW) && !w.has(RAMP));
            assert_eq!(
                w.is_plain_closed(),
                state == BreakerState::Closed,
                "{state}"
            );
        }
        let ramping = Word::new(BreakerState::Closed, 1, RAMP);
        assert!(!ramping.is_plain_closed());
        assert!(ramping.with_flag(RAMP, false).is_plain_closed());
    }
}
