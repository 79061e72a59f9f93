//! [`HealthAggregator`]: the registry of checks and the reports over them.

use std::collections::BTreeMap;
use std::sync::Arc;

use foundation_core::{Clock, Error, ErrorCode, Result, TelemetryBus, Validate, Validator};
use parking_lot::RwLock;

use super::check::{DynCheck, HealthCheck};
use super::config::{HealthConfig, validate_timeout, validate_ttl};
use super::events::HealthChanged;
use super::options::{CheckOptions, Group};
use super::record::{CheckRecord, Timebase};
use super::registered::Registered;
use super::report::{CheckReport, HealthReport};
use super::status::HealthStatus;

/// Which checks a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scope {
    /// Only the checks in this group; every check when `None`.
    pub group: Option<Group>,
    /// Whether deep checks run too.
    pub deep: bool,
}

impl Scope {
    /// Every quick check.
    pub fn all() -> Scope {
        Scope::default()
    }

    /// The quick checks of `group`.
    pub fn group(group: Group) -> Scope {
        Scope {
            group: Some(group),
            deep: false,
        }
    }

    /// The same checks, plus the deep ones when `deep`.
    pub fn deep(mut self, deep: bool) -> Scope {
        self.deep = deep;
        self
    }
}

/// The health aggregator: checks registered by name, run under timeouts with their results
/// cached and kept, aggregated into [`HealthReport`]s. Cheap to clone; clones share checks.
///
/// See the [module docs](super) for an example.
#[derive(Clone)]
pub struct HealthAggregator {
    inner: Arc<Inner>,
}

struct Inner {
    config: HealthConfig,
    time: Timebase,
    bus: TelemetryBus,
    checks: RwLock<BTreeMap<String, Arc<Registered>>>,
}

impl std::fmt::Debug for HealthAggregator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthAggregator")
            .field("checks", &self.names())
            .finish()
    }
}

impl HealthAggregator {
    /// An aggregator with `config`, tokio's clock and the global telemetry bus.
    /// `INVALID_CONFIG` naming the field when the config is invalid.
    pub fn new(config: HealthConfig) -> Result<HealthAggregator> {
        HealthAggregator::builder().config(config).build()
    }

    /// A builder, to set the clock or the bus.
    pub fn builder() -> HealthAggregatorBuilder {
        HealthAggregatorBuilder::default()
    }

    /// The configuration.
    pub fn config(&self) -> &HealthConfig {
        &self.inner.config
    }

    /// Registers `check` under its key `component:measurement`, which it returns.
    ///
    /// Errors: `INVALID_CONFIG` naming the field (`component` or `measurement` empty or
    /// containing `:`, `component_type` empty, `timeout` zero or over an hour, `ttl` over an
    /// hour, `component_id` empty); `ALREADY_EXISTS` when a check with the same key is registered.
    pub fn register(&self, check: impl HealthCheck, options: CheckOptions) -> Result<String> {
        let check: Arc<dyn DynCheck> = Arc::new(check);
        let mut v = Validator::new("");
        for (field, value) in [
            ("component", check.component()),
            ("measurement", check.measurement()),
        ] {
            v.non_empty(field, value)
                .check(!value.contains(':'), field, "must not contain ':'");
        }
        v.non_empty("component_type", check.component_type());
        if let Some(timeout) = options.timeout {
            validate_timeout(&mut v, "timeout", timeout);
        }
        if let Some(ttl) = options.ttl {
            validate_ttl(&mut v, "ttl", ttl);
        }
        if let Some(id) = &options.component_id {
            v.non_empty("component_id", id);
        }
        v.finish()?;
        let config = &self.inner.config;
        let registered = Registered::new(
            check,
            options.clone(),
            options.timeout.unwrap_or(config.timeout),
            options.ttl.unwrap_or(config.cache_ttl),
            config.history,
        );
        let key = registered.key.clone();
        let mut checks = self.inner.checks.write();
        if checks.contains_key(&key) {
            return Err(Error::new(
                ErrorCode::ALREADY_EXISTS,
                format!("a health check named \"{key}\" is already registered"),
            )
            .with_context("check", &key));
        }
        checks.insert(key.clone(), Arc::new(registered));
        Ok(key)
    }

