//! The performance monitor: latency, throughput, error rate and resource usage per
//! operation, kept in process in minute, hour and day windows.
//!
//! - **Recording** is lock-free: an [`OperationHandle`] records with one relaxed atomic add
//!   into a per-thread shard of a log-linear histogram (0.78 % precision, like an
//!   `hdrhistogram` with two significant digits). Recording by name
//!   ([`Monitor::record_latency`]) adds a hash lookup under a read lock.
//! - **Windows**: recorders are drained into 10-second, minute, hour and day periods; a
//!   [`Summary`] of the last minute, hour or day (count, rate, throughput, error rate, avg,
//!   min, max, p50, p95, p99, p99.9) merges the window's periods exactly at bucket precision.
//! - **Baselines**: the same window length over the recent past (minutes of the last hour,
//!   hours of the last day, days of the last week) and the current window's
//!   [`Deviation`] from it.
//! - **Thresholds** per operation and metric, absolute or relative to the baseline, give
//!   [`Monitor::health`] and are evaluated on every tick of the background task
//!   ([`Monitor::spawn`]), which publishes `foundation.monitor.threshold_breached` and
//!   `foundation.monitor.threshold_cleared` on the telemetry bus.
//! - **Bounded**: at most [`MonitorConfig::max_operations`] operations and
//!   [`MonitorConfig::max_series_per_name`] label sets per name (the rest fold into
//!   overflow operations, counted by [`Monitor::folded`]); old periods are dropped on every
//!   tick and operations idle for more than a week are forgotten.
//! - **Telemetry**: the background task counts every event on the bus per (event, source)
//!   ([`Monitor::event_counts`]), so breakers, limiters, pools, agents and queues feed the
//!   monitor without wiring; a [`Protection`](foundation_protect::protection::Protection)
//!   built with `.observer(Arc::new(monitor.clone()))` reports every call under
//!   [`PROTECTION_OPERATION`] with label `protection`.
//!
//! ```
//! use std::time::Duration;
//! use foundation_observe::health::HealthStatus;
//! use foundation_observe::monitor::{Condition, Metric, Monitor, Threshold, Window};
//!
//! let monitor = Monitor::new();
//! let query = monitor.operation("db.query", &[("table", "users")])?;
//! for ms in 1..=100 {
//!     query.record(Duration::from_millis(ms));
//! }
//! query.record_error(Duration::from_millis(250));
//!
//! let minute = monitor.summary("db.query", &[("table", "users")], Window::Minute)?;
//! assert_eq!(minute.count, 101);
//! assert_eq!(minute.errors, 1);
//! let p99 = minute.p99.unwrap();
//! assert!(p99 >= Duration::from_millis(100) && p99 <= Duration::from_micros(100_800));
//!
//! monitor.set_threshold("db.query", &[], Threshold::new(Metric::P99, Window::Minute, Condition::Above(50.0)))?;
//! assert_eq!(monitor.health("db.query", &[("table", "users")])?.status, HealthStatus::Fail);
//! # Ok::<(), foundation_core::Error>(())
//! ```

mod config;
mod event_counts;
mod events;
mod histogram;
mod observer;
mod operation;
mod series;
mod summary;
mod task;
mod threshold;
mod window;

pub use config::MonitorConfig;
pub use event_counts::{EventCount, OVERFLOW_SOURCE};
pub use events::{ThresholdBreached, ThresholdCleared};
pub use histogram::Counts;
pub use observer::PROTECTION_OPERATION;
pub use operation::{MAX_LABELS, MAX_NAME_LEN, OperationKey, RESERVED_LABELS};
pub use summary::{Baseline, Deviation, Summary};
pub use task::MonitorTask;
pub use threshold::{
    Breach, Condition, Metric, OperationHealth, Severity, Threshold, ThresholdId, ThresholdRule,
};
pub use window::{Totals, Window};

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};

use foundation_core::telemetry::{Event, TelemetryBus};
use foundation_core::{Clock, Error, Result, Validate};

use event_counts::EventCounts;
use operation::KeyRef;
use series::Series;
use window::{History, Resolution};

