//! Restart intensity: at most `max_restarts` restarts within a sliding `period`.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// The times of the restarts still inside the window (at most `max + 1` of them).
pub(super) struct RestartIntensity {
    max: usize,
    period: Duration,
    recent: VecDeque<Instant>,
}

impl RestartIntensity {
    pub(super) fn new(max_restarts: u32, period: Duration) -> RestartIntensity {
        let max = usize::try_from(max_restarts).unwrap_or(usize::MAX);
        RestartIntensity {
            max,
            period,
            recent: VecDeque::with_capacity(max.saturating_add(1).min(64)),
        }
    }

    /// Records a restart at `now`; false when it is one more than the window allows.
    pub(super) fn allow(&mut self, now: Instant) -> bool {
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.period)
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= self.max {
            return false;
        }
        self.recent.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_restart_after_max_within_the_period_is_refused() {
        let t0 = Instant::now();
        let mut i = RestartIntensity::new(3, Duration::from_secs(5));
        assert!(i.allow(t0));
        assert!(i.allow(t0 + Duration::from_secs(1)));
        assert!(i.allow(t0 + Duration::from_secs(2)));
        assert!(!i.allow(t0 + Duration::from_secs(3)));
    }

    #[test]
    fn restarts_older_than_the_period_are_forgotten() {
        let t0 = Instant::now();
        let mut i = RestartIntensity::new(2, Duration::from_secs(5));
        assert!(i.allow(t0));
        assert!(i.allow(t0 + Duration::from_secs(1)));
        assert!(i.allow(t0 + Duration::from_secs(5)));
        assert!(!i.allow(t0 + Duration::from_secs(5)));
        assert!(i.allow(t0 + Duration::from_secs(6)));
    }
}
