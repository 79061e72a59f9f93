//! What a protected call is told about itself.

use std::time::Instant;

/// Passed to the call on every attempt. `'c` is the lifetime of the caller id.
#[derive(Debug, Clone, Copy)]
pub struct CallContext<'c> {
    pub(crate) attempt: u32,
    pub(crate) deadline: Option<Instant>,
    pub(crate) caller: Option<&'c str>,
}

impl<'c> CallContext<'c> {
    /// The attempt number, starting at 1.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// When this attempt's timeout fires, if the protection has a timeout stage.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The caller (agent or client id) the call was made for, if any.
    pub fn caller(&self) -> Option<&'c str> {
        self.caller
    }
}