/// The operation every new operation folds into once `max_operations` is reached.
pub const OVERFLOW_OPERATION: &str = "foundation.monitor.overflow";

/// The performance monitor. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Monitor {
    inner: Arc<Inner>,
}

struct Inner {
    config: MonitorConfig,
    shards: usize,
    clock: Clock,
    start: Instant,
    bus: TelemetryBus,
    table: RwLock<Table>,
    folded: AtomicU64,
    rules: RwLock<Vec<ThresholdRule>>,
    next_rule: AtomicU64,
    breached: Mutex<HashMap<(ThresholdId, OperationKey), Breach>>,
    events: Mutex<EventCounts>,
}

#[derive(Default)]
struct Table {
    series: hashbrown::HashMap<OperationKey, Arc<Series>>,
    per_name: HashMap<Arc<str>, usize>,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor")
            .field("operations", &self.inner.table.read().series.len())
            .field("thresholds", &self.inner.rules.read().len())
            .finish()
    }
}

impl Default for Monitor {
    fn default() -> Monitor {
        Monitor::new()
    }
}

impl Monitor {
    /// A monitor with the default config, the tokio clock and the global bus.
    pub fn new() -> Monitor {
        Monitor::builder()
            .build()
            .expect("the default config is valid")
    }

    /// Starts building a monitor.
    pub fn builder() -> MonitorBuilder {
        MonitorBuilder::default()
    }

    /// The monitor's config.
    pub fn config(&self) -> &MonitorConfig {
        &self.inner.config
    }

    /// A handle that records into operation `name` with `labels` without a lookup per
    /// record. Refuses a malformed name or label with `INVALID_INPUT`; past the cardinality
    /// limits the handle records into an overflow operation (see [`Monitor::folded`]).
    pub fn operation(&self, name: &str, labels: &[(&str, &str)]) -> Result<OperationHandle> {
        self.series(name, labels)
            .map(|series| OperationHandle { series })
    }

    /// Records one successful call of `latency`.
    pub fn record_latency(
        &self,
        name: &str,
        labels: &[(&str, &str)],
        latency: Duration,
    ) -> Result<()> {
        self.record_outcome(name, labels, latency, false)
    }

    /// Records one failed call of `latency`.
    pub fn record_error(
        &self,
        name: &str,
        labels: &[(&str, &str)],
        latency: Duration,
    ) -> Result<()> {
        self.record_outcome(name, labels, latency, true)
    }

    /// Records one call of `latency` that failed or not.
    pub fn record_outcome(
        &self,
        name: &str,
        labels: &[(&str, &str)],
        latency: Duration,
        failed: bool,
    ) -> Result<()> {
        self.series(name, labels)?.record(latency, failed);
        Ok(())
    }

    /// Records `units` items or bytes processed.
    pub fn record_throughput(&self, name: &str, labels: &[(&str, &str)], units: u64) -> Result<()> {
        self.series(name, labels)?.record_units(units);
        Ok(())
    }

    /// Records one sample of the operation's resource usage (bytes, connections...).
    pub fn record_resource(&self, name: &str, labels: &[(&str, &str)], value: u64) -> Result<()> {
        self.series(name, labels)?.record_resource(value);
        Ok(())
    }

    /// The operation's statistics over `window`. `NOT_FOUND` for an operation never
    /// recorded (or forgotten after a week idle).
    pub fn summary(&self, name: &str, labels: &[(&str, &str)], window: Window) -> Result<Summary> {
        let series = self.existing(name, labels)?;
        let elapsed = self.elapsed();
        Ok(series.with_history(elapsed, |h| summarise(h, window, elapsed)))
    }

    /// Every operation's statistics over `window` and its totals since first seen, sorted
    /// by operation.
    pub fn snapshot(&self, window: Window) -> Vec<OperationSnapshot> {
        let elapsed = self.elapsed();
        let mut all: Vec<OperationSnapshot> = self
            .all_series()
            .iter()
            .map(|s| {
                s.with_history(elapsed, |h| OperationSnapshot {
                    operation: s.key.clone(),
                    summary: summarise(h, window, elapsed),
                    totals: h.totals(),
                })
            })
            .collect();
        all.sort_by(|a, b| a.operation.cmp(&b.operation));
        all
    }

