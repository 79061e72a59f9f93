//! The breaker's shared state and its decisions: admit or refuse, record, transition.
//!
//! The closed path is one atomic load to admit and a ring update to record. Everything else
//! (open, half-open, ramp, transitions) is on cold paths; transitions and half-open tallies
//! take the short `control` lock, never while user code runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use foundation_core::{Clock, Error, ErrorCode, TelemetryBus};
use parking_lot::Mutex;

use super::callers::Callers;
use super::config::BreakerConfig;
use super::events::{CallRejected, ProbeResult, SlowCall, StateChanged};
use super::state::{BreakerState, PENDING, RAMP, RESHAPED, SLOW, TransitionReason, Word};
use super::status::{BreakerStatus, ProbeStatus, TransitionRecord};
use super::window::{Sample, Window, WindowCounts};
use crate::outcome::{Outcome, SharedClassifier};

/// The live configuration, swapped as one on reconfiguration.
pub(crate) struct Core {
    pub(crate) config: BreakerConfig,
    /// The window, when reconfiguration changed its shape from the one the breaker was built
    /// with (`Inner::window`). Recording then costs one more pointer load.
    pub(crate) reshaped: Option<Arc<Window>>,
}

/// Keeps a hot atomic on its own cache line, away from the reference counts.
#[repr(align(128))]
struct Padded<T>(T);

/// What an admitted call was admitted as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Counted in the window (closed, ramping, metrics-only).
    Counted,
    /// A half-open probe holding a reserved slot.
    Probe,
    /// Not counted (disabled).
    Untracked,
}

/// The record of one admission, carried by a permit.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Admission {
    pub(crate) generation: u32,
    pub(crate) kind: Kind,
    /// When the call started, in nanoseconds since the breaker's base instant, or
    /// [`NO_START`] when slow-call detection is off (kept as a plain integer so the
    /// admission stays small on the hot path).
    pub(crate) start: u64,
}

/// `Admission::start` when the start was not read.
pub(crate) const NO_START: u64 = u64::MAX;

impl Admission {
    #[inline]
    fn timed(&self) -> bool {
        self.start != NO_START
    }
}

/// State changed under the control lock.
#[derive(Default)]
struct Control {
    last: Option<(BreakerState, BreakerState, TransitionReason, Instant)>,
    /// Consecutive trips without a completed recovery; drives the open-duration backoff.
    trips: u32,
    /// Outcomes of the finished probes of the current half-open round.
    probe_counts: WindowCounts,
    probes_finished: u32,
}

/// Everything a breaker shares between its clones and permits.
pub(crate) struct Inner {
    word: Padded<AtomicU64>,
    /// The window the breaker was built with; used while the shape is unchanged.
    window: Window,
    pub(crate) name: Arc<str>,
    pub(crate) classifier: SharedClassifier,
    core: ArcSwap<Core>,
    clock: Clock,
    base: Instant,
    bus: TelemetryBus,
    /// End of the open period, in nanoseconds since `base`.
    open_until: AtomicU64,
    /// Start of the recovery ramp, in nanoseconds since `base`.
    ramp_start: AtomicU64,
    ramp_calls: AtomicU64,
    control: Mutex<Control>,
    pub(crate) callers: Callers,
}

impl Inner {
    pub(crate) fn new(
        name: Arc<str>,
        config: BreakerConfig,
        clock: Clock,
        bus: TelemetryBus,
        classifier: SharedClassifier,
    ) -> Inner {
        let flags = if config.slow_call_duration.is_some() {
            SLOW
        } else {
            0
        };
        Inner {
            word: Padded(AtomicU64::new(Word::new(BreakerState::Closed, 0, flags).0)),
            window: Window::new(config.window),
            name,
            classifier,
            core: ArcSwap::from_pointee(Core {
                config,
                reshaped: None,
            }),
            base: clock.now(),
            clock,
            bus,
            open_until: AtomicU64::new(0),
            ramp_start: AtomicU64::new(0),
            ramp_calls: AtomicU64::new(0),
            control: Mutex::new(Control::default()),
            callers: Callers::new(),
        }
    }

    #[inline]
    fn word(&self) -> Word {
        Word(self.word.0.load(Ordering::Acquire))
    }

    /// The window in use under `core`.
    fn window<'a>(&'a self, core: &'a Core) -> &'a Window {
        core.reshaped.as_deref().unwrap_or(&self.window)
    }

