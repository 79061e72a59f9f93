//! Counts of telemetry-bus events per (event name, source): breaker transitions, limiter
//! rejections, agent restarts, dead-lettered tasks... whatever the components publish.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

/// The source an event's new sources are counted under once the limit is reached.
pub const OVERFLOW_SOURCE: &str = "overflow";

/// How many times one event came from one source.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct EventCount {
    /// The event name (`foundation.breaker.state_change`).
    pub event: &'static str,
    /// The emitting instance (breaker name, queue...), empty if none.
    pub source: Arc<str>,
    /// Events seen since the monitor started.
    pub count: u64,
}

/// Bounded counts.
#[derive(Debug, Default)]
pub(crate) struct EventCounts {
    counts: HashMap<(&'static str, Arc<str>), u64>,
    folded: u64,
}

impl EventCounts {
    /// Counts one `event` from `source`, folding new sources beyond `limit` pairs.
    pub(crate) fn count(&mut self, event: &'static str, source: &str, limit: usize) {
        if let Some(n) = self.counts.get_mut(&(event, Arc::from(source))) {
            *n += 1;
            return;
        }
        let source = if self.counts.len() < limit {
            source
        } else {
            self.folded += 1;
            OVERFLOW_SOURCE
        };
        *self.counts.entry((event, Arc::from(source))).or_insert(0) += 1;
    }

    /// Every count, sorted by event then source.
    pub(crate) fn snapshot(&self) -> Vec<EventCount> {
        let mut all: Vec<EventCount> = self
            .counts
            .iter()
            .map(|((event, source), &count)| EventCount {
                event,
                source: source.clone(),
                count,
            })
            .collect();
        all.sort();
        all
    }

    /// Events counted under [`OVERFLOW_SOURCE`] because the limit was reached.
    pub(crate) fn folded(&self) -> u64 {
        self.folded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_beyond_the_limit_fold_into_overflow_and_are_counted() {
        let mut c = EventCounts::default();
        c.count("e", "a", 2);
        c.count("e", "b", 2);
        c.count("e", "c", 2);
        c.count("e", "a", 2);
        c.count("e", "d", 2);
        let snap = c.snapshot();
        let get = |s: &str| snap.iter().find(|e| &*e.source == s).map(|e| e.count);
        assert_eq!(get("a"), Some(2));
        assert_eq!(get("b"), Some(1));
        assert_eq!(get(OVERFLOW_SOURCE), Some(2));
        assert_eq!(c.folded(), 2);
    }
}