    /// What is normal for the operation over `window`'s length; `None` until
    /// [`MonitorConfig::baseline_min_periods`] past periods had calls.
    pub fn baseline(
        &self,
        name: &str,
        labels: &[(&str, &str)],
        window: Window,
    ) -> Result<Option<Baseline>> {
        let series = self.existing(name, labels)?;
        let elapsed = self.elapsed();
        Ok(series.with_history(elapsed, |h| self.learn(h, window, elapsed)))
    }

    /// How far the current `window` is from its baseline; `None` without a baseline.
    pub fn deviation(
        &self,
        name: &str,
        labels: &[(&str, &str)],
        window: Window,
    ) -> Result<Option<Deviation>> {
        let series = self.existing(name, labels)?;
        let elapsed = self.elapsed();
        Ok(series.with_history(elapsed, |h| {
            let baseline = self.learn(h, window, elapsed)?;
            Some(Deviation::between(summarise(h, window, elapsed), baseline))
        }))
    }

    /// Adds a threshold for every operation named `operation` carrying `labels` (empty:
    /// any labels), known now or recorded later. Refuses an out-of-range threshold with
    /// `INVALID_CONFIG` naming the field.
    pub fn set_threshold(
        &self,
        operation: &str,
        labels: &[(&str, &str)],
        threshold: Threshold,
    ) -> Result<ThresholdId> {
        OperationKey::new(operation, labels)?;
        threshold.validate_at("threshold")?;
        let id = ThresholdId(self.inner.next_rule.fetch_add(1, Ordering::Relaxed));
        self.inner.rules.write().push(ThresholdRule {
            id,
            operation: operation.to_string(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            threshold,
        });
        Ok(id)
    }

    /// Removes a threshold; `NOT_FOUND` if there is none with that id.
    pub fn remove_threshold(&self, id: ThresholdId) -> Result<()> {
        let mut rules = self.inner.rules.write();
        let before = rules.len();
        rules.retain(|r| r.id != id);
        if rules.len() == before {
            return Err(Error::not_found("threshold", id.0));
        }
        drop(rules);
        self.inner.breached.lock().retain(|(t, _), _| *t != id);
        Ok(())
    }

    /// Every threshold.
    pub fn thresholds(&self) -> Vec<ThresholdRule> {
        self.inner.rules.read().clone()
    }

    /// The operation's health against its thresholds, evaluated now.
    pub fn health(&self, name: &str, labels: &[(&str, &str)]) -> Result<OperationHealth> {
        let series = self.existing(name, labels)?;
        let rules = self.inner.rules.read().clone();
        Ok(self.evaluate(&series, &rules, self.elapsed()))
    }

    /// The breaches found at the last [`tick`](Monitor::tick), with the operation
    /// breaching each, sorted by operation.
    pub fn active_breaches(&self) -> Vec<(OperationKey, Breach)> {
        let mut all: Vec<(OperationKey, Breach)> = self
            .inner
            .breached
            .lock()
            .iter()
            .map(|((_, key), breach)| (key.clone(), breach.clone()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.threshold.cmp(&b.1.threshold)));
        all
    }

    /// Every operation, sorted.
    pub fn operations(&self) -> Vec<OperationKey> {
        let mut keys: Vec<OperationKey> = self.inner.table.read().series.keys().cloned().collect();
        keys.sort();
        keys
    }

    /// Records or handle requests folded into an overflow operation by the cardinality
    /// limits.
    pub fn folded(&self) -> u64 {
        self.inner.folded.load(Ordering::Relaxed)
    }

    /// Telemetry-bus events counted per (event, source) by the background task.
    pub fn event_counts(&self) -> Vec<EventCount> {
        self.inner.events.lock().snapshot()
    }

    /// Bus events counted under [`OVERFLOW_SOURCE`] because `max_event_series` was reached.
    pub fn events_folded(&self) -> u64 {
        self.inner.events.lock().folded()
    }

    /// Counts one telemetry event (the background task calls this for every bus event).
    pub fn count_event(&self, event: &dyn Event) {
        let limit = self.inner.config.max_event_series;
        self.inner
            .events
            .lock()
            .count(event.name(), event.source(), limit);
    }

    /// Periods held over every operation's windows (at most 98 per operation: 6 ten-second,
    /// 60 minute, 24 hour and 8 day periods).
    pub fn retained_periods(&self) -> usize {
        self.all_series()
            .iter()
            .map(|s| s.with_history(self.elapsed(), |h| h.periods()))
            .sum()
    }

    /// An estimate of the bytes the monitor holds: recorders, windows and keys.
    pub fn memory_bytes(&self) -> usize {
        self.all_series()
            .iter()
            .map(|s| s.memory_bytes())
            .sum::<usize>()
            + self.inner.table.read().series.capacity()
                * std::mem::size_of::<(OperationKey, Arc<Series>)>()
    }

    /// Drops history that only windows longer than `keep` need (`Minute`: hour and day
    /// windows and every baseline; `Hour`: day windows and day and hour baselines; `Day`:
    /// day baselines), to give memory back under pressure. Returns the heap bytes freed.
    pub fn trim_history(&self, keep: Window) -> usize {
        let drop: &[Resolution] = match keep {
            Window::Minute => &[Resolution::Minute, Resolution::Hour, Resolution::Day],
            Window::Hour => &[Resolution::Hour, Resolution::Day],
            Window::Day => &[Resolution::Day],
        };
        let elapsed = self.elapsed();
        self.all_series()
            .iter()
            .map(|s| s.with_history(elapsed, |h| drop.iter().map(|&r| h.clear(r)).sum::<usize>()))
            .sum()
    }

    /// One round of upkeep, as the background task runs it every tick: drains every
    /// recorder into its periods, drops expired periods, forgets operations with no history
    /// left that no handle holds, and evaluates thresholds, publishing breaches and
    /// recoveries on the bus.
    pub fn tick(&self) {
        let elapsed = self.elapsed();
        let rules = self.inner.rules.read().clone();
        let mut now_breached: HashMap<(ThresholdId, OperationKey), Breach> = HashMap::new();
        let mut idle = Vec::new();
        for series in self.all_series() {
            let empty = series.with_history(elapsed, |h| h.is_empty());
            // The table and `all_series` hold two references; a handle would be a third.
            if empty && Arc::strong_count(&series) <= 2 {
                idle.push(series.key.clone());
                continue;
            }
            if rules.iter().any(|r| r.applies_to(&series.key)) {
                for breach in self.evaluate(&series, &rules, elapsed).breaches {
                    now_breached.insert((breach.threshold, series.key.clone()), breach);
                }
            }
        }
        self.forget(&idle);
        let (breaches, cleared) = {
            let mut breached = self.inner.breached.lock();
            let cleared: Vec<(ThresholdId, OperationKey)> = breached
                .keys()
                .filter(|k| !now_breached.contains_key(k))
                .cloned()
                .collect();
            let new: Vec<(OperationKey, Breach)> = now_breached
                .iter()
                .filter(|(k, _)| !breached.contains_key(k))
                .map(|((_, key), b)| (key.clone(), b.clone()))
                .collect();
            *breached = now_breached;
            (new, cleared)
        };
        for (operation, breach) in breaches {
            tracing::warn!(operation = %operation, metric = breach.metric.as_str(), observed = breach.observed, limit = breach.limit, "foundation.monitor.threshold_breached");
            self.inner.bus.emit(ThresholdBreached { operation, breach });
        }
        for (threshold, operation) in cleared {
            tracing::info!(operation = %operation, threshold = threshold.0, "foundation.monitor.threshold_cleared");
            self.inner.bus.emit(ThresholdCleared {
                operation,
                threshold,
            });
        }
    }

    /// Starts the background task: [`tick`](Monitor::tick) every
    /// [`MonitorConfig::tick`], and counting every event on the bus. The task stops when
    /// the returned [`MonitorTask`] is stopped or dropped.
    pub fn spawn(&self) -> MonitorTask {
        task::spawn(self.clone(), &self.inner.bus)
    }

    fn elapsed(&self) -> Duration {
        self.inner
            .clock
            .now()
            .saturating_duration_since(self.inner.start)
    }

    fn all_series(&self) -> Vec<Arc<Series>> {
        self.inner.table.read().series.values().cloned().collect()
    }

    fn forget(&self, keys: &[OperationKey]) {
        if keys.is_empty() {
            return;
        }
        let mut table = self.inner.table.write();
        for key in keys {
            let idle = table
                .series
                .get(key)
                .is_some_and(|s| Arc::strong_count(s) == 1);
            if idle && let Some((key, _)) = table.series.remove_entry(key) {
                decrement(&mut table.per_name, key.name());
            }
        }
    }

    fn learn(&self, history: &History, window: Window, elapsed: Duration) -> Option<Baseline> {
        let (past, periods) = history.past_periods(window, elapsed);
        Baseline::learn(
            window,
            past.into_iter(),
            periods,
            self.inner.config.baseline_min_periods,
        )
    }

    fn evaluate(
        &self,
        series: &Series,
        rules: &[ThresholdRule],
        elapsed: Duration,
    ) -> OperationHealth {
        let applicable: Vec<&ThresholdRule> =
            rules.iter().filter(|r| r.applies_to(&series.key)).collect();
        let (breaches, not_evaluated) = series.with_history(elapsed, |h| {
            let mut summaries: HashMap<Window, Summary> = HashMap::new();
            let mut baselines: HashMap<Window, Option<Baseline>> = HashMap::new();
            let (mut breaches, mut not_evaluated) = (Vec::new(), Vec::new());
            for rule in applicable {
                let t = &rule.threshold;
                let summary = summaries
                    .entry(t.window)
                    .or_insert_with(|| summarise(h, t.window, elapsed));
                let baseline = match t.condition {
                    Condition::AboveBaseline(_) | Condition::BelowBaseline(_) => baselines
                        .entry(t.window)
                        .or_insert_with(|| self.learn(h, t.window, elapsed))
                        .as_ref(),
                    Condition::Above(_) | Condition::Below(_) => None,
                };
                match t.check(summary, baseline) {
                    None => not_evaluated.push(rule.id),
                    Some((observed, limit, true)) => breaches.push(Breach {
                        threshold: rule.id,
                        metric: t.metric,
                        window: t.window,
                        severity: t.severity,
                        observed,
                        limit,
                    }),
                    Some(_) => {}
                }
            }
            (breaches, not_evaluated)
        });
        OperationHealth::new(series.key.clone(), breaches, not_evaluated)
    }

    /// The series for `name` + `labels`, created (or folded into an overflow series)
    /// if new.
    fn series(&self, name: &str, labels: &[(&str, &str)]) -> Result<Arc<Series>> {
        if let Some(found) = self.lookup(name, labels) {
            return Ok(found);
        }
        let key = OperationKey::new(name, labels)?;
        let mut table = self.inner.table.write();
        if let Some(found) = table.series.get(&key) {
            return Ok(found.clone());
        }
        let config = &self.inner.config;
        let key = if table.series.len() >= config.max_operations {
            self.inner.folded.fetch_add(1, Ordering::Relaxed);
            OperationKey::trusted(OVERFLOW_OPERATION, &[])
        } else if table.per_name.get(key.name()).copied().unwrap_or(0) >= config.max_series_per_name
        {
            self.inner.folded.fetch_add(1, Ordering::Relaxed);
            OperationKey::trusted(key.name(), &[("overflow", "true")])
        } else {
            key
        };
        if let Some(found) = table.series.get(&key) {
            return Ok(found.clone());
        }
        let series = Arc::new(Series::new(key.clone(), self.inner.shards));
        *table.per_name.entry(Arc::from(key.name())).or_insert(0) += 1;
        table.series.insert(key, series.clone());
        Ok(series)
    }

    /// An existing series, without allocating when `labels` are sorted.
    fn lookup(&self, name: &str, labels: &[(&str, &str)]) -> Option<Arc<Series>> {
        let sorted;
        let labels = if labels.is_sorted() {
            labels
        } else {
            let mut owned = labels.to_vec();
            owned.sort_unstable();
            sorted = owned;
            &sorted[..]
        };
        self.inner
            .table
            .read()
            .series
            .get(&KeyRef { name, labels })
            .cloned()
    }

    fn existing(&self, name: &str, labels: &[(&str, &str)]) -> Result<Arc<Series>> {
        self.lookup(name, labels).ok_or_else(|| {
            let key = OperationKey::new(name, labels)
                .map_or_else(|_| name.to_string(), |k| k.to_string());
            Error::not_found("operation", key)
        })
    }
}

fn decrement(per_name: &mut HashMap<Arc<str>, usize>, name: &str) {
    if let Some(n) = per_name.get_mut(name) {
        *n -= 1;
        if *n == 0 {
            per_name.remove(name);
        }
    }
}

/// The summary of `window` ending at `elapsed`.
fn summarise(history: &History, window: Window, elapsed: Duration) -> Summary {
    let res = window.ring();
    let first = (res.period(elapsed) + 1).saturating_sub(res.capacity());
    let covered = elapsed.saturating_sub(Duration::from_secs(first * res.seconds()));
    Summary::from_slot(window, covered, &history.window(window, elapsed))
}

/// One operation's window and totals, from [`Monitor::snapshot`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OperationSnapshot {
    /// The operation.
    pub operation: OperationKey,
    /// Its statistics over the window asked for.
    pub summary: Summary,
    /// Everything it recorded since first seen.
    pub totals: Totals,
}

