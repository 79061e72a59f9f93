//! How a queue worker runs: [`WorkerConfig`].

use std::time::Duration;

use foundation_core::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// A queue worker's settings. In serde form durations are integer milliseconds
/// (`lease_ms`, `heartbeat_ms`, `poll_interval_ms`, `shutdown_grace_ms`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WorkerConfig {
    /// The queue it takes tasks from.
    pub queue: String,
    /// The name its leases carry (unique per worker; shown in attempt errors).
    pub name: String,
    /// The most tasks it runs at once.
    pub concurrency: usize,
    /// How long a lease lasts without a heartbeat. A worker that dies is noticed this long after
    /// its last heartbeat.
    #[serde(rename = "lease_ms", with = "foundation_core::millis")]
    pub lease: Duration,
    /// How often a running task's lease is extended (well under `lease`).
    #[serde(rename = "heartbeat_ms", with = "foundation_core::millis")]
    pub heartbeat: Duration,
    /// The longest wait between fetches when nothing wakes the worker (the fallback for a
    /// missed wake-up, and how soon expired leases of dead workers are noticed).
    #[serde(rename = "poll_interval_ms", with = "foundation_core::millis")]
    pub poll_interval: Duration,
    /// On stop, how long running tasks may take to finish before they are abandoned and their
    /// leases returned (the attempt is not counted). Keep it under the agent's stop deadline.
    #[serde(rename = "shutdown_grace_ms", with = "foundation_core::millis")]
    pub shutdown_grace: Duration,
    /// Whether this worker also enqueues due recurring (cron) tasks as it polls.
    pub drive_cron: bool,
}

impl Default for WorkerConfig {
    /// Queue `default`, 10 at once, 30 s leases extended every 10 s, polling every second,
    /// 10 s of grace on stop, driving cron.
    fn default() -> WorkerConfig {
        WorkerConfig {
            queue: "default".into(),
            name: "worker".into(),
            concurrency: 10,
            lease: Duration::from_secs(30),
            heartbeat: Duration::from_secs(10),
            poll_interval: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(10),
            drive_cron: true,
        }
    }
}

impl WorkerConfig {
    /// Defaults for `queue`, with the worker named after it.
    pub fn new(queue: impl Into<String>) -> WorkerConfig {
        let queue = queue.into();
        WorkerConfig {
            name: format!("{queue}-worker"),
            queue,
            ..WorkerConfig::default()
        }
    }

    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        if self.queue.is_empty() {
            return Err(Error::invalid_config("queue", "must not be empty"));
        }
        if self.name.is_empty() {
            return Err(Error::invalid_config("name", "must not be empty"));
        }
        if self.concurrency == 0 || self.concurrency > foundation_store::MAX_FETCH {
            return Err(Error::invalid_config(
                "concurrency",
                format_args!("must be 1 to {}", foundation_store::MAX_FETCH),
            ));
        }
        if self.lease.is_zero() {
            return Err(Error::invalid_config("lease", "must be longer than zero"));
        }
        if self.heartbeat.is_zero() || self.heartbeat >= self.lease {
            return Err(Error::invalid_config(
                "heartbeat",
                "must be longer than zero and shorter than the lease",
            ));
        }
        if self.poll_interval.is_zero() {
            return Err(Error::invalid_config(
                "poll_interval",
                "must be longer than zero",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_fields_are_named() {
        assert!(WorkerConfig::new("mail").validate().is_ok());
        let field = |c: WorkerConfig| {
            c.validate()
                .unwrap_err()
                .context_value("field")
                .map(str::to_owned)
        };
        let base = WorkerConfig::new("mail");
        assert_eq!(
            field(WorkerConfig {
                concurrency: 0,
                ..base.clone()
            })
            .as_deref(),
            Some("concurrency")
        );
        assert_eq!(
            field(WorkerConfig {
                heartbeat: base.lease,
                ..base.clone()
            })
            .as_deref(),
            Some("heartbeat")
        );
        assert_eq!(
            field(WorkerConfig {
                queue: String::new(),
                ..base
            })
            .as_deref(),
            Some("queue")
        );
    }

    #[test]
    fn serde_form_uses_milliseconds() {
        let c: WorkerConfig =
            serde_json::from_str(r#"{"queue":"q","lease_ms":5000,"heartbeat_ms":1000}"#).unwrap();
        assert_eq!(c.lease, Duration::from_secs(5));
        assert_eq!(c.concurrency, 10);
    }
}
