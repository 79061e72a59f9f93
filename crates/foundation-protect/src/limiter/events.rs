//! Telemetry of the limiter: typed events and the admitted/denied counters.
//!
//! Counters are always exact. To keep a flood of denials from flooding the bus, a limiter
//! emits at most one [`LimiterRejected`] per `period`: the first denial of each period
//! carries how many denials were not reported since the previous event (`suppressed`).

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use foundation_core::{Event, TelemetryBus};

use super::config::OnUnavailable;

/// A request was refused for lack of quota (`foundation.limiter.rejected`).
#[derive(Debug, Clone)]
pub struct LimiterRejected {
    /// The limiter's name.
    pub limiter: Arc<str>,
    /// The key refused, for keyed limiters.
    pub key: Option<String>,
    /// Permits asked for.
    pub permits: u32,
    /// When the same request may succeed.
    pub retry_after: Duration,
    /// Denials since the previous `LimiterRejected` of this limiter that were not reported.
    pub suppressed: u64,
}

impl Event for LimiterRejected {
    fn name(&self) -> &'static str {
        "foundation.limiter.rejected"
    }

    fn source(&self) -> &str {
        &self.limiter
    }
}

/// The distributed backend could not be reached (`foundation.limiter.backend_unavailable`).
///
/// Emitted when a limiter goes from reachable to unreachable, and again at each failed
/// reconnection attempt (at most once per retry interval).
#[derive(Debug, Clone)]
pub struct LimiterBackendUnavailable {
    /// The limiter's name.
    pub limiter: Arc<str>,
    /// What the limiter does meanwhile.
    pub policy: OnUnavailable,
    /// The backend's error, translated to text.
    pub error: String,
}

impl Event for LimiterBackendUnavailable {
    fn name(&self) -> &'static str {
        "foundation.limiter.backend_unavailable"
    }

    fn source(&self) -> &str {
        &self.limiter
    }
}

/// Exact counters plus the rejected-event throttle.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub admitted: PerThreadCounter,
    pub denied: AtomicU64,
    /// `1 + ns` of the last rejected event (0 = never).
    last_event: AtomicU64,
    /// `denied` when the last event was emitted.
    denied_at_event: AtomicU64,
}

impl Counters {
    #[inline]
    pub(crate) fn admitted(&self, n: u64) {
        self.admitted.add(n);
    }

    /// Counts a denial; returns `Some(suppressed)` when this denial should emit an event.
    pub(crate) fn denied(&self, now: u64, period_ns: u64) -> Option<u64> {
        let total = self.denied.fetch_add(1, Ordering::Relaxed) + 1;
        let last = self.last_event.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_add(1) >= last.saturating_add(period_ns);
        if due
            && self
                .last_event
                .compare_exchange(
                    last,
                    now.saturating_add(1),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            let before = self.denied_at_event.swap(total, Ordering::AcqRel);
            return Some(total.saturating_sub(before).saturating_sub(1));
        }
        None
    }
}

const STRIPES: usize = 16;

static NEXT_THREAD_SLOT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's slot, unique in the process (`usize::MAX` until first used).
    static THREAD_SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
}

#[derive(Debug, Default)]
#[repr(align(64))]
struct Padded(AtomicU64);

/// An exact counter that the hot path bumps without a contended read-modify-write: each of
/// the first `STRIPES` threads of the process owns one cache line and adds with a plain
/// load and store; later threads share one line and use `fetch_add`.
#[derive(Debug, Default)]
pub(crate) struct PerThreadCounter {
    owned: [Padded; STRIPES],
    shared: Padded,
}

impl PerThreadCounter {
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        let slot = THREAD_SLOT.with(|s| {
            let slot = s.get();
            if slot != usize::MAX {
                return slot;
            }
            let slot = NEXT_THREAD_SLOT.fetch_add(1, Ordering::Relaxed);
            s.set(slot);
            slot
        });
        match self.owned.get(slot) {
            // Only this thread ever writes this line.
            Some(line) => line.0.store(
                line.0.load(Ordering::Relaxed).wrapping_add(n),
                Ordering::Relaxed,
            ),
            None => {
                self.shared.0.fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    pub(crate) fn load(&self) -> u64 {
        self.owned
            .iter()
            .chain(std::iter::once(&self.shared))
            .map(|p| p.0.load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }
}

pub(crate) fn emit_rejected(
    bus: &TelemetryBus,
    limiter: &Arc<str>,
    key: Option<String>,
    permits: u32,
    retry_after: Duration,
    suppressed: u64,
) {
    tracing::debug!(
        target: "foundation.limiter.rejected",
        limiter = %limiter,
        key = key.as_deref().unwrap_or(""),
        permits,
        retry_after_ms = retry_after.as_millis() as u64,
        suppressed,
        "rate limited"
    );
    bus.emit(LimiterRejected {
        limiter: limiter.clone(),
        key,
        permits,
        retry_after,
        suppressed,
    });
}
