//! What a protected call is told about itself.

use std::time::Duration;

/// Passed to the call on every attempt. `'c` is the lifetime of the caller id.
#[derive(Debug, Clone, Copy)]
pub struct CallContext<'c> {
    pub(crate) attempt: u32,
    pub(crate) timeout: Option<Duration>,
    pub(crate) caller: Option<&'c str>,
}

impl<'c> CallContext<'c> {
    /// The attempt number, starting at 1.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// This attempt's time budget, if the protection has a timeout stage (useful to pass a
    /// deadline on to the dependency, e.g. as a gRPC or HTTP header).
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The caller (agent or client id) the call was made for, if any.
    pub fn caller(&self) -> Option<&'c str> {
        self.caller
    }
}
