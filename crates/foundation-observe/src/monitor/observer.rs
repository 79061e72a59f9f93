//! The monitor as the protection facade's [`CallObserver`]: every protected call is
//! recorded without wiring at the call site.

use foundation_protect::protection::{CallObserver, CallRecord};

use super::Monitor;

/// The operation protected calls are recorded under, labelled `protection="NAME"`.
pub const PROTECTION_OPERATION: &str = "foundation.protection.call";

impl CallObserver for Monitor {
    /// Records the call's latency under [`PROTECTION_OPERATION`]; a refusal or a failed call
    /// counts as an error.
    fn observe(&self, call: &CallRecord<'_>) {
        // A protection name the monitor refuses (the facade accepted it) must not fail the
        // caller's call: it is logged at debug level instead.
        if let Err(e) = self.record_outcome(
            PROTECTION_OPERATION,
            &[("protection", call.protection)],
            call.elapsed,
            call.error.is_some(),
        ) {
            tracing::debug!(error = %e, protection = call.protection, "foundation.monitor.unrecorded_call");
        }
    }
}
