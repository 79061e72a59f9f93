//! Property test: the breaker against a simple reference model of its state machine.
//!
//! Random sequences of operations (calls with outcomes, permits held across other
//! operations, clock advances, manual control, live reconfiguration) are applied to a real
//! breaker and to the model; after every step the admission decision, the state and the
//! window must agree.

use std::collections::VecDeque;
use std::time::Duration;

use foundation_core::{ErrorCode, ManualClock, TelemetryBus};
use foundation_protect::breaker::{
    BreakerConfig, BreakerState, CircuitBreaker, ClassThresholds, OpenBackoff, Permit, WindowConfig,
};
use foundation_protect::outcome::Outcome;
use proptest::prelude::*;

const OPEN_MS: u64 = 1_000;

#[derive(Debug, Clone)]
struct Params {
    size: u32,
    minimum: u32,
    threshold: f64,
    timeout_threshold: Option<f64>,
    probes: u32,
    exponential: bool,
}

impl Params {
    fn config(&self) -> BreakerConfig {
        BreakerConfig {
            window: WindowConfig::Count { size: self.size },
            minimum_calls: self.minimum,
            failure_rate_threshold: self.threshold,
            class_thresholds: ClassThresholds {
                timeout: self.timeout_threshold,
                ..ClassThresholds::default()
            },
            open_duration: Duration::from_millis(OPEN_MS),
            open_backoff: if self.exponential {
                OpenBackoff::Exponential {
                    multiplier: 2.0,
                    max_open_duration: Duration::from_millis(4 * OPEN_MS),
                }
            } else {
                OpenBackoff::Fixed
            },
            half_open_probes: self.probes,
            ..BreakerConfig::default()
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// Acquire and record at once.
    Call(Outcome),
    /// Acquire and keep the permit.
    Hold,
    /// Record the i-th held permit (modulo the number held).
    Record(usize, Outcome),
    /// Drop the i-th held permit unrecorded (a cancelled call).
    Cancel(usize),
    Advance(u64),
    ForceOpen,
    ForceClose,
    Disable,
    MetricsOnly,
    Reset,
    Threshold(f64),
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        3 => Just(Outcome::Success),
        2 => Just(Outcome::Network),
        1 => Just(Outcome::Timeout),
        1 => Just(Outcome::Application),
        1 => Just(Outcome::Ignored),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => outcome().prop_map(Op::Call),
        3 => Just(Op::Hold),
        3 => (any::<usize>(), outcome()).prop_map(|(i, o)| Op::Record(i, o)),
        1 => any::<usize>().prop_map(Op::Cancel),
        4 => (0..=2_500u64).prop_map(Op::Advance),
        1 => Just(Op::ForceOpen),
        1 => Just(Op::ForceClose),
        1 => Just(Op::Disable),
        1 => Just(Op::MetricsOnly),
        1 => Just(Op::Reset),
        1 => prop_oneof![Just(25.0), Just(50.0), Just(100.0)].prop_map(Op::Threshold),
    ]
}

fn params() -> impl Strategy<Value = Params> {
    (1..=8u32)
        .prop_flat_map(|size| {
            (
                Just(size),
                1..=size,
                prop_oneof![Just(25.0), Just(50.0), Just(75.0), Just(100.0)],
                prop_oneof![Just(None), Just(Some(30.0))],
                1..=3u32,
                any::<bool>(),
            )
        })
        .prop_map(
            |(size, minimum, threshold, timeout_threshold, probes, exponential)| Params {
                size,
                minimum,
                threshold,
                timeout_threshold,
                probes,
                exponential,
            },
        )
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Counted,
    Probe,
    Untracked,
}

/// What the model expects from an acquire.
#[derive(Debug, PartialEq)]
enum Decision {
    Admit(Kind),
    Refuse(ErrorCode, Option<Duration>),
}

struct Model {
    p: Params,
    now: u64,
    state: BreakerState,
    generation: u64,
    window: VecDeque<Outcome>,
    open_until: u64,
    trips: u32,
    reserved: u32,
    finished: u32,
    probe_outcomes: Vec<Outcome>,
}

impl Model {
    fn new(p: Params) -> Model {
        Model {
            p,
            now: 0,
            state: BreakerState::Closed,
            generation: 0,
            window: VecDeque::new(),
            open_until: 0,
            trips: 0,
            reserved: 0,
            finished: 0,
            probe_outcomes: Vec::new(),
        }
    }

