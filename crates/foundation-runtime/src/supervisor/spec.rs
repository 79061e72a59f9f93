//! What a supervisor runs: [`SupervisorConfig`] (strategy and intensity, serde),
//! [`SupervisorSpec`] (config plus static children) and [`ChildSpec`] (one child).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use foundation_core::validate::{Validate, Validator};
use serde::{Deserialize, Serialize};

use super::child::{AgentStart, StartChild};
use crate::agent::{Agent, AgentConfig, ExitReason};

/// How many restarts a supervisor allows within [`DEFAULT_PERIOD`] before it gives up.
pub const DEFAULT_MAX_RESTARTS: u32 = 3;

/// The window [`DEFAULT_MAX_RESTARTS`] is counted in.
pub const DEFAULT_PERIOD: Duration = Duration::from_secs(5);

/// Which children are restarted when one of them must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Only the child that ended.
    #[default]
    OneForOne,
    /// Every child: the others are stopped in reverse start order, then all start in order.
    OneForAll,
    /// The child that ended and every child started after it (stopped in reverse order,
    /// started in order); children started before it are untouched.
    RestForOne,
}

/// When a child that ended is restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Restart {
    /// Always.
    #[default]
    Permanent,
    /// Only after an abnormal exit (`!ExitReason::is_normal()`).
    Transient,
    /// Never, not even when a sibling's failure stops it under `OneForAll`/`RestForOne`.
    Temporary,
}

impl Restart {
    /// Whether a child with this policy is restarted after ending with `exit`.
    pub fn restarts_after(self, exit: &ExitReason) -> bool {
        match self {
            Restart::Permanent => true,
            Restart::Transient => !exit.is_normal(),
            Restart::Temporary => false,
        }
    }
}

/// A supervisor's own settings. In serde form the period is `period_ms`:
///
/// ```
/// use foundation_runtime::supervisor::{Strategy, SupervisorConfig};
/// let cfg: SupervisorConfig = serde_json::from_str(
///     r#"{"name":"orders","strategy":"rest_for_one","max_restarts":5,"period_ms":10000}"#,
/// )
/// .unwrap();
/// assert_eq!(cfg.strategy, Strategy::RestForOne);
/// assert_eq!(cfg.period, std::time::Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SupervisorConfig {
    /// The supervisor's name, used in errors, events and logs. Must not be empty.
    pub name: String,
    /// Which children are restarted together.
    pub strategy: Strategy,
    /// Restarts allowed within `period`; one more and the supervisor gives up. At least 1.
    pub max_restarts: u32,
    /// The sliding window restarts are counted in. Must be positive.
    #[serde(rename = "period_ms", with = "foundation_core::millis")]
    pub period: Duration,
    /// The most children it may run at once (static and dynamic); `None` is unbounded.
    pub max_children: Option<usize>,
    /// End normally (`Stopped(Normal)`) when the last child ends on its own and is not
    /// restarted. [`terminate_child`](super::SupervisorRef::terminate_child) does not count.
    pub auto_shutdown: bool,
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        SupervisorConfig {
            name: "supervisor".to_owned(),
            strategy: Strategy::OneForOne,
            max_restarts: DEFAULT_MAX_RESTARTS,
            period: DEFAULT_PERIOD,
            max_children: None,
            auto_shutdown: false,
        }
    }
}

impl Validate for SupervisorConfig {
    fn validate_into(&self, v: &mut Validator) {
        v.non_empty("name", &self.name);
        v.at_least_one("max_restarts", u64::from(self.max_restarts));
        v.positive_duration("period_ms", self.period);
        if let Some(max) = self.max_children {
            v.at_least_one("max_children", max as u64);
        }
    }
}

/// A supervisor to start: its [`SupervisorConfig`] and the children it starts, in order.
///
/// Built with chained calls: `SupervisorSpec::new("name").strategy(..).child(..)`.
#[derive(Clone)]
pub struct SupervisorSpec {
    pub(super) config: SupervisorConfig,
    pub(super) children: Vec<ChildSpec>,
}

impl SupervisorSpec {
    /// A one-for-one supervisor with the default intensity and no children.
    pub fn new(name: impl Into<String>) -> SupervisorSpec {
        SupervisorSpec::from_config(SupervisorConfig {
            name: name.into(),
            ..SupervisorConfig::default()
        })
    }

