//! One operation's recorder (atomics, written on the hot path) and history (windows,
//! written when the recorder is drained).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use super::histogram::AtomicHistogram;
use super::operation::OperationKey;
use super::window::{History, ResourceStats, Slot};

/// One operation.
pub(crate) struct Series {
    pub(crate) key: OperationKey,
    latency: AtomicHistogram,
    errors: AtomicU64,
    units: AtomicU64,
    resource_samples: AtomicU64,
    resource_sum: AtomicU64,
    resource_max: AtomicU64,
    history: Mutex<History>,
}

impl Series {
    pub(crate) fn new(key: OperationKey, shards: usize) -> Series {
        Series {
            key,
            latency: AtomicHistogram::new(shards),
            errors: AtomicU64::new(0),
            units: AtomicU64::new(0),
            resource_samples: AtomicU64::new(0),
            resource_sum: AtomicU64::new(0),
            resource_max: AtomicU64::new(0),
            history: Mutex::new(History::default()),
        }
    }

    /// One call that took `latency`, failed or not.
    #[inline]
    pub(crate) fn record(&self, latency: Duration, failed: bool) {
        self.latency.record(duration_nanos(latency));
        if failed {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `units` items or bytes processed.
    #[inline]
    pub(crate) fn record_units(&self, units: u64) {
        self.units.fetch_add(units, Ordering::Relaxed);
    }

    /// One sample of the operation's resource usage.
    #[inline]
    pub(crate) fn record_resource(&self, value: u64) {
        self.resource_samples.fetch_add(1, Ordering::Relaxed);
        self.resource_sum.fetch_add(value, Ordering::Relaxed);
        self.resource_max.fetch_max(value, Ordering::Relaxed);
    }

    /// Moves what was recorded into the history at `elapsed`, expires old periods, and
    /// runs `read` on the history while it is locked.
    pub(crate) fn with_history<T>(
        &self,
        elapsed: Duration,
        read: impl FnOnce(&mut History) -> T,
    ) -> T {
        let mut history = self.history.lock();
        let mut delta = Slot::default();
        self.latency.drain(&mut delta.latency);
        delta.errors = self.errors.swap(0, Ordering::Relaxed);
        delta.units = self.units.swap(0, Ordering::Relaxed);
        delta.resource = ResourceStats {
            samples: self.resource_samples.swap(0, Ordering::Relaxed),
            sum: self.resource_sum.swap(0, Ordering::Relaxed),
            max: self.resource_max.swap(0, Ordering::Relaxed),
        };
        history.add(elapsed, &delta);
        history.expire(elapsed);
        read(&mut history)
    }

    /// Bytes held by this operation (recorder, history and key).
    pub(crate) fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Series>()
            + self.latency.allocated_bytes()
            + self.history.lock().heap_bytes()
            + self.key.heap_bytes()
    }
}

/// `d` in nanoseconds, saturating at `u64::MAX` (584 years).
pub(crate) fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