    fn breached(&self, outcomes: &[Outcome], minimum: u32) -> bool {
        let calls = outcomes.len() as f64;
        if outcomes.len() < minimum as usize {
            return false;
        }
        let failures = outcomes.iter().filter(|o| o.is_failure()).count() as f64;
        let timeouts = outcomes.iter().filter(|o| **o == Outcome::Timeout).count() as f64;
        failures * 100.0 / calls >= self.p.threshold
            || self
                .p
                .timeout_threshold
                .is_some_and(|t| timeouts * 100.0 / calls >= t)
    }

    fn go(&mut self, to: BreakerState) {
        match to {
            BreakerState::Open => {
                self.trips = if self.state == BreakerState::HalfOpen {
                    self.trips + 1
                } else {
                    1
                };
                let d = if self.p.exponential {
                    (OPEN_MS << (self.trips - 1).min(10)).min(4 * OPEN_MS)
                } else {
                    OPEN_MS
                };
                self.open_until = self.now + d;
            }
            BreakerState::HalfOpen => {
                self.reserved = 0;
                self.finished = 0;
                self.probe_outcomes.clear();
            }
            BreakerState::Closed | BreakerState::MetricsOnly => {
                self.window.clear();
                self.trips = 0;
            }
            BreakerState::Disabled | BreakerState::ForcedOpen => {}
        }
        self.state = to;
        self.generation += 1;
    }

    fn acquire(&mut self) -> Decision {
        loop {
            return match self.state {
                BreakerState::Closed | BreakerState::MetricsOnly => Decision::Admit(Kind::Counted),
                BreakerState::Disabled => Decision::Admit(Kind::Untracked),
                BreakerState::ForcedOpen => Decision::Refuse(ErrorCode::CIRCUIT_FORCED_OPEN, None),
                BreakerState::Open if self.now < self.open_until => Decision::Refuse(
                    ErrorCode::CIRCUIT_OPEN,
                    Some(Duration::from_millis(self.open_until - self.now)),
                ),
                BreakerState::Open => {
                    self.go(BreakerState::HalfOpen);
                    continue;
                }
                BreakerState::HalfOpen if self.reserved >= self.p.probes => {
                    Decision::Refuse(ErrorCode::CIRCUIT_HALF_OPEN_FULL, None)
                }
                BreakerState::HalfOpen => {
                    self.reserved += 1;
                    Decision::Admit(Kind::Probe)
                }
            };
        }
    }

    fn record(&mut self, kind: Kind, generation: u64, outcome: Outcome) {
        if generation != self.generation {
            return;
        }
        match kind {
            Kind::Untracked => {}
            Kind::Counted => {
                if outcome == Outcome::Ignored {
                    return;
                }
                self.window.push_back(outcome);
                if self.window.len() > self.p.size as usize {
                    self.window.pop_front();
                }
                if self.state == BreakerState::Closed {
                    let w: Vec<Outcome> = self.window.iter().copied().collect();
                    if self.breached(&w, self.p.minimum) {
                        self.go(BreakerState::Open);
                    }
                }
            }
            Kind::Probe => {
                if outcome == Outcome::Ignored {
                    self.cancel(kind, generation);
                    return;
                }
                self.finished += 1;
                self.probe_outcomes.push(outcome);
                if self.finished >= self.p.probes {
                    let outcomes = self.probe_outcomes.clone();
                    let to = if self.breached(&outcomes, 1) {
                        BreakerState::Open
                    } else {
                        BreakerState::Closed
                    };
                    self.go(to);
                }
            }
        }
    }

