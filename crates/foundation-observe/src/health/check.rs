//! The [`HealthCheck`] trait, what a check returns ([`Observation`]), and [`check_fn`] for
//! checks written as closures.

use std::future::Future;
use std::sync::Arc;

use foundation_core::Error;
use futures::future::BoxFuture;
use serde_json::Value;

use super::status::HealthStatus;

/// What one run of a check observed.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Pass, warn or fail.
    pub status: HealthStatus,
    /// The value measured (a number, a string, a boolean...), the draft's `observedValue`.
    pub observed_value: Option<Value>,
    /// The unit of `observed_value` (`ms`, `percent`, `tasks`...), the draft's `observedUnit`.
    pub observed_unit: Option<String>,
    /// A human-readable explanation, the draft's `output`; set for warn and fail.
    pub output: Option<String>,
}

impl Observation {
    /// A passing observation with no value.
    pub fn pass() -> Observation {
        Observation::with_status(HealthStatus::Pass)
    }

    /// A degraded observation, saying why.
    pub fn warn(output: impl Into<String>) -> Observation {
        Observation::with_status(HealthStatus::Warn).output(output)
    }

    /// A failed observation, saying why.
    pub fn fail(output: impl Into<String>) -> Observation {
        Observation::with_status(HealthStatus::Fail).output(output)
    }

    /// An observation with `status` and nothing else.
    pub fn with_status(status: HealthStatus) -> Observation {
        Observation {
            status,
            observed_value: None,
            observed_unit: None,
            output: None,
        }
    }

    /// A failed observation whose output is the error (its code, message and context).
    pub fn from_error(error: &Error) -> Observation {
        Observation::fail(error.to_string())
    }

    /// Sets the observed value.
    pub fn value(mut self, value: impl Into<Value>) -> Observation {
        self.observed_value = Some(value.into());
        self
    }

    /// Sets the observed value's unit.
    pub fn unit(mut self, unit: impl Into<String>) -> Observation {
        self.observed_unit = Some(unit.into());
        self
    }

    /// Sets the output.
    pub fn output(mut self, output: impl Into<String>) -> Observation {
        self.output = Some(output.into());
        self
    }
}

/// A health check: something that can say whether one measurement of one component is
/// healthy.
///
/// The aggregator keys its result `component:measurement` (so neither may contain `:`), runs
/// it under a timeout, catches its panics and caches its result; see
/// [`HealthAggregator::register`](super::HealthAggregator::register).
///
/// Implementations write `async fn check(&self) -> Observation`.
pub trait HealthCheck: Send + Sync + 'static {
    /// The component checked, e.g. `store` or `breakers` (the draft's component name).
    fn component(&self) -> &str;

    /// What is measured, e.g. `responseTime` or `open` (the draft's measurement name).
    fn measurement(&self) -> &str;

    /// The draft's `componentType`: `component` (the default), `datastore`, `system`, or any
    /// other name.
    fn component_type(&self) -> &str {
        "component"
    }

    /// Runs the check once.
    fn check(&self) -> impl Future<Output = Observation> + Send;
}

/// A check the aggregator can hold behind a pointer and run as a `'static` future.
pub(crate) trait DynCheck: Send + Sync + 'static {
    /// The check's `component`.
    fn component(&self) -> &str;
    /// The check's `measurement`.
    fn measurement(&self) -> &str;
    /// The check's `componentType`.
    fn component_type(&self) -> &str;
    /// One run. No code of the check runs until the future is first polled.
    fn run(self: Arc<Self>) -> BoxFuture<'static, Observation>;
}

impl<C: HealthCheck> DynCheck for C {
    fn component(&self) -> &str {
        HealthCheck::component(self)
    }

    fn measurement(&self) -> &str {
        HealthCheck::measurement(self)
    }

    fn component_type(&self) -> &str {
        HealthCheck::component_type(self)
    }

    fn run(self: Arc<Self>) -> BoxFuture<'static, Observation> {
        Box::pin(async move { self.check().await })
    }
}

/// A [`HealthCheck`] made of a closure returning a future; see [`check_fn`].
pub struct FnCheck<F> {
    component: String,
    measurement: String,
    component_type: String,
    f: F,
}

impl<F> std::fmt::Debug for FnCheck<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FnCheck")
            .field("component", &self.component)
            .field("measurement", &self.measurement)
            .field("component_type", &self.component_type)
            .finish()
    }
}

/// A check of `component:measurement` that calls `f` on every run.
///
/// ```
/// use foundation_observe::health::{HealthCheck, Observation, check_fn};
///
/// let check = check_fn("cache", "hitRatio", || async { Observation::pass().value(0.93) })
///     .with_component_type("datastore");
/// assert_eq!(check.component_type(), "datastore");
/// ```
pub fn check_fn<F, Fut>(
    component: impl Into<String>,
    measurement: impl Into<String>,
    f: F,
) -> FnCheck<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Observation> + Send + 'static,
{
    FnCheck {
        component: component.into(),
        measurement: measurement.into(),
        component_type: "component".into(),
        f,
    }
}

impl<F> FnCheck<F> {
    /// Sets the `componentType` (default `component`).
    pub fn with_component_type(mut self, component_type: impl Into<String>) -> FnCheck<F> {
        self.component_type = component_type.into();
        self
    }
}

impl<F, Fut> HealthCheck for FnCheck<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Observation> + Send + 'static,
{
    fn component(&self) -> &str {
        &self.component
    }

    fn measurement(&self) -> &str {
        &self.measurement
    }

    fn component_type(&self) -> &str {
        &self.component_type
    }

    fn check(&self) -> impl Future<Output = Observation> + Send {
        (self.f)()
    }
}
