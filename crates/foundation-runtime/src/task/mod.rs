//! The task supervisor: every background task has an owner.
//!
//! A [`TaskSupervisor`] spawns tasks and keeps track of them. Dropping the last handle to a
//! supervisor aborts its tasks; [`TaskSupervisor::shutdown`] waits for them up to a deadline,
//! then aborts the rest and awaits them, so by the time it returns every task's state is
//! dropped. A panic inside a task is caught and reported through its [`TaskHandle`] as an
//! error, never propagated. Child supervisors ([`TaskSupervisor::child`]) are stopped with
//! their parent.
//!
//! [`map_ordered`] and [`map_unordered`] run a function over a stream with bounded concurrency
//! and a per-item timeout; the work runs inside the returned stream, so dropping the stream
//! cancels it.
//!
//! ```
//! use std::time::Duration;
//! use foundation_runtime::task::TaskSupervisor;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), foundation_core::Error> {
//! let tasks = TaskSupervisor::new("indexer")?;
//! let handle = tasks.spawn("count", async { 1 + 1 });
//! assert_eq!(handle.await?, 2);
//! let report = tasks.shutdown(Duration::from_secs(1)).await;
//! assert!(report.aborted.is_empty());
//! assert_eq!(tasks.live(), 0);
//! # Ok(())
//! # }
//! ```

mod handle;
mod map;
mod supervisor;

pub use handle::TaskHandle;
pub use map::{map_ordered, map_unordered};
pub use supervisor::{ShutdownReport, TaskPanicked, TaskSupervisor, TaskSupervisorStopped};
