//! What a window says: [`Summary`], and what is normal: [`Baseline`] and [`Deviation`].

use std::time::Duration;

use serde::Serialize;

use super::window::{Slot, Window};

/// The statistics of one operation over one window. Latencies are exact within the
/// histogram's precision (0.78 %); JSON carries them as fractional milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// The window summarised.
    pub window: Window,
    /// The time the window actually covers (shorter than its length just after start).
    #[serde(rename = "covered_ms", with = "fractional_ms")]
    pub covered: Duration,
    /// Calls recorded.
    pub count: u64,
    /// Calls that failed.
    pub errors: u64,
    /// `errors / count` (0 when there were no calls).
    pub error_rate: f64,
    /// Calls per second over the covered time.
    pub rate: f64,
    /// Units (items, bytes) per second recorded with `record_throughput`.
    pub throughput: f64,
    /// Mean latency.
    #[serde(rename = "avg_ms", with = "fractional_ms::option")]
    pub avg: Option<Duration>,
    /// Lowest latency.
    #[serde(rename = "min_ms", with = "fractional_ms::option")]
    pub min: Option<Duration>,
    /// Highest latency.
    #[serde(rename = "max_ms", with = "fractional_ms::option")]
    pub max: Option<Duration>,
    /// Median latency.
    #[serde(rename = "p50_ms", with = "fractional_ms::option")]
    pub p50: Option<Duration>,
    /// 95th percentile latency.
    #[serde(rename = "p95_ms", with = "fractional_ms::option")]
    pub p95: Option<Duration>,
    /// 99th percentile latency.
    #[serde(rename = "p99_ms", with = "fractional_ms::option")]
    pub p99: Option<Duration>,
    /// 99.9th percentile latency.
    #[serde(rename = "p999_ms", with = "fractional_ms::option")]
    pub p999: Option<Duration>,
    /// Mean of the resource samples recorded with `record_resource`, if any.
    pub resource_avg: Option<f64>,
    /// Highest resource sample.
    pub resource_max: Option<u64>,
}

impl Summary {
    pub(crate) fn from_slot(window: Window, covered: Duration, slot: &Slot) -> Summary {
        let count = slot.latency.total();
        // A window just started still counts as one second, so one call is not a burst.
        let secs = covered.as_secs_f64().max(1.0);
        let q = |q: f64| slot.latency.value_at_quantile(q).map(Duration::from_nanos);
        let res = slot.resource;
        Summary {
            window,
            covered,
            count,
            errors: slot.errors,
            error_rate: ratio(slot.errors, count),
            rate: count as f64 / secs,
            throughput: slot.units as f64 / secs,
            avg: slot
                .latency
                .mean()
                .map(|m| Duration::from_nanos(m.round() as u64)),
            min: slot.latency.min().map(Duration::from_nanos),
            max: slot.latency.max().map(Duration::from_nanos),
            p50: q(0.50),
            p95: q(0.95),
            p99: q(0.99),
            p999: q(0.999),
            resource_avg: (res.samples > 0).then(|| res.sum as f64 / res.samples as f64),
            resource_max: (res.samples > 0).then_some(res.max),
        }
    }
}

/// The learned normal of an operation for one window length: the windows of the same
/// length before the current one (minutes over the last hour, hours over the last day,
/// days over the last week), idle ones counted as zero calls.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Baseline {
    /// The window length the baseline is for.
    pub window: Window,
    /// Past periods learned from (idle ones included).
    pub periods: u64,
    /// Past periods in which the operation was called.
    pub active_periods: u64,
    /// Mean calls per second across the periods.
    pub rate: f64,
    /// Standard deviation of the per-period rate.
    pub rate_stddev: f64,
    /// Errors over calls across the periods.
    pub error_rate: f64,
    /// Median latency of all the periods' calls together.
    #[serde(rename = "p50_ms", with = "fractional_ms::option")]
    pub p50: Option<Duration>,
    /// 95th percentile latency of all the periods' calls together.
    #[serde(rename = "p95_ms", with = "fractional_ms::option")]
    pub p95: Option<Duration>,
    /// 99th percentile latency of all the periods' calls together.
    #[serde(rename = "p99_ms", with = "fractional_ms::option")]
    pub p99: Option<Duration>,
    /// Mean latency of all the periods' calls together.
    #[serde(rename = "avg_ms", with = "fractional_ms::option")]
    pub avg: Option<Duration>,
    /// Standard deviation of the active periods' p99.
    #[serde(rename = "p99_stddev_ms", with = "fractional_ms::option")]
    pub p99_stddev: Option<Duration>,
}

