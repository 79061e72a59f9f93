//! Foundation's agent runtime: supervised agents with typed messages, a task supervisor that
//! owns every background task, and local coordination primitives — small, on tokio.

pub mod agent;
pub mod coordination;
pub mod task;
