//! Per-caller counts (an agent or caller id per call), bounded: the first
//! `max_tracked_callers` distinct callers get their own counters, later ones share the
//! [`OTHER_CALLER`] bucket.
//!
//! Lookups are lock-free (a shared map behind `ArcSwap`); only the first call of a new caller
//! takes a short lock to add it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;
use parking_lot::Mutex;
use serde::Serialize;

use crate::outcome::Outcome;

/// The caller name under which untracked callers are counted.
pub const OTHER_CALLER: &str = "other";

/// Cumulative counters of one caller (since creation or the last reset).
#[derive(Default)]
pub(crate) struct CallerCounters {
    outcomes: [AtomicU64; 5],
    rejected: AtomicU64,
}

impl CallerCounters {
    pub(crate) fn record(&self, outcome: Outcome) {
        self.outcomes[outcome.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn reject(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self, caller: &str) -> CallerStatus {
        let get = |o: Outcome| self.outcomes[o.index()].load(Ordering::Relaxed);
        CallerStatus {
            caller: caller.to_string(),
            success: get(Outcome::Success),
            network: get(Outcome::Network),
            timeout: get(Outcome::Timeout),
            application: get(Outcome::Application),
            ignored: get(Outcome::Ignored),
            rejected: self.rejected.load(Ordering::Relaxed),
        }
    }
}

/// One caller's counts in a [`BreakerStatus`](super::BreakerStatus).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallerStatus {
    /// The caller id, or [`OTHER_CALLER`] for callers beyond the tracked limit.
    pub caller: String,
    /// Successful calls.
    pub success: u64,
    /// Network failures.
    pub network: u64,
    /// Timeouts.
    pub timeout: u64,
    /// Application failures.
    pub application: u64,
    /// Calls whose outcome was ignored.
    pub ignored: u64,
    /// Calls the breaker refused.
    pub rejected: u64,
}

impl CallerStatus {
    /// Network + timeout + application failures.
    pub fn failures(&self) -> u64 {
        self.network + self.timeout + self.application
    }
}

type CallerMap = HashMap<Arc<str>, Arc<CallerCounters>>;

/// The bounded table of callers.
pub(crate) struct Callers {
    map: ArcSwap<CallerMap>,
    other: Arc<CallerCounters>,
    adding: Mutex<()>,
}

impl Callers {
    pub(crate) fn new() -> Callers {
        Callers {
            map: ArcSwap::from_pointee(HashMap::new()),
            other: Arc::default(),
            adding: Mutex::new(()),
        }
    }

    /// The counters of `caller`, adding it if there is room under `cap`.
    pub(crate) fn get(&self, caller: &str, cap: u32) -> Arc<CallerCounters> {
        if let Some(c) = self.map.load().get(caller) {
            return c.clone();
        }
        let _adding = self.adding.lock();
        let map = self.map.load();
        if let Some(c) = map.get(caller) {
            return c.clone();
        }
        if map.len() >= cap as usize || caller == OTHER_CALLER {
            return self.other.clone();
        }
        let counters = Arc::new(CallerCounters::default());
        let mut next = CallerMap::with_capacity(map.len() + 1);
        next.extend(map.iter().map(|(k, v)| (k.clone(), v.clone())));
        next.insert(Arc::from(caller), counters.clone());
        self.map.store(Arc::new(next));
        counters
    }

    /// Every tracked caller, sorted by name, then `"other"` if it saw any call.
    pub(crate) fn snapshot(&self) -> Vec<CallerStatus> {
        let map = self.map.load();
        let mut out: Vec<CallerStatus> = map.iter().map(|(k, v)| v.snapshot(k)).collect();
        out.sort_by(|a, b| a.caller.cmp(&b.caller));
        let other = self.other.snapshot(OTHER_CALLER);
        if other.success + other.failures() + other.ignored + other.rejected > 0 {
            out.push(other);
        }
        out
    }

    /// Forgets every caller.
    pub(crate) fn clear(&self) {
        let _adding = self.adding.lock();
        self.map.store(Arc::new(HashMap::new()));
        for c in &self.other.outcomes {
            c.store(0, Ordering::Relaxed);
        }
        self.other.rejected.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callers_beyond_the_cap_fold_into_other() {
        let callers = Callers::new();
        for name in ["a", "b", "c", "d"] {
            callers.get(name, 2).record(Outcome::Network);
        }
        callers.get("a", 2).record(Outcome::Success);
        let snap = callers.snapshot();
        let names: Vec<&str> = snap.iter().map(|c| c.caller.as_str()).collect();
        assert_eq!(names, ["a", "b", "other"]);
        assert_eq!((snap[0].success, snap[0].network), (1, 1));
        assert_eq!(snap[2].network, 2);
    }
}
