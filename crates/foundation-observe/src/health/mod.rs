//! The health aggregator: checks, aggregation, and `application/health+json` over HTTP.
//!
//! - [`HealthCheck`]: an async check of one measurement of one component, returning an
//!   [`Observation`] (pass, warn or fail, with an observed value, unit and output). Closures
//!   become checks with [`check_fn`]; [`builtin`] has checks for breakers, pools, memory
//!   pressure, the store, queues and restarting agents.
//! - [`HealthAggregator::register`] takes a check with its [`CheckOptions`]: critical or not,
//!   a timeout, a cache TTL, quick or deep, and its groups (liveness, readiness). The result
//!   is keyed `component:measurement`; a second check with the same key is refused.
//! - Running: each run is a task of its own, so it finishes (and its timeout counts) even if
//!   the prober that started it gives up. A check that overruns its timeout or panics gives a
//!   `fail` saying so. Results are cached for the TTL, and callers that ask while a run is in
//!   flight share that run, so a burst of probes runs each check once. Each check keeps its last
//!   [`HealthConfig::history`] results ([`HealthAggregator::history`]).
//! - Reports ([`HealthAggregator::report`]) aggregate the checks a [`Scope`] selects: fail if
//!   a critical check fails, warn if anything is degraded (a non-critical failure warns),
//!   with a score from 0 to 100 (see [`report`]). Deep checks run only in reports that ask
//!   for them (`?deep=true` over HTTP); the liveness and readiness groups are reported
//!   separately, and `/health` reports every check whatever its groups.
//! - [`HealthAggregator::router`] serves it all over HTTP (see [`http`]).
//! - A check whose status changes publishes [`HealthChanged`] on the telemetry bus.
//!
//! Time (TTLs, result times) follows the aggregator's [`Clock`](foundation_core::Clock).
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! use foundation_observe::health::{
//!     CheckOptions, Group, HealthAggregator, HealthConfig, HealthStatus, Observation, Scope,
//!     check_fn,
//! };
//!
//! let health = HealthAggregator::new(HealthConfig::default()).unwrap();
//! health
//!     .register(
//!         check_fn("db", "responseTime", || async { Observation::pass().value(3).unit("ms") })
//!             .with_component_type("datastore"),
//!         CheckOptions::new().critical(true).groups(&[Group::Readiness]),
//!     )
//!     .unwrap();
//! health
//!     .register(
//!         check_fn("cache", "hitRatio", || async { Observation::fail("cache unreachable") }),
//!         CheckOptions::new(),
//!     )
//!     .unwrap();
//!
//! // A non-critical failure degrades the report to warn: still served with HTTP 200.
//! let report = health.report(Scope::group(Group::Readiness)).await;
//! assert_eq!(report.status, HealthStatus::Warn);
//! assert_eq!(report.http_status(), 200);
//! let json = report.to_json();
//! assert_eq!(json["checks"]["db:responseTime"][0]["observedValue"], 3);
//! assert_eq!(json["checks"]["cache:hitRatio"][0]["status"], "fail");
//!
//! // Mount it: `axum::serve(listener, health.router())`.
//! let _router: axum::Router = health.router();
//! # });
//! ```

mod aggregator;
pub mod builtin;
mod check;
mod config;
mod events;
pub mod http;
mod options;
mod record;
mod registered;
pub mod report;
mod status;

pub use aggregator::{HealthAggregator, HealthAggregatorBuilder, Scope};
pub use check::{FnCheck, HealthCheck, Observation, check_fn};
pub use config::{HealthConfig, MAX_HISTORY};
pub use events::HealthChanged;
pub use options::{CheckOptions, Depth, Group};
pub use record::CheckRecord;
pub use report::{CheckReport, HEALTH_JSON, HealthReport};
pub use status::HealthStatus;