    /// A supervisor with these settings and no children.
    pub fn from_config(config: SupervisorConfig) -> SupervisorSpec {
        SupervisorSpec {
            config,
            children: Vec::new(),
        }
    }

    /// Sets the restart strategy.
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.config.strategy = strategy;
        self
    }

    /// Allows `max_restarts` restarts within `period`.
    pub fn intensity(mut self, max_restarts: u32, period: Duration) -> Self {
        self.config.max_restarts = max_restarts;
        self.config.period = period;
        self
    }

    /// Caps the number of children.
    pub fn max_children(mut self, max: usize) -> Self {
        self.config.max_children = Some(max);
        self
    }

    /// Ends the supervisor normally once its last child ended without restart.
    pub fn auto_shutdown(mut self, on: bool) -> Self {
        self.config.auto_shutdown = on;
        self
    }

    /// Adds a static child, started after the ones added before it.
    pub fn child(mut self, child: ChildSpec) -> Self {
        self.children.push(child);
        self
    }

    /// Adds static children in order.
    pub fn children(mut self, children: impl IntoIterator<Item = ChildSpec>) -> Self {
        self.children.extend(children);
        self
    }

    /// The supervisor's settings.
    pub fn config(&self) -> &SupervisorConfig {
        &self.config
    }

    /// The static children, in start order.
    pub fn child_specs(&self) -> &[ChildSpec] {
        &self.children
    }
}

impl fmt::Debug for SupervisorSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupervisorSpec")
            .field("config", &self.config)
            .field("children", &self.children)
            .finish()
    }
}

impl Validate for SupervisorSpec {
    fn validate_into(&self, v: &mut Validator) {
        self.config.validate_into(v);
        if let Some(max) = self.config.max_children {
            v.check(
                self.children.len() <= max,
                "children",
                format_args!(
                    "{} static children exceed max_children ({max})",
                    self.children.len()
                ),
            );
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, child) in self.children.iter().enumerate() {
            let field = format!("children[{i}]");
            v.nested(&field, child);
            if let Some(first) = seen.insert(child.id.as_str(), i) {
                v.check(
                    false,
                    &format!("{field}.id"),
                    format_args!("duplicate id `{}` (also children[{first}])", child.id),
                );
            }
        }
    }
}

/// Whether a child is an agent or a nested supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChildKind {
    /// An agent, made fresh by its factory on every (re)start.
    Agent,
    /// A nested supervisor.
    Supervisor,
}

/// One child of a supervisor: its id, restart policy and how to start it.
#[derive(Clone)]
pub struct ChildSpec {
    pub(super) id: String,
    pub(super) restart: Restart,
    pub(super) start: Arc<dyn StartChild>,
}

impl ChildSpec {
    /// An agent child: `factory` makes a fresh agent value for every (re)start; `config`
    /// names it and its `stop_deadline` is this child's shutdown deadline. Permanent.
    pub fn agent<A, F>(id: impl Into<String>, factory: F, config: AgentConfig) -> ChildSpec
    where
        A: Agent,
        F: Fn() -> A + Send + Sync + 'static,
    {
        ChildSpec {
            id: id.into(),
            restart: Restart::Permanent,
            start: Arc::new(AgentStart::new(factory, config)),
        }
    }

    /// A nested supervisor child, restarted as a whole (with fresh children). Permanent.
    /// Stopping it takes as long as stopping its children, each within its own deadline.
    pub fn supervisor(id: impl Into<String>, spec: SupervisorSpec) -> ChildSpec {
        ChildSpec {
            id: id.into(),
            restart: Restart::Permanent,
            start: Arc::new(spec),
        }
    }

    /// Sets the restart policy.
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// The child's id, unique within its supervisor.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Its restart policy.
    pub fn policy(&self) -> Restart {
        self.restart
    }

    /// Agent or nested supervisor.
    pub fn kind(&self) -> ChildKind {
        self.start.kind()
    }
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("restart", &self.restart)
            .field("kind", &self.kind())
            .finish()
    }
}

impl Validate for ChildSpec {
    fn validate_into(&self, v: &mut Validator) {
        v.non_empty("id", &self.id);
        self.start.validate_into(v);
    }
}
