//! How many times a telemetry-bus event came from a source within a trailing window, from
//! the monitor's cumulative counts sampled at each evaluation.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Cumulative counts sampled at each evaluation, oldest first.
type Samples = VecDeque<(Instant, u64)>;

/// Samples of cumulative counts per (rule, source), each kept only as long as its rule's
/// window needs. Sources are bounded by the monitor's `max_event_series`.
#[derive(Debug, Default)]
pub(crate) struct EventWindows {
    samples: HashMap<(String, Arc<str>), Samples>,
    /// When each rule was last evaluated: a source first seen later counts from zero then.
    last_evaluated: HashMap<String, Instant>,
}

impl EventWindows {
    /// Records `count` (cumulative) for `rule`'s `source` at `now` and returns how many
    /// events arrived within `window` before `now`.
    pub(crate) fn delta(
        &mut self,
        rule: &str,
        source: &Arc<str>,
        count: u64,
        window: Duration,
        now: Instant,
    ) -> u64 {
        let last = self.last_evaluated.get(rule).copied();
        let samples = self
            .samples
            .entry((rule.to_string(), source.clone()))
            .or_insert_with(|| last.map(|t| (t, 0)).into_iter().collect());
        samples.push_back((now, count));
        // Keep the newest sample at or before the window's start as the baseline.
        while samples.len() > 1 && samples[1].0 + window <= now {
            samples.pop_front();
        }
        let oldest = samples.front().map_or(count, |s| s.1);
        count.saturating_sub(oldest)
    }

    /// Marks `rule` evaluated at `now`.
    pub(crate) fn evaluated(&mut self, rule: &str, now: Instant) {
        self.last_evaluated.insert(rule.to_string(), now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_only_the_events_inside_the_window() {
        let mut w = EventWindows::default();
        let t0 = Instant::now();
        let minute = Duration::from_secs(60);
        let src: Arc<str> = "db".into();
        assert_eq!(
            w.delta("r", &src, 5, minute, t0),
            0,
            "the first sample is the baseline"
        );
        w.evaluated("r", t0);
        assert_eq!(
            w.delta("r", &src, 8, minute, t0 + Duration::from_secs(30)),
            3
        );
        assert_eq!(
            w.delta("r", &src, 9, minute, t0 + Duration::from_secs(60)),
            4
        );
        assert_eq!(
            w.delta("r", &src, 9, minute, t0 + Duration::from_secs(95)),
            1
        );
        assert_eq!(
            w.delta("r", &src, 9, minute, t0 + Duration::from_secs(200)),
            0
        );
        let late: Arc<str> = "cache".into();
        w.evaluated("r", t0 + Duration::from_secs(200));
        assert_eq!(
            w.delta("r", &late, 2, minute, t0 + Duration::from_secs(210)),
            2,
            "a source first seen after the first evaluation counts from zero"
        );
    }
}
