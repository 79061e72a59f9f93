//! The built-in metric sources: the monitor, the protection components, memory pressure
//! and the task queue.

mod memory;
mod monitor;
mod protect;
mod queue;

pub use protect::PressureMetrics;
pub use queue::QueueMetrics;
