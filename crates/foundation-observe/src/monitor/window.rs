//! Time windows: rings of periods per resolution, each period a mergeable [`Slot`].
//!
//! Every drained delta is added to the current period of all four rings (10-second,
//! minute, hour and day periods), so each window is read from its own ring without
//! re-merging at period boundaries:
//!
//! | window | ring | periods kept | read as |
//! | --- | --- | --- | --- |
//! | minute | 10 s | 6 | the last 6 ten-second periods (50–60 s, the current one partial) |
//! | hour | 1 min | 60 | the last 60 minute periods |
//! | day | 1 h | 24 | the last 24 hour periods |
//! | (baseline of day) | 1 day | 8 | earlier days |
//!
//! Periods are counted from the monitor's start on its clock.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::histogram::Counts;

/// A trailing window to summarise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    /// The last minute (in six 10-second periods).
    Minute,
    /// The last hour (in sixty 1-minute periods).
    Hour,
    /// The last day (in twenty-four 1-hour periods).
    Day,
}

impl Window {
    /// Every window, shortest first.
    pub const ALL: [Window; 3] = [Window::Minute, Window::Hour, Window::Day];

    /// The window's length.
    pub const fn length(self) -> Duration {
        match self {
            Window::Minute => Duration::from_secs(60),
            Window::Hour => Duration::from_secs(3_600),
            Window::Day => Duration::from_secs(86_400),
        }
    }

    /// The lower-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Window::Minute => "minute",
            Window::Hour => "hour",
            Window::Day => "day",
        }
    }

    /// The ring the window is read from.
    pub(crate) const fn ring(self) -> Resolution {
        match self {
            Window::Minute => Resolution::TenSeconds,
            Window::Hour => Resolution::Minute,
            Window::Day => Resolution::Hour,
        }
    }

    /// The ring whose periods are one window long: a baseline's samples.
    pub(crate) const fn baseline_ring(self) -> Resolution {
        match self {
            Window::Minute => Resolution::Minute,
            Window::Hour => Resolution::Hour,
            Window::Day => Resolution::Day,
        }
    }
}

/// One ring's period length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resolution {
    TenSeconds,
    Minute,
    Hour,
    Day,
}

impl Resolution {
    pub(crate) const ALL: [Resolution; 4] = [
        Resolution::TenSeconds,
        Resolution::Minute,
        Resolution::Hour,
        Resolution::Day,
    ];

    pub(crate) const fn seconds(self) -> u64 {
        match self {
            Resolution::TenSeconds => 10,
            Resolution::Minute => 60,
            Resolution::Hour => 3_600,
            Resolution::Day => 86_400,
        }
    }

    /// Periods kept: one window's worth, or (minute, hour, day) a baseline's.
    pub(crate) const fn capacity(self) -> u64 {
        match self {
            Resolution::TenSeconds => 6,
            Resolution::Minute => 60,
            Resolution::Hour => 24,
            Resolution::Day => 8,
        }
    }

    const fn index(self) -> usize {
        self as usize
    }

    /// The period that `elapsed` (since the monitor's start) falls in.
    pub(crate) fn period(self, elapsed: Duration) -> u64 {
        elapsed.as_secs() / self.seconds()
    }
}

/// Gauge samples of a resource (bytes, connections...).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ResourceStats {
    pub(crate) samples: u64,
    pub(crate) sum: u64,
    pub(crate) max: u64,
}

impl ResourceStats {
    pub(crate) fn merge(&mut self, other: &ResourceStats) {
        self.samples += other.samples;
        self.sum = self.sum.saturating_add(other.sum);
        self.max = self.max.max(other.max);
    }
}

/// What was recorded in one period (or, merged, in a window).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) latency: Counts,
    pub(crate) errors: u64,
    pub(crate) units: u64,
    pub(crate) resource: ResourceStats,
}

impl Slot {
    pub(crate) fn is_empty(&self) -> bool {
        self.latency.is_empty() && self.errors == 0 && self.units == 0 && self.resource.samples == 0
    }

    pub(crate) fn merge(&mut self, other: &Slot) {
        self.latency.merge(&other.latency);
        self.errors += other.errors;
        self.units += other.units;
        self.resource.merge(&other.resource);
    }

    fn heap_bytes(&self) -> usize {
        self.latency.heap_bytes()
    }
}