    fn cancel(&mut self, kind: Kind, generation: u64) {
        if kind == Kind::Probe && generation == self.generation && self.reserved > 0 {
            self.reserved -= 1;
        }
    }

    fn set_threshold(&mut self, t: f64) {
        self.p.threshold = t;
        if self.state == BreakerState::Closed {
            let w: Vec<Outcome> = self.window.iter().copied().collect();
            if self.breached(&w, self.p.minimum) {
                self.go(BreakerState::Open);
            }
        }
    }
}

fn check_acquire(b: &CircuitBreaker, expected: &Decision) -> Option<Permit> {
    match (b.try_acquire(), expected) {
        (Ok(permit), Decision::Admit(kind)) => {
            assert_eq!(permit.is_probe(), *kind == Kind::Probe);
            Some(permit)
        }
        (Err(e), Decision::Refuse(code, retry_after)) => {
            assert_eq!(e.code(), *code, "{e}");
            assert_eq!(e.retry_after(), *retry_after);
            None
        }
        (got, want) => panic!("breaker gave {got:?}, model expected {want:?}"),
    }
}

fn run(p: Params, ops: Vec<Op>) {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder("model")
        .config(p.config())
        .clock(clock.clock())
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    let mut m = Model::new(p);
    let mut held: Vec<(Permit, Kind, u64)> = Vec::new();
    for op in ops {
        match op {
            Op::Call(outcome) => {
                let expected = m.acquire();
                if let Some(permit) = check_acquire(&b, &expected) {
                    let Decision::Admit(kind) = expected else {
                        unreachable!()
                    };
                    permit.record(outcome);
                    m.record(kind, m.generation, outcome);
                }
            }
            Op::Hold => {
                let expected = m.acquire();
                if let Some(permit) = check_acquire(&b, &expected) {
                    let Decision::Admit(kind) = expected else {
                        unreachable!()
                    };
                    held.push((permit, kind, m.generation));
                }
            }
            Op::Record(i, outcome) if !held.is_empty() => {
                let (permit, kind, generation) = held.swap_remove(i % held.len());
                permit.record(outcome);
                m.record(kind, generation, outcome);
            }
            Op::Cancel(i) if !held.is_empty() => {
                let (permit, kind, generation) = held.swap_remove(i % held.len());
                drop(permit);
                m.cancel(kind, generation);
            }
            Op::Record(..) | Op::Cancel(_) => {}
            Op::Advance(ms) => {
                clock.advance(Duration::from_millis(ms));
                m.now += ms;
            }
            Op::ForceOpen => {
                b.force_open();
                m.go(BreakerState::ForcedOpen);
            }
            Op::ForceClose => {
                b.force_close();
                m.go(BreakerState::Closed);
            }
            Op::Disable => {
                b.disable();
                m.go(BreakerState::Disabled);
            }
            Op::MetricsOnly => {
                b.metrics_only();
                m.go(BreakerState::MetricsOnly);
            }
            Op::Reset => {
                b.reset();
                m.go(BreakerState::Closed);
            }
            Op::Threshold(t) => {
                let mut p = m.p.clone();
                p.threshold = t;
                b.reconfigure(p.config()).unwrap();
                m.set_threshold(t);
            }
        }
        let s = b.status();
        assert_eq!(s.state, m.state);
        if matches!(m.state, BreakerState::Closed | BreakerState::MetricsOnly) {
            let count = |o: Outcome| m.window.iter().filter(|x| **x == o).count() as u32;
            assert_eq!(s.window.success, count(Outcome::Success));
            assert_eq!(s.window.network, count(Outcome::Network));
            assert_eq!(s.window.timeout, count(Outcome::Timeout));
            assert_eq!(s.window.application, count(Outcome::Application));
        }
        if m.state == BreakerState::HalfOpen {
            let probes = s.probes.unwrap();
            assert_eq!((probes.reserved, probes.finished), (m.reserved, m.finished));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_breaker_follows_the_model(p in params(), ops in proptest::collection::vec(op(), 1..120)) {
        run(p, ops);
    }
}