/// Records into one operation without a lookup. Cheap to clone.
#[derive(Clone)]
pub struct OperationHandle {
    series: Arc<Series>,
}

impl std::fmt::Debug for OperationHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("OperationHandle")
            .field(&self.series.key)
            .finish()
    }
}

impl OperationHandle {
    /// The operation recorded into (an overflow operation if the limits folded it).
    pub fn key(&self) -> &OperationKey {
        &self.series.key
    }

    /// Records one successful call of `latency`.
    #[inline]
    pub fn record(&self, latency: Duration) {
        self.series.record(latency, false);
    }

    /// Records one failed call of `latency`.
    #[inline]
    pub fn record_error(&self, latency: Duration) {
        self.series.record(latency, true);
    }

    /// Records one call of `latency` that failed or not.
    #[inline]
    pub fn record_outcome(&self, latency: Duration, failed: bool) {
        self.series.record(latency, failed);
    }

    /// Records `units` items or bytes processed.
    #[inline]
    pub fn record_throughput(&self, units: u64) {
        self.series.record_units(units);
    }

    /// Records one sample of the operation's resource usage.
    #[inline]
    pub fn record_resource(&self, value: u64) {
        self.series.record_resource(value);
    }
}

/// Builds a [`Monitor`].
#[derive(Debug, Default)]
pub struct MonitorBuilder {
    config: MonitorConfig,
    clock: Option<Clock>,
    bus: Option<TelemetryBus>,
}

impl MonitorBuilder {
    /// Sets the config.
    pub fn config(mut self, config: MonitorConfig) -> Self {
        self.config = config;
        self
    }

    /// Sets the clock periods are counted on (default: tokio's).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Sets the bus the monitor publishes on and counts (default: the global bus).
    pub fn bus(mut self, bus: TelemetryBus) -> Self {
        self.bus = Some(bus);
        self
    }

    /// Builds the monitor; `INVALID_CONFIG` naming each bad field.
    pub fn build(self) -> Result<Monitor> {
        self.config.validate_at("monitor")?;
        let clock = self.clock.unwrap_or_default();
        Ok(Monitor {
            inner: Arc::new(Inner {
                shards: self.config.shard_count(),
                config: self.config,
                start: clock.now(),
                clock,
                bus: self.bus.unwrap_or_else(|| TelemetryBus::global().clone()),
                table: RwLock::new(Table::default()),
                folded: AtomicU64::new(0),
                rules: RwLock::new(Vec::new()),
                next_rule: AtomicU64::new(1),
                breached: Mutex::new(HashMap::new()),
                events: Mutex::new(EventCounts::default()),
            }),
        })
    }
}
