//! The quota in the form the algorithms use, changeable at run time.
//!
//! Readers take a consistent [`Snapshot`] through a sequence lock (two loads and a fence on
//! the hot path, no lock); `set` is rare and serialised by a mutex.

use std::sync::atomic::{AtomicU64, Ordering, fence};

use parking_lot::Mutex;

use super::config::{Algorithm, Quota};

/// The derived numbers every algorithm reads, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot {
    /// Permits per period (the window limit).
    pub rate: u64,
    /// The period.
    pub period_ns: u64,
    /// Permits at once.
    pub burst: u64,
    /// `period / rate`, at least 1.
    pub emission_ns: u64,
    /// `burst * emission`: how far ahead of now the GCRA may run.
    pub tau_ns: u64,
}

impl Snapshot {
    pub(crate) fn of(q: Quota) -> Snapshot {
        let rate = u64::from(q.rate.max(1));
        let period_ns = u64::try_from(q.period.as_nanos())
            .unwrap_or(u64::MAX)
            .max(1);
        let burst = u64::from(q.burst.max(1));
        let emission_ns = (period_ns / rate).max(1);
        Snapshot {
            rate,
            period_ns,
            burst,
            emission_ns,
            tau_ns: emission_ns.saturating_mul(burst),
        }
    }

    /// The largest `n` one request may ask for.
    pub(crate) fn capacity(&self, algorithm: Algorithm) -> u64 {
        if algorithm.is_windowed() {
            self.rate
        } else {
            self.burst
        }
    }
}

pub(crate) struct Params {
    seq: AtomicU64,
    rate: AtomicU64,
    period_ns: AtomicU64,
    burst: AtomicU64,
    emission_ns: AtomicU64,
    tau_ns: AtomicU64,
    quota: Mutex<Quota>,
}

impl Params {
    pub(crate) fn new(q: Quota) -> Params {
        let s = Snapshot::of(q);
        Params {
            seq: AtomicU64::new(0),
            rate: AtomicU64::new(s.rate),
            period_ns: AtomicU64::new(s.period_ns),
            burst: AtomicU64::new(s.burst),
            emission_ns: AtomicU64::new(s.emission_ns),
            tau_ns: AtomicU64::new(s.tau_ns),
            quota: Mutex::new(q),
        }
    }

    /// A consistent view of the current quota.
    #[inline]
    pub(crate) fn load(&self) -> Snapshot {
        loop {
            let before = self.seq.load(Ordering::Acquire);
            let s = Snapshot {
                rate: self.rate.load(Ordering::Relaxed),
                period_ns: self.period_ns.load(Ordering::Relaxed),
                burst: self.burst.load(Ordering::Relaxed),
                emission_ns: self.emission_ns.load(Ordering::Relaxed),
                tau_ns: self.tau_ns.load(Ordering::Relaxed),
            };
            fence(Ordering::Acquire);
            if before & 1 == 0 && self.seq.load(Ordering::Relaxed) == before {
                return s;
            }
            std::hint::spin_loop();
        }
    }

    pub(crate) fn quota(&self) -> Quota {
        *self.quota.lock()
    }

    pub(crate) fn set(&self, q: Quota) {
        let mut current = self.quota.lock();
        let s = Snapshot::of(q);
        self.seq.fetch_add(1, Ordering::AcqRel);
        fence(Ordering::Release);
        self.rate.store(s.rate, Ordering::Relaxed);
        self.period_ns.store(s.period_ns, Ordering::Relaxed);
        self.burst.store(s.burst, Ordering::Relaxed);
        self.emission_ns.store(s.emission_ns, Ordering::Relaxed);
        self.tau_ns.store(s.tau_ns, Ordering::Relaxed);
        self.seq.fetch_add(1, Ordering::Release);
        *current = q;
    }
}
