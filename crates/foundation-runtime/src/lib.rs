//! Foundation's agent runtime: supervised agents with typed messages, supervisor trees that
//! restart them (one-for-one, one-for-all, rest-for-one, with escalation), a task supervisor
//! that owns every background task, a registry with discovery and load balancing, and local
//! coordination primitives — small, on tokio. Persistent agents ([`persistent`]) keep their
//! state in a `foundation-store` and survive crashes and restarts.

pub mod agent;
pub mod coordination;
mod panic;
pub mod persistent;
pub mod registry;
pub mod supervisor;
pub mod task;
pub mod worker;
