//! Local coordination primitives with honest names, behind backend-neutral traits.
//!
//! Each primitive is a trait ([`Lock`], [`Barrier`], [`Election`], [`Quorum`]) with an
//! in-process implementation (`Local*`); cluster-wide versions (on PostgreSQL) can implement the
//! same traits later. [`Sequence`] runs steps in order and, when one fails, runs the
//! compensations of the completed steps in reverse order — it is not atomic: other observers can
//! see intermediate states.
//!
//! ```
//! use std::time::Duration;
//! use foundation_runtime::coordination::{Lock, LocalLock};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), foundation_core::Error> {
//! let locks = LocalLock::new();
//! let guard = locks.acquire("invoice-42", "worker-1", Duration::from_secs(1)).await?;
//! assert_eq!(locks.holder("invoice-42").as_deref(), Some("worker-1"));
//! drop(guard); // released; so is a guard held by a task that panics
//! assert_eq!(locks.holder("invoice-42"), None);
//! # Ok(())
//! # }
//! ```

mod barrier;
mod election;
mod lock;
mod quorum;
mod sequence;

pub use barrier::{Barrier, BarrierWait, LocalBarrier};
pub use election::{Candidacy, Election, LocalElection};
pub use lock::{LocalLock, Lock, LockGuard};
pub use quorum::{Ballot, LocalQuorum, Proposal, Quorum, QuorumDecision, QuorumResult};
pub use sequence::{Sequence, SequenceFailure};

use std::time::Duration;

use foundation_core::Error;

/// `INVALID_INPUT` naming `field` when `value` is empty.
fn non_empty(field: &str, value: &str) -> Result<(), Error> {
    if value.is_empty() {
        return Err(Error::invalid_input(field, "must not be empty"));
    }
    Ok(())
}

/// `INVALID_INPUT` naming `field` when `value` is zero.
fn positive(field: &str, value: Duration) -> Result<(), Error> {
    if value.is_zero() {
        return Err(Error::invalid_input(field, "must be positive"));
    }
    Ok(())
}