    /// Removes the check named `key`; `NOT_FOUND` when there is none. A run in flight
    /// finishes for the callers already waiting on it.
    pub fn deregister(&self, key: &str) -> Result<()> {
        self.inner
            .checks
            .write()
            .remove(key)
            .map(drop)
            .ok_or_else(|| Error::not_found("check", key))
    }

    /// The registered keys, sorted.
    pub fn names(&self) -> Vec<String> {
        self.inner.checks.read().keys().cloned().collect()
    }

    /// The current result of the check named `key` (cached while younger than its TTL);
    /// `NOT_FOUND` when there is none.
    pub async fn check(&self, key: &str) -> Result<CheckReport> {
        let registered = self.get(key)?;
        Ok(self.current(&registered).await)
    }

    /// The kept results of the check named `key`, oldest first, without running it;
    /// `NOT_FOUND` when there is none.
    pub fn history(&self, key: &str) -> Result<CheckReport> {
        let registered = self.get(key)?;
        Ok(check_report(&registered, registered.history()))
    }

    /// Runs (or reuses the cached results of) the checks `scope` selects, concurrently, and
    /// aggregates them.
    pub async fn report(&self, scope: Scope) -> HealthReport {
        let selected: Vec<Arc<Registered>> = self
            .inner
            .checks
            .read()
            .values()
            .filter(|r| r.selected(scope.group, scope.deep))
            .cloned()
            .collect();
        let checks = futures::future::join_all(selected.iter().map(|r| self.current(r))).await;
        HealthReport::new(&self.inner.config, checks)
    }

    /// The router serving `/health`, `/health/live`, `/health/ready` and
    /// `/health/checks/{key}`; see [`http`](super::http).
    pub fn router(&self) -> axum::Router {
        super::http::router(self.clone())
    }

    fn get(&self, key: &str) -> Result<Arc<Registered>> {
        self.inner
            .checks
            .read()
            .get(key)
            .cloned()
            .ok_or_else(|| Error::not_found("check", key))
    }

    async fn current(&self, registered: &Registered) -> CheckReport {
        let current = registered.current(&self.inner.time).await;
        if let Some(from) = current.changed_from {
            let to = current.record.status();
            if from.is_some() || to != HealthStatus::Pass {
                self.announce(registered, from, &current.record.observation.output, to);
            }
        }
        check_report(registered, vec![current.record])
    }

    fn announce(
        &self,
        registered: &Registered,
        from: Option<HealthStatus>,
        output: &Option<String>,
        to: HealthStatus,
    ) {
        tracing::info!(
            check = %registered.key,
            from = from.map_or("none", HealthStatus::as_str),
            to = to.as_str(),
            output = output.as_deref().unwrap_or(""),
            "foundation.health.status_changed"
        );
        self.inner.bus.emit(HealthChanged {
            check: registered.key.clone(),
            from,
            to,
            output: output.clone(),
            critical: registered.options.critical,
        });
    }
}

fn check_report(registered: &Registered, records: Vec<CheckRecord>) -> CheckReport {
    CheckReport {
        key: registered.key.clone(),
        component_type: registered.component_type.clone(),
        component_id: registered.options.component_id.clone(),
        critical: registered.options.critical,
        records,
    }
}

/// Builds a [`HealthAggregator`]; see [`HealthAggregator::builder`].
#[derive(Debug, Default)]
#[must_use]
pub struct HealthAggregatorBuilder {
    config: HealthConfig,
    clock: Clock,
    bus: Option<TelemetryBus>,
}

impl HealthAggregatorBuilder {
    /// The configuration (default [`HealthConfig::default`]).
    pub fn config(mut self, config: HealthConfig) -> Self {
        self.config = config;
        self
    }

    /// The clock TTLs and result times follow (default tokio's clock).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The bus [`HealthChanged`] events go to (default the global bus).
    pub fn bus(mut self, bus: TelemetryBus) -> Self {
        self.bus = Some(bus);
        self
    }

    /// Validates the config and builds; `INVALID_CONFIG` naming the field.
    pub fn build(self) -> Result<HealthAggregator> {
        self.config.validate()?;
        Ok(HealthAggregator {
            inner: Arc::new(Inner {
                config: self.config,
                time: Timebase::new(self.clock),
                bus: self.bus.unwrap_or_else(|| TelemetryBus::global().clone()),
                checks: RwLock::new(BTreeMap::new()),
            }),
        })
    }
}
