//! [`AgentConfig`]: an agent's name, mailbox capacity and stop deadline.

use std::time::Duration;

use foundation_core::validate::{Validate, Validator};
use serde::{Deserialize, Serialize};

/// The largest mailbox an agent may have.
pub const MAX_MAILBOX_CAPACITY: usize = 1 << 24;

/// How an agent is spawned.
///
/// In serde form the deadline is `stop_deadline_ms` (integer milliseconds):
///
/// ```
/// use foundation_runtime::agent::AgentConfig;
/// let cfg: AgentConfig =
///     serde_json::from_str(r#"{"name":"cache","mailbox_capacity":128,"stop_deadline_ms":2000}"#)
///         .unwrap();
/// assert_eq!(cfg.stop_deadline, std::time::Duration::from_secs(2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentConfig {
    /// The agent's name, used in errors, events and logs. Must not be empty.
    pub name: String,
    /// How many messages may wait in the mailbox, `1..=MAX_MAILBOX_CAPACITY`.
    pub mailbox_capacity: usize,
    /// How long a graceful stop (current message + `on_stop`) may take before the agent is
    /// aborted. Must be positive.
    #[serde(rename = "stop_deadline_ms", with = "foundation_core::millis")]
    pub stop_deadline: Duration,
}

impl AgentConfig {
    /// The default config with this name.
    pub fn named(name: impl Into<String>) -> AgentConfig {
        AgentConfig {
            name: name.into(),
            ..AgentConfig::default()
        }
    }
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            name: "agent".to_owned(),
            mailbox_capacity: 256,
            stop_deadline: Duration::from_secs(5),
        }
    }
}

impl Validate for AgentConfig {
    fn validate_into(&self, v: &mut Validator) {
        v.non_empty("name", &self.name);
        v.check(
            (1..=MAX_MAILBOX_CAPACITY).contains(&self.mailbox_capacity),
            "mailbox_capacity",
            format_args!(
                "must be between 1 and {MAX_MAILBOX_CAPACITY}, got {}",
                self.mailbox_capacity
            ),
        );
        v.positive_duration("stop_deadline_ms", self.stop_deadline);
    }
}
