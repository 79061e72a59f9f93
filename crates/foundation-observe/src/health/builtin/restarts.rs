//! [`RestartsCheck`]: supervised agents restarting too often, read from the telemetry bus.
//!
//! Observe does not depend on the runtime, so the check matches the supervisor's events by
//! name: `foundation.supervisor.child_restarted` (one restart; its source is the
//! supervisor) and `foundation.supervisor.gave_up` (the supervisor exceeded its restart
//! intensity and stopped).

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use foundation_core::{Clock, Result, Subscription, TelemetryBus, Validate, Validator};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::{grade, validate_fail_not_below_warn};
use crate::health::check::{HealthCheck, Observation};
use crate::health::status::HealthStatus;

/// The event of one restart.
const RESTARTED: &str = "foundation.supervisor.child_restarted";
/// The event of a supervisor giving up.
const GAVE_UP: &str = "foundation.supervisor.gave_up";
/// The prefix both share.
const PREFIX: &str = "foundation.supervisor.";
/// The largest event buffer accepted.
const MAX_BUFFER: usize = 1 << 20;

/// Thresholds of [`RestartsCheck`], per supervisor within a sliding window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RestartsCheckConfig {
    /// The sliding window restarts are counted over (default 60 s; above zero).
    #[serde(rename = "window_ms", with = "foundation_core::millis")]
    pub window: Duration,
    /// Warn when one supervisor restarted children this many times in the window (default
    /// 3; at least 1).
    pub warn_restarts: u32,
    /// Fail from this many (default none: only a supervisor giving up fails; not below
    /// `warn_restarts`).
    pub fail_restarts: Option<u32>,
    /// Supervisor events buffered between two runs of the check (default 1,024; 1 to
    /// 1,048,576). Events beyond it are missed, and the check then warns, saying so.
    pub buffer: usize,
}

impl Default for RestartsCheckConfig {
    fn default() -> Self {
        RestartsCheckConfig {
            window: Duration::from_secs(60),
            warn_restarts: 3,
            fail_restarts: None,
            buffer: 1_024,
        }
    }
}

impl Validate for RestartsCheckConfig {
    fn validate_into(&self, v: &mut Validator) {
        v.positive_duration("window_ms", self.window)
            .at_least_one("warn_restarts", u64::from(self.warn_restarts));
        validate_fail_not_below_warn(
            v,
            "warn_restarts",
            self.warn_restarts,
            "fail_restarts",
            self.fail_restarts,
        );
        v.check(
            (1..=MAX_BUFFER).contains(&self.buffer),
            "buffer",
            format_args!("must be within 1..={MAX_BUFFER}, got {}", self.buffer),
        );
    }
}

/// `agents:restarts`: the most restarts under one supervisor within the window; fails while
/// a supervisor that gave up is within the window.
///
/// The check subscribes when built and reads the buffered events each time it runs; a
/// restart counts from the run that reads it, so restarts are timed to within the interval
/// between runs (a probe every few seconds keeps that small).
pub struct RestartsCheck {
    clock: Clock,
    config: RestartsCheckConfig,
    state: Mutex<State>,
}

struct State {
    subscription: Subscription,
    /// Restart times per supervisor, oldest first, within the window.
    restarts: BTreeMap<String, VecDeque<Instant>>,
    /// When each supervisor last gave up, within the window.
    gave_up: BTreeMap<String, Instant>,
    /// The subscription's dropped count at the previous run.
    missed_seen: u64,
}

impl std::fmt::Debug for RestartsCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestartsCheck")
            .field("config", &self.config)
            .finish()
    }
}

impl RestartsCheck {
    /// Subscribes to `bus`'s supervisor events; times them on `clock`. `INVALID_CONFIG`
    /// naming the field.
    pub fn new(
        bus: &TelemetryBus,
        clock: Clock,
        config: RestartsCheckConfig,
    ) -> Result<RestartsCheck> {
        config.validate()?;
        let subscription = bus.subscribe_prefix(PREFIX, config.buffer);
        Ok(RestartsCheck {
            clock,
            config,
            state: Mutex::new(State {
                subscription,
                restarts: BTreeMap::new(),
                gave_up: BTreeMap::new(),
                missed_seen: 0,
            }),
        })
    }

    fn observe(&self) -> Observation {
        let now = self.clock.now();
        let window = self.config.window;
        let in_window = |at: &Instant| now.saturating_duration_since(*at) < window;
        let mut state = self.state.lock();
        let state = &mut *state;
        for event in state.subscription.drain() {
            match event.name() {
                RESTARTED => {
                    let times = state
                        .restarts
                        .entry(event.source().to_string())
                        .or_default();
                    if times.len() >= self.config.buffer {
                        times.pop_front();
                    }
                    times.push_back(now);
                }
                GAVE_UP => {
                    state.gave_up.insert(event.source().to_string(), now);
                }
                _ => {}
            }
        }
        for times in state.restarts.values_mut() {
            while times.front().is_some_and(|at| !in_window(at)) {
                times.pop_front();
            }
        }
        state.restarts.retain(|_, times| !times.is_empty());
        state.gave_up.retain(|_, at| in_window(at));
        let dropped = state.subscription.dropped();
        let missed = dropped - state.missed_seen.min(dropped);
        state.missed_seen = dropped;

        let most = state
            .restarts
            .values()
            .map(VecDeque::len)
            .max()
            .unwrap_or(0);
        let most = u32::try_from(most).unwrap_or(u32::MAX);
        let mut status = grade(most, self.config.warn_restarts, self.config.fail_restarts);
        let mut notes: Vec<String> = state
            .restarts
            .iter()
            .map(|(supervisor, times)| {
                format!(
                    "supervisor \"{supervisor}\" restarted children {} times in the last {} ms",
                    times.len(),
                    window.as_millis()
                )
            })
            .collect();
        if !state.gave_up.is_empty() {
            status = HealthStatus::Fail;
            notes.extend(
                state
                    .gave_up
                    .keys()
                    .map(|supervisor| format!("supervisor \"{supervisor}\" gave up")),
            );
        }
        if missed > 0 {
            status = status.max(HealthStatus::Warn);
            notes.push(format!(
                "{missed} supervisor events missed (buffer of {} full)",
                self.config.buffer
            ));
        }
        let output = if notes.is_empty() {
            format!("no restarts in the last {} ms", window.as_millis())
        } else {
            notes.join("; ")
        };
        Observation::with_status(status)
            .value(most)
            .unit("restarts")
            .output(output)
    }
}

impl HealthCheck for RestartsCheck {
    fn component(&self) -> &str {
        "agents"
    }

    fn measurement(&self) -> &str {
        "restarts"
    }

    async fn check(&self) -> Observation {
        self.observe()
    }
}