/// The periods of one resolution, oldest first.
#[derive(Debug, Default)]
struct Ring {
    periods: VecDeque<(u64, Slot)>,
}

impl Ring {
    fn add(&mut self, period: u64, delta: &Slot) {
        match self.periods.back_mut() {
            Some((p, slot)) if *p == period => slot.merge(delta),
            _ => self.periods.push_back((period, delta.clone())),
        }
    }

    /// Drops periods older than `capacity` periods before `current`.
    fn expire(&mut self, current: u64, capacity: u64) {
        while self
            .periods
            .front()
            .is_some_and(|(p, _)| p + capacity <= current)
        {
            self.periods.pop_front();
        }
    }
}

/// Everything an operation recorded since it was first seen: the cumulative counts that
/// Prometheus counters and summaries carry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Totals {
    /// Calls.
    pub count: u64,
    /// Failed calls.
    pub errors: u64,
    /// Units recorded with `record_throughput`.
    pub units: u64,
    /// Sum of the calls' latencies in seconds, from bucket midpoints (within 0.4 %).
    pub latency_seconds: f64,
}

/// The windows of one operation.
#[derive(Debug, Default)]
pub(crate) struct History {
    rings: [Ring; 4],
    totals: Totals,
}

impl History {
    /// Adds a drained delta to the current period of every ring.
    pub(crate) fn add(&mut self, elapsed: Duration, delta: &Slot) {
        if delta.is_empty() {
            return;
        }
        self.totals.count += delta.latency.total();
        self.totals.errors += delta.errors;
        self.totals.units += delta.units;
        self.totals.latency_seconds +=
            delta.latency.mean().unwrap_or(0.0) * delta.latency.total() as f64 / 1e9;
        for res in Resolution::ALL {
            self.rings[res.index()].add(res.period(elapsed), delta);
        }
    }

    /// Drops every period older than its ring keeps.
    pub(crate) fn expire(&mut self, elapsed: Duration) {
        for res in Resolution::ALL {
            self.rings[res.index()].expire(res.period(elapsed), res.capacity());
        }
    }

    /// Drops all periods of `res`, returning the heap bytes freed.
    pub(crate) fn clear(&mut self, res: Resolution) -> usize {
        let ring = &mut self.rings[res.index()];
        let freed = ring.periods.iter().map(|(_, s)| s.heap_bytes()).sum();
        ring.periods = VecDeque::new();
        freed
    }

    /// The merged slot of `window`, ending at `elapsed`.
    pub(crate) fn window(&self, window: Window, elapsed: Duration) -> Slot {
        let res = window.ring();
        let current = res.period(elapsed);
        let mut merged = Slot::default();
        for (_, slot) in self.rings[res.index()]
            .periods
            .iter()
            .filter(|(p, _)| p + res.capacity() > current)
        {
            merged.merge(slot);
        }
        merged
    }

    /// The complete periods of `window`'s length that ended before the window began (the
    /// samples a baseline learns from): the active ones, and how many periods that span
    /// (idle ones included).
    pub(crate) fn past_periods(&self, window: Window, elapsed: Duration) -> (Vec<&Slot>, u64) {
        let res = window.baseline_ring();
        let current = res.period(elapsed);
        // The window covers (up to) the current and the previous period of this length.
        let first_in_window = current.saturating_sub(1);
        let oldest_kept = (current + 1).saturating_sub(res.capacity());
        let active = self.rings[res.index()]
            .periods
            .iter()
            .filter(|(p, _)| *p < first_in_window && *p >= oldest_kept)
            .map(|(_, s)| s)
            .collect();
        (active, first_in_window.saturating_sub(oldest_kept))
    }

    /// Everything recorded since the operation was first seen.
    pub(crate) fn totals(&self) -> Totals {
        self.totals
    }

    /// Whether nothing is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.rings.iter().all(|r| r.periods.is_empty())
    }

    /// Periods held in all rings.
    pub(crate) fn periods(&self) -> usize {
        self.rings.iter().map(|r| r.periods.len()).sum()
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.rings
            .iter()
            .map(|r| {
                r.periods.capacity() * std::mem::size_of::<(u64, Slot)>()
                    + r.periods.iter().map(|(_, s)| s.heap_bytes()).sum::<usize>()
            })
            .sum()
    }
}
