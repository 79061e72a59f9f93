//! [`PoolConfig`]: sizes, timeouts, order and recycle policy, with field-named validation.

use std::time::Duration;

use foundation_core::{Validate, Validator};
use serde::{Deserialize, Serialize};

/// The largest `max_size` (and `max_overflow`) a pool accepts.
pub const MAX_CONNECTIONS: usize = 1 << 20;

/// Which idle connection a checkout takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueOrder {
    /// The most recently returned (warm caches, lets surplus connections idle out). Default.
    #[default]
    Lifo,
    /// The least recently returned (spreads use evenly over every connection).
    Fifo,
}

/// When the pool runs the manager's asynchronous [`recycle`](super::Manager::recycle).
///
/// [`is_broken`](super::Manager::is_broken) runs on every checkout and return whatever the
/// policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecyclePolicy {
    /// The maintenance task recycles each idle connection once per `maintenance_interval`;
    /// checkouts never wait for a recycle. The cheap default.
    #[default]
    Background,
    /// Every checkout of an existing connection recycles it first (safest, one extra round
    /// trip per checkout).
    OnCheckout,
    /// A connection is recycled once after each use. Returning is synchronous, so the recycle
    /// is deferred: the maintenance task or the next checkout, whichever comes first, runs it.
    OnReturn,
}

/// Configuration of a [`Pool`](super::Pool).
///
/// In TOML/JSON durations are whole milliseconds in `*_ms` fields; `max_lifetime_ms = 0` and
/// `idle_timeout_ms = 0` disable those limits (in Rust: `None`).
///
/// ```
/// use foundation_protect::pool::PoolConfig;
/// use std::time::Duration;
///
/// let cfg: PoolConfig = toml::from_str(
///     "max_size = 8\nmin_idle = 2\nmax_overflow = 4\ncheckout_timeout_ms = 250\norder = \"fifo\"",
/// ).unwrap();
/// assert_eq!(cfg.checkout_timeout, Duration::from_millis(250));
/// cfg.validate().unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolConfig {
    /// Idle connections the maintenance task keeps ready (at most `max_size`).
    pub min_idle: usize,
    /// Connections kept by the pool (idle + in use).
    pub max_size: usize,
    /// Extra connections allowed under load beyond `max_size`; they are closed when returned
    /// (unless a caller is waiting for one). Live connections never exceed
    /// `max_size + max_overflow`.
    pub max_overflow: usize,
    /// Callers that may wait for a connection at once; the next one is refused at once with
    /// `POOL_TIMEOUT`. `0` means never wait.
    pub max_waiters: usize,
    /// How long a checkout may wait (for a free connection and for creating one).
    #[serde(rename = "checkout_timeout_ms", with = "foundation_core::millis")]
    pub checkout_timeout: Duration,
    /// Connections older than this are closed and replaced: when returned, or by the
    /// maintenance task when idle (so an idle one may be handed out up to one
    /// `maintenance_interval` past it: checkouts don't read the clock).
    #[serde(
        rename = "max_lifetime_ms",
        with = "foundation_core::millis::zero_disables"
    )]
    pub max_lifetime: Option<Duration>,
    /// Idle connections beyond `min_idle` idle for longer than this are closed.
    #[serde(
        rename = "idle_timeout_ms",
        with = "foundation_core::millis::zero_disables"
    )]
    pub idle_timeout: Option<Duration>,
    /// How often the maintenance task reaps, health-checks and refills.
    #[serde(rename = "maintenance_interval_ms", with = "foundation_core::millis")]
    pub maintenance_interval: Duration,
    /// Which idle connection a checkout takes.
    pub order: QueueOrder,
    /// When connections are recycled.
    pub recycle: RecyclePolicy,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            min_idle: 0,
            max_size: 10,
            max_overflow: 0,
            max_waiters: 1024,
            checkout_timeout: Duration::from_secs(5),
            max_lifetime: Some(Duration::from_secs(30 * 60)),
            idle_timeout: Some(Duration::from_secs(10 * 60)),
            maintenance_interval: Duration::from_secs(30),
            order: QueueOrder::Lifo,
            recycle: RecyclePolicy::Background,
        }
    }
}

impl PoolConfig {
    /// Checks every field; the error names each bad one (e.g. `min_idle`, `checkout_timeout_ms`).
    pub fn validate(&self) -> foundation_core::Result<()> {
        Validate::validate(self)
    }

