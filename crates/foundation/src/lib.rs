//! Foundation: production infrastructure for a service or a system of cooperating agents.
//!
//! This umbrella crate re-exports the layers behind feature flags and offers one prelude.

pub use foundation_core as core;
pub use foundation_core::{Error, ErrorCode, Result};
pub use foundation_protect as protect;