    fn nanos(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX)
    }

    pub(crate) fn state(&self) -> BreakerState {
        self.word().state()
    }

    pub(crate) fn max_tracked_callers(&self) -> u32 {
        self.core.load().config.max_tracked_callers
    }

    // ---------------------------------------------------------------- admission

    /// Admits or refuses a call. The plain closed state is one load (and a clock read only
    /// when slow-call detection is configured).
    #[inline]
    pub(crate) fn acquire(&self) -> Result<Admission, Error> {
        let w = self.word();
        if w.is_plain_closed() {
            return Ok(self.admit(w, Kind::Counted));
        }
        self.acquire_slow(w)
    }

    #[inline]
    fn admit(&self, w: Word, kind: Kind) -> Admission {
        Admission {
            generation: w.generation(),
            kind,
            start: if w.has(SLOW) {
                self.nanos(self.clock.now()).min(NO_START - 1)
            } else {
                NO_START
            },
        }
    }

    #[cold]
    fn acquire_slow(&self, mut w: Word) -> Result<Admission, Error> {
        loop {
            match w.state() {
                BreakerState::Closed if !w.has(RAMP) => return Ok(self.admit(w, Kind::Counted)),
                BreakerState::Closed => match self.ramp_admits(w) {
                    Some(true) => return Ok(self.admit(w, Kind::Counted)),
                    Some(false) => {
                        return Err(self.reject(
                            w,
                            Error::new(
                                ErrorCode::CIRCUIT_RAMPING,
                                "circuit breaker is ramping up after recovery; call shed",
                            ),
                        ));
                    }
                    None => {}
                },
                BreakerState::MetricsOnly => return Ok(self.admit(w, Kind::Counted)),
                BreakerState::Disabled => return Ok(self.admit(w, Kind::Untracked)),
                BreakerState::ForcedOpen => {
                    return Err(self.reject(
                        w,
                        Error::new(
                            ErrorCode::CIRCUIT_FORCED_OPEN,
                            "circuit breaker was forced open",
                        ),
                    ));
                }
                BreakerState::Open => {
                    let now = self.nanos(self.clock.now());
                    let until = self.open_until.load(Ordering::Acquire);
                    if now < until {
                        let left = Duration::from_nanos(until - now);
                        return Err(self.reject(
                            w,
                            Error::new(ErrorCode::CIRCUIT_OPEN, "circuit breaker is open")
                                .with_retry_after(left),
                        ));
                    }
                    self.transition(
                        Some(w.generation()),
                        BreakerState::HalfOpen,
                        TransitionReason::OpenDurationElapsed,
                    );
                }
                BreakerState::HalfOpen => {
                    let required = self.core.load().config.half_open_probes;
                    if w.probes() >= required {
                        return Err(self.reject(
                            w,
                            Error::new(
                                ErrorCode::CIRCUIT_HALF_OPEN_FULL,
                                "circuit breaker is half-open and every probe slot is taken",
                            ),
                        ));
                    }
                    let next = w.with_probes(w.probes() + 1);
                    if self
                        .word
                        .0
                        .compare_exchange(w.0, next.0, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                    {
                        return Ok(self.admit(next, Kind::Probe));
                    }
                }
            }
            w = self.word();
        }
    }

    /// During the recovery ramp: whether this call is admitted, or `None` when the ramp
    /// is over (the flag is then cleared and the caller looks again).
    fn ramp_admits(&self, w: Word) -> Option<bool> {
        let now = self.nanos(self.clock.now());
        let elapsed = now.saturating_sub(self.ramp_start.load(Ordering::Acquire));
        let fraction = {
            let core = self.core.load();
            ramp_fraction(&core.config, elapsed)
        };
        match fraction {
            Some(f) => {
                let c = self.ramp_calls.fetch_add(1, Ordering::Relaxed) as f64;
                Some(((c + 1.0) * f).floor() > (c * f).floor())
            }
            None => {
                let _ = self.word.0.compare_exchange(
                    w.0,
                    w.with_flag(RAMP, false).0,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
                None
            }
        }
    }

    fn reject(&self, w: Word, err: Error) -> Error {
        self.bus.emit(CallRejected {
            breaker: self.name.clone(),
            state: w.state(),
            code: err.code(),
        });
        err.with_context("breaker", &self.name)
    }

    // ---------------------------------------------------------------- recording

    /// Records how an admitted call ended.
    #[inline]
    pub(crate) fn record(&self, adm: &Admission, outcome: Outcome) {
        match adm.kind {
            Kind::Counted => self.record_counted(adm, outcome),
            Kind::Probe => self.record_probe(adm, outcome),
            Kind::Untracked => {}
        }
    }

    /// An admitted call was abandoned: a probe gives its slot back, nothing is counted.
    pub(crate) fn cancel(&self, adm: &Admission) {
        if adm.kind == Kind::Probe {
            self.release_probe(adm.generation);
        }
    }

    #[inline]
    fn record_counted(&self, adm: &Admission, outcome: Outcome) {
        let w = self.word();
        if adm.timed() || w.has(RESHAPED) {
            return self.record_counted_slow(adm, outcome);
        }
        // The fast path: no slow-call detection, the window the breaker was built with.
        let Some(sample) = Sample::new(outcome, false) else {
            return;
        };
        if w.generation() != adm.generation {
            return;
        }
        let now_nanos = if self.window.needs_time() {
            self.nanos(self.clock.now())
        } else {
            0
        };
        self.window.record(sample, now_nanos);
        if (outcome.is_failure() || w.has(PENDING)) && w.state() == BreakerState::Closed {
            self.maybe_trip(&self.core.load(), w, now_nanos);
        }
    }

    fn record_counted_slow(&self, adm: &Admission, outcome: Outcome) {
        let core = self.core.load();
        let window = self.window(&core);
        let now = if adm.timed() || window.needs_time() {
            Some(self.clock.now())
        } else {
            None
        };
        let slow = self.check_slow(&core.config, adm, now, outcome);
        let Some(sample) = Sample::new(outcome, slow) else {
            return;
        };
        let w = self.word();
        if w.generation() != adm.generation {
            return;
        }
        let now_nanos = now.map_or(0, |t| self.nanos(t));
        window.record(sample, now_nanos);
        if (outcome.is_failure() || slow || w.has(PENDING)) && w.state() == BreakerState::Closed {
            self.maybe_trip(&core, w, now_nanos);
        }
    }

    /// Whether the call was slow; emits the slow-call event if so.
    fn check_slow(
        &self,
        config: &BreakerConfig,
        adm: &Admission,
        now: Option<Instant>,
        outcome: Outcome,
    ) -> bool {
        let (true, Some(now), Some(limit)) = (adm.timed(), now, config.slow_call_duration) else {
            return false;
        };
        let took = Duration::from_nanos(self.nanos(now).saturating_sub(adm.start));
        if took < limit {
            return false;
        }
        self.bus.emit(SlowCall {
            breaker: self.name.clone(),
            duration: took,
            outcome,
        });
        true
    }

    #[cold]
    fn maybe_trip(&self, core: &Core, w: Word, now_nanos: u64) {
        let counts = self.window(core).counts(now_nanos);
        let undecided = counts.calls() < core.config.minimum_calls;
        if undecided != w.has(PENDING) {
            if undecided {
                self.word.0.fetch_or(PENDING, Ordering::AcqRel);
            } else {
                self.word.0.fetch_and(!PENDING, Ordering::AcqRel);
            }
        }
        if let Some(reason) = evaluate(&core.config, &counts, core.config.minimum_calls) {
            self.transition(Some(w.generation()), BreakerState::Open, reason);
        }
    }

    #[cold]
    fn record_probe(&self, adm: &Admission, outcome: Outcome) {
        if outcome == Outcome::Ignored {
            self.release_probe(adm.generation);
            return;
        }
        let core = self.core.load();
        let now = adm.timed().then(|| self.clock.now());
        let slow = self.check_slow(&core.config, adm, now, outcome);
        let required = core.config.half_open_probes;
        let (finished, changed) = {
            let mut ctl = self.control.lock();
            let w = self.word();
            if w.generation() != adm.generation || w.state() != BreakerState::HalfOpen {
                return;
            }
            ctl.probe_counts.add(outcome, slow);
            ctl.probes_finished += 1;
            let finished = ctl.probes_finished;
            let changed = if finished >= required {
                let (to, reason) = match evaluate(&core.config, &ctl.probe_counts, 1) {
                    Some(reason) => (BreakerState::Open, reason),
                    None => (BreakerState::Closed, TransitionReason::ProbesSucceeded),
                };
                self.transition_locked(&mut ctl, Some(adm.generation), to, reason)
            } else {
                None
            };
            (finished, changed)
        };
        self.bus.emit(ProbeResult {
            breaker: self.name.clone(),
            outcome,
            finished,
            required,
        });
        if let Some(ev) = changed {
            self.announce(ev);
        }
    }

    fn release_probe(&self, generation: u32) {
        let mut w = self.word();
        while w.generation() == generation && w.state() == BreakerState::HalfOpen && w.probes() > 0
        {
            match self.word.0.compare_exchange(
                w.0,
                w.with_probes(w.probes() - 1).0,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(actual) => w = Word(actual),
            }
        }
    }

    // ---------------------------------------------------------------- transitions

    /// Moves to `to` if the generation is still `expected` (`None`: unconditionally).
    /// Returns whether this call made the transition.
    pub(crate) fn transition(
        &self,
        expected: Option<u32>,
        to: BreakerState,
        reason: TransitionReason,
    ) -> bool {
        let changed = {
            let mut ctl = self.control.lock();
            self.transition_locked(&mut ctl, expected, to, reason)
        };
        match changed {
            Some(ev) => {
                self.announce(ev);
                true
            }
            None => false,
        }
    }

    fn transition_locked(
        &self,
        ctl: &mut Control,
        expected: Option<u32>,
        to: BreakerState,
        reason: TransitionReason,
    ) -> Option<StateChanged> {
        let cur = self.word();
        if expected.is_some_and(|g| g != cur.generation()) {
            return None;
        }
        let from = cur.state();
        let now = self.clock.now();
        let now_nanos = self.nanos(now);
        let core = self.core.load();
        let mut flags = cur.flags() & (SLOW | RESHAPED);
        match to {
            BreakerState::Open => {
                let repeated = from == BreakerState::HalfOpen || cur.has(RAMP);
                ctl.trips = if repeated {
                    ctl.trips.saturating_add(1)
                } else {
                    1
                };
                let open_for = core
                    .config
                    .open_backoff
                    .open_duration(core.config.open_duration, ctl.trips);
                let open_nanos = u64::try_from(open_for.as_nanos()).unwrap_or(u64::MAX);
                self.open_until
                    .store(now_nanos.saturating_add(open_nanos), Ordering::Release);
            }
            BreakerState::HalfOpen => {
                ctl.probe_counts = WindowCounts::default();
                ctl.probes_finished = 0;
            }
            BreakerState::Closed | BreakerState::MetricsOnly => {
                self.window(&core).clear();
                if reason == TransitionReason::ProbesSucceeded
                    && core.config.recovery_ramp.is_some()
                {
                    // Trips stay counted until the ramp completes: a trip during the ramp
                    // is a repeated trip.
                    self.ramp_start.store(now_nanos, Ordering::Release);
                    self.ramp_calls.store(0, Ordering::Relaxed);
                    flags |= RAMP;
                } else {
                    ctl.trips = 0;
                }
            }
            BreakerState::Disabled | BreakerState::ForcedOpen => {}
        }
        if reason == TransitionReason::Reset {
            ctl.trips = 0;
            self.callers.clear();
        }
        let next = Word::new(to, cur.generation().wrapping_add(1), flags);
        self.word.0.store(next.0, Ordering::Release);
        ctl.last = Some((from, to, reason, now));
        Some(StateChanged {
            breaker: self.name.clone(),
            from,
            to,
            reason,
        })
    }

    fn announce(&self, ev: StateChanged) {
        if ev.to == BreakerState::Open || ev.to == BreakerState::ForcedOpen {
            tracing::warn!(breaker = %ev.breaker, from = %ev.from, to = %ev.to, reason = %ev.reason, "foundation.breaker.state_change");
        } else {
            tracing::info!(breaker = %ev.breaker, from = %ev.from, to = %ev.to, reason = %ev.reason, "foundation.breaker.state_change");
        }
        self.bus.emit(ev);
    }

    // ---------------------------------------------------------------- reconfiguration

    /// Swaps in a validated config, keeping the state and the window's counts.
    pub(crate) fn reconfigure(&self, config: BreakerConfig) {
        let now = self.clock.now();
        let now_nanos = self.nanos(now);
        let core = {
            let _ctl = self.control.lock();
            let old = self.core.load();
            let current = self.window(&old);
            let reshaped = if current.shape() == config.window {
                old.reshaped.clone()
            } else {
                let counts = current.counts(now_nanos);
                if self.window.shape() == config.window {
                    // Back to the original shape: refill the built-in window.
                    self.window.clear();
                    self.window.seed(counts, now_nanos);
                    None
                } else {
                    let w = Window::new(config.window);
                    w.seed(counts, now_nanos);
                    Some(Arc::new(w))
                }
            };
            let slow = config.slow_call_duration.is_some();
            let ramp = config.recovery_ramp.is_some();
            let is_reshaped = reshaped.is_some();
            let core = Arc::new(Core { config, reshaped });
            self.core.store(core.clone());
            let mut w = self.word();
            loop {
                let next = w
                    .with_flag(SLOW, slow)
                    .with_flag(RESHAPED, is_reshaped)
                    .with_flag(RAMP, ramp && w.has(RAMP));
                match self
                    .word
                    .0
                    .compare_exchange(w.0, next.0, Ordering::AcqRel, Ordering::Acquire)
                {
                    Ok(_) => break,
                    Err(actual) => w = Word(actual),
                }
            }
            core
        };
        tracing::info!(breaker = %self.name, "foundation.breaker.reconfigured");
        let w = self.word();
        if w.state() == BreakerState::Closed {
            self.maybe_trip(&core, w, now_nanos);
        }
    }

    // ---------------------------------------------------------------- status

    pub(crate) fn status(&self) -> BreakerStatus {
        let now = self.clock.now();
        let now_nanos = self.nanos(now);
        let core = self.core.load();
        let ctl = self.control.lock();
        let w = self.word();
        let state = w.state();
        let window = self.window(&core).counts(now_nanos);
        let ramp_percent = if state == BreakerState::Closed && w.has(RAMP) {
            let elapsed = now_nanos.saturating_sub(self.ramp_start.load(Ordering::Acquire));
            ramp_fraction(&core.config, elapsed).map(|f| f * 100.0)
        } else {
            None
        };
        let open_remaining = (state == BreakerState::Open).then(|| {
            Duration::from_nanos(
                self.open_until
                    .load(Ordering::Acquire)
                    .saturating_sub(now_nanos),
            )
        });
        let probes = (state == BreakerState::HalfOpen).then(|| ProbeStatus {
            reserved: w.probes(),
            finished: ctl.probes_finished,
            required: core.config.half_open_probes,
            counts: ctl.probe_counts,
        });
        let last_transition = ctl.last.map(|(from, to, reason, at)| TransitionRecord {
            from,
            to,
            reason,
            at,
            ago: now.saturating_duration_since(at),
        });
        BreakerStatus {
            name: self.name.to_string(),
            state,
            ramp_percent,
            failure_rate: window.failure_rate(),
            slow_rate: window.slow_rate(),
            window,
            open_remaining,
            // A completed ramp ends the run of trips (the counter resets lazily at the next trip).
            consecutive_trips: if state == BreakerState::Closed && !w.has(RAMP) {
                0
            } else {
                ctl.trips
            },
            probes,
            last_transition,
            callers: self.callers.snapshot(),
        }
    }

    pub(crate) fn config(&self) -> BreakerConfig {
        self.core.load().config.clone()
    }
}

/// The fraction of calls the ramp admits `elapsed_nanos` into it, or `None` once it is over.
fn ramp_fraction(config: &BreakerConfig, elapsed_nanos: u64) -> Option<f64> {
    let ramp = config.recovery_ramp?.as_nanos() as f64;
    let elapsed = elapsed_nanos as f64;
    if elapsed >= ramp {
        return None;
    }
    let start = (config.ramp_start_percent / 100.0).clamp(0.0, 1.0);
    Some(start + (1.0 - start) * elapsed / ramp)
}

/// Whether `counts` breach a threshold of `config`, given at least `minimum_calls`.
pub(crate) fn evaluate(
    config: &BreakerConfig,
    counts: &WindowCounts,
    minimum_calls: u32,
) -> Option<TransitionReason> {
    if counts.calls() < minimum_calls.max(1) {
        return None;
    }
    let rate = counts.failure_rate();
    if rate >= config.failure_rate_threshold {
        return Some(TransitionReason::FailureRate {
            rate,
            threshold: config.failure_rate_threshold,
        });
    }
    for (class, threshold) in config.class_thresholds.iter() {
        let rate = counts.percent(counts.of(class));
        if let Some(threshold) = threshold
            && rate >= threshold
        {
            return Some(TransitionReason::ClassRate {
                class,
                rate,
                threshold,
            });
        }
    }
    if config.slow_call_duration.is_some() {
        let rate = counts.slow_rate();
        if rate >= config.slow_call_rate_threshold {
            return Some(TransitionReason::SlowCallRate {
                rate,
                threshold: config.slow_call_rate_threshold,
            });
        }
    }
    None
}