    /// The most live connections the pool may hold: `max_size + max_overflow`.
    pub fn max_connections(&self) -> usize {
        self.max_size.saturating_add(self.max_overflow)
    }
}

impl Validate for PoolConfig {
    fn validate_into(&self, v: &mut Validator) {
        v.at_least_one("max_size", self.max_size as u64)
            .check(
                self.max_size <= MAX_CONNECTIONS,
                "max_size",
                format_args!("must be at most {MAX_CONNECTIONS}, got {}", self.max_size),
            )
            .check(
                self.max_overflow <= MAX_CONNECTIONS,
                "max_overflow",
                format_args!(
                    "must be at most {MAX_CONNECTIONS}, got {}",
                    self.max_overflow
                ),
            )
            .ordered("min_idle", self.min_idle, "max_size", self.max_size)
            .positive_duration("checkout_timeout_ms", self.checkout_timeout)
            .positive_duration("maintenance_interval_ms", self.maintenance_interval);
        for (field, value) in [
            ("max_lifetime_ms", self.max_lifetime),
            ("idle_timeout_ms", self.idle_timeout),
        ] {
            v.check(
                value.is_none_or(|d| !d.is_zero()),
                field,
                "must be greater than zero (use None / 0 in TOML to disable)",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use foundation_core::ErrorCode;

    fn fields(cfg: &PoolConfig) -> Vec<String> {
        let err = cfg.validate().unwrap_err();
        assert!(err.is(ErrorCode::INVALID_CONFIG));
        err.context_values("field").map(str::to_string).collect()
    }

    #[test]
    fn default_is_valid() {
        PoolConfig::default().validate().unwrap();
    }

    #[test]
    fn zero_max_size_is_refused() {
        let cfg = PoolConfig {
            max_size: 0,
            ..PoolConfig::default()
        };
        assert_eq!(fields(&cfg), vec!["max_size"]);
    }

    #[test]
    fn min_idle_above_max_size_names_min_idle() {
        let cfg = PoolConfig {
            min_idle: 11,
            ..PoolConfig::default()
        };
        let err = cfg.validate().unwrap_err();
        assert_eq!(fields(&cfg), vec!["min_idle"]);
        assert!(
            err.message()
                .contains("must not exceed max_size (10), got 11")
        );
    }

    #[test]
    fn zero_durations_are_refused_each_by_name() {
        let cfg = PoolConfig {
            checkout_timeout: Duration::ZERO,
            maintenance_interval: Duration::ZERO,
            max_lifetime: Some(Duration::ZERO),
            idle_timeout: Some(Duration::ZERO),
            ..PoolConfig::default()
        };
        assert_eq!(
            fields(&cfg),
            vec![
                "checkout_timeout_ms",
                "maintenance_interval_ms",
                "max_lifetime_ms",
                "idle_timeout_ms"
            ]
        );
    }

    #[test]
    fn absurd_sizes_are_refused() {
        let cfg = PoolConfig {
            max_size: usize::MAX,
            max_overflow: usize::MAX,
            ..PoolConfig::default()
        };
        assert_eq!(fields(&cfg), vec!["max_size", "max_overflow"]);
    }

    #[test]
    fn toml_uses_milliseconds_and_zero_disables_limits() {
        let cfg: PoolConfig =
            toml::from_str("max_lifetime_ms = 0\nidle_timeout_ms = 1500\nrecycle = \"on_return\"")
                .unwrap();
        assert_eq!(cfg.max_lifetime, None);
        assert_eq!(cfg.idle_timeout, Some(Duration::from_millis(1500)));
        assert_eq!(cfg.recycle, RecyclePolicy::OnReturn);
        let back: PoolConfig = toml::from_str(&toml::to_string(&cfg).unwrap()).unwrap();
        assert_eq!(back, cfg);
    }

    #[test]
    fn unknown_fields_and_orders_are_refused() {
        let err = toml::from_str::<PoolConfig>("max_sise = 3").unwrap_err();
        assert!(err.to_string().contains("max_sise"), "{err}");
        let err = toml::from_str::<PoolConfig>("order = \"random\"").unwrap_err();
        assert!(err.to_string().contains("random"), "{err}");
    }
}