impl Baseline {
    /// Learns from `past` (the active periods) spread over `periods` periods of `window`'s
    /// length. `None` when fewer than `min_active` were active.
    pub(crate) fn learn<'a>(
        window: Window,
        past: impl Iterator<Item = &'a Slot>,
        periods: u64,
        min_active: u64,
    ) -> Option<Baseline> {
        let past: Vec<&Slot> = past.collect();
        let active = past.len() as u64;
        if active < min_active.max(1) || periods == 0 {
            return None;
        }
        let secs = window.length().as_secs_f64();
        let mut merged = Slot::default();
        past.iter().for_each(|s| merged.merge(s));
        let rates: Vec<f64> = past
            .iter()
            .map(|s| s.latency.total() as f64 / secs)
            .collect();
        let idle = periods.saturating_sub(active);
        let rate_mean = rates.iter().sum::<f64>() / periods as f64;
        let rate_var = (rates.iter().map(|r| (r - rate_mean).powi(2)).sum::<f64>()
            + idle as f64 * rate_mean.powi(2))
            / periods as f64;
        let p99s: Vec<f64> = past
            .iter()
            .filter_map(|s| s.latency.value_at_quantile(0.99))
            .map(|v| v as f64)
            .collect();
        let p99_stddev = stddev(&p99s).map(|sd| Duration::from_nanos(sd.round() as u64));
        let q = |q: f64| {
            merged
                .latency
                .value_at_quantile(q)
                .map(Duration::from_nanos)
        };
        Some(Baseline {
            window,
            periods,
            active_periods: active,
            rate: rate_mean,
            rate_stddev: rate_var.sqrt(),
            error_rate: ratio(merged.errors, merged.latency.total()),
            p50: q(0.50),
            p95: q(0.95),
            p99: q(0.99),
            avg: merged
                .latency
                .mean()
                .map(|m| Duration::from_nanos(m.round() as u64)),
            p99_stddev,
        })
    }
}

/// How far the current window is from its baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deviation {
    /// The current window.
    pub current: Summary,
    /// What is normal for it.
    pub baseline: Baseline,
    /// Current p99 over baseline p99 (2.0 = twice as slow).
    pub p99_ratio: Option<f64>,
    /// Current mean latency over baseline mean.
    pub avg_ratio: Option<f64>,
    /// Current rate over baseline rate.
    pub rate_ratio: Option<f64>,
    /// Standard scores of the current rate against the baseline's per-period rates.
    pub rate_z: Option<f64>,
    /// Standard score of the current p99 against the baseline's per-period p99s.
    pub p99_z: Option<f64>,
    /// Current error rate minus baseline error rate.
    pub error_rate_delta: f64,
}

impl Deviation {
    pub(crate) fn between(current: Summary, baseline: Baseline) -> Deviation {
        let dur_ratio = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
            (Some(a), Some(b)) if !b.is_zero() => Some(a.as_secs_f64() / b.as_secs_f64()),
            _ => None,
        };
        let z = |value: f64, mean: f64, sd: f64| (sd > 0.0).then(|| (value - mean) / sd);
        Deviation {
            p99_ratio: dur_ratio(current.p99, baseline.p99),
            avg_ratio: dur_ratio(current.avg, baseline.avg),
            rate_ratio: (baseline.rate > 0.0).then(|| current.rate / baseline.rate),
            rate_z: z(current.rate, baseline.rate, baseline.rate_stddev),
            p99_z: match (current.p99, baseline.p99, baseline.p99_stddev) {
                (Some(c), Some(b), Some(sd)) => {
                    z(c.as_secs_f64(), b.as_secs_f64(), sd.as_secs_f64())
                }
                _ => None,
            },
            error_rate_delta: current.error_rate - baseline.error_rate,
            current,
            baseline,
        }
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn stddev(values: &[f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    Some((values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64).sqrt())
}

/// Serde: `Duration` as fractional milliseconds.
pub(crate) mod fractional_ms {
    use std::time::Duration;

    use serde::Serializer;

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64() * 1e3)
    }

    /// `Option<Duration>` as fractional milliseconds or null.
    pub(crate) mod option {
        use std::time::Duration;

        use serde::Serializer;

        pub(crate) fn serialize<S: Serializer>(
            d: &Option<Duration>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => s.serialize_f64(d.as_secs_f64() * 1e3),
                None => s.serialize_none(),
            }
        }
    }
}
