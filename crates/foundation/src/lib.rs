//! Foundation: production infrastructure for a service or a system of cooperating agents.
//!
//! This umbrella crate re-exports every layer and offers one [`prelude`]. Today it carries:
//!
//! - [`core`]: the one [`Error`] with stable codes, the telemetry bus, the injectable clock;
//! - [`protect`]: circuit breaker, rate limiter (in memory, or on Redis with the `redis`
//!   feature), retry, bulkhead, timeout, connection pool (with a reqwest manager under the
//!   `http` feature), and the [`Protection`](protect::protection::Protection) facade;
//! - [`store`]: durable storage on an embedded SQLite file (default) or PostgreSQL — the task
//!   queue with its dead-letter queue, the event store, persistent agent state;
//! - [`runtime`]: agents with typed messages, supervisor trees, the task supervisor, the
//!   registry with discovery and load balancing, local coordination primitives, queue
//!   workers and persistent agents.
//! - [`config`]: layered configuration (defaults, TOML, profile, environment, service and
//!   per-agent overrides) with provenance, validation of a whole change, live typed values
//!   and subscriptions, stored versions with rollback, hot reload and redacted secrets;
//! - [`observe`]: the performance monitor (latency percentiles in minute, hour and day
//!   windows, baselines, thresholds), Prometheus export, the health aggregator with
//!   `application/health+json` endpoints, the memory manager behind the facade's memory
//!   gate, and alerting (rules, routing, silences, inhibition, escalation).
//!
//! ```
//! use foundation::prelude::*;
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<()> {
//! let protection = Protection::builder("search")
//!     .circuit_breaker(BreakerConfig::default())
//!     .timeout(TimeoutConfig { duration: Duration::from_millis(500) })
//!     .build()?;
//! let answer = protection.run(|_ctx| async { Ok::<_, Error>("hits") }).await?;
//! assert_eq!(answer, "hits");
//! # Ok(()) }
//! ```

pub use foundation_config as config;
pub use foundation_core as core;
pub use foundation_core::{Error, ErrorCode, Result};
pub use foundation_observe as observe;
pub use foundation_protect as protect;
pub use foundation_runtime as runtime;
pub use foundation_store as store;

/// The names most programs need, in one import.
pub mod prelude {
    pub use foundation_config::{
        Attribution, Config, ConfigService, FileWatcher, LayerSet, Live, Schema, Secrets,
    };
    pub use foundation_core::{Clock, Error, ErrorCode, Result, TelemetryBus, Validate};
    pub use foundation_observe::alert::{AlertConfig, AlertManager};
    pub use foundation_observe::export::MetricsExporter;
    pub use foundation_observe::health::{
        CheckOptions, HealthAggregator, HealthCheck, HealthStatus, Observation, check_fn,
    };
    pub use foundation_observe::memory::{MemoryConfig, MemoryManager};
    pub use foundation_observe::monitor::{Monitor, OperationHandle, Window};
    pub use foundation_protect::breaker::{BreakerConfig, CircuitBreaker};
    pub use foundation_protect::bulkhead::{Bulkhead, BulkheadConfig};
    pub use foundation_protect::limiter::{LimiterConfig, RateLimiter};
    pub use foundation_protect::outcome::{Classifier, Outcome};
    pub use foundation_protect::pool::{Manager, Pool, PoolConfig};
    pub use foundation_protect::protection::{CallContext, Protection, ProtectionRegistry};
    pub use foundation_protect::retry::{Retry, RetryConfig};
    pub use foundation_protect::timeout::{Timeout, TimeoutConfig};
    pub use foundation_runtime::agent::{
        Agent, AgentConfig, AgentHandle, AgentRef, Context, ExitReason, Reply, StopReason, spawn,
    };
    pub use foundation_runtime::persistent::{Persistent, PersistentAgent};
    pub use foundation_runtime::registry::{Balance, Health, Kind, Metadata, Registry};
    pub use foundation_runtime::supervisor::{
        ChildSpec, Restart, Strategy, SupervisorHandle, SupervisorRef, SupervisorSpec, Workflows,
    };
    pub use foundation_runtime::task::TaskSupervisor;
    pub use foundation_runtime::worker::{QueueWorker, TaskHandler, WorkerConfig, handler_fn};
    pub use foundation_store::{
        Backoff, DeadLetterFilter, EventStore, ExpectedVersion, NewEvent, NewTask, QueueSettings,
        Store, StoreOptions, Task, TaskQueue, TaskState,
    };
}

/// The README's Rust snippets, compiled and run as doc tests so the quick start stays true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
