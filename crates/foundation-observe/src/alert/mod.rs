//! Alerting: rules over the monitor and health, routing, grouping, silences, inhibition,
//! escalation, and delivery that never loses an alert silently.
//!
//! - **Rules** ([`RuleConfig`]): an operation's metric over a window against a value or its
//!   baseline (the monitor's [`Metric`](crate::monitor::Metric),
//!   [`Window`](crate::monitor::Window) and [`Condition`](crate::monitor::Condition)), or a
//!   health check (or the overall health) at warn or fail; a `for` duration, a [`Severity`],
//!   labels and annotations. [`AlertManager::evaluate`] runs them; the engine
//!   ([`AlertManager::spawn`]) does so every `evaluation_interval`. Alerts can also be fired,
//!   acknowledged and resolved directly ([`AlertManager::fire`], [`acknowledge`](AlertManager::acknowledge),
//!   [`resolve`](AlertManager::resolve)).
//! - **Lifecycle** ([`lifecycle`]): inactive → pending → firing → resolved, identified by a
//!   [`Fingerprint`] of the labels that stays the same across evaluations; a bounded history.
//! - **Routing** ([`route`]): a tree of routes with label [matchers](Matcher) (`=`, `!=`,
//!   `=~`, `!~`), `continue`, and a default receiver at the root; alerts are **grouped** by
//!   labels (`group_wait`, `group_interval`), **de-duplicated**, and repeated every
//!   `repeat_interval` while they fire.
//! - **Silences** ([`silence`]) mute matching alerts for a time; **inhibition** ([`inhibit`])
//!   lets a firing alert mute others (a critical mutes its warnings). Muted alerts are not
//!   delivered but are listed with what mutes them.
//! - **Escalation** ([`escalation`]): per route, receivers notified one after another while
//!   an alert stays unacknowledged.
//! - **Receivers** ([`Receiver`]): [`receivers::LogReceiver`], [`receivers::WebhookReceiver`]
//!   (Alertmanager's webhook JSON) and [`receivers::ChannelReceiver`], each delivery run
//!   through the receiver's `Protection` (retry with backoff, timeout, circuit breaker).
//!   A notification that still fails is published as `foundation.alert.delivery_failed`,
//!   counted in [`AlertManager::status`], sent again at the group's next interval, and the
//!   receiver is reported by an [`AlertReceiverDown`](RECEIVER_DOWN) alert that goes to the
//!   `fallback_receiver` and the log.
//! - **HTTP** ([`http`]): list, fire, acknowledge and resolve alerts, manage silences, and
//!   read the status under `/alerts`.
//! - **Events**: `foundation.alert.fired`, `.resolved`, `.acknowledged`, `.escalated` and
//!   `.delivery_failed` on the telemetry bus ([`events`]).
//!
//! Time follows the manager's [`Clock`](foundation_core::Clock) and tokio's timers, so tests
//! run on paused time.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::time::Duration;
//! use foundation_observe::alert::{
//!     AlertConfig, AlertManager, AlertRequest, RouteConfig, Severity, receivers::ChannelReceiver,
//! };
//!
//! let (pager, mut pages) = ChannelReceiver::new("pager", 16);
//! let config = AlertConfig {
//!     route: RouteConfig::to("log")
//!         .group_by(&["alertname"])
//!         .timing(Duration::ZERO, Duration::from_secs(60), Duration::from_secs(3600))
//!         .route(RouteConfig::to("pager").matching(&["severity=\"critical\""])),
//!     ..AlertConfig::default()
//! };
//! let alerts = AlertManager::builder().config(config).receiver(pager).build()?;
//!
//! let fired = alerts.fire(
//!     &AlertRequest::new("DiskFull", Severity::Critical)
//!         .label("host", "db-1")
//!         .annotation("summary", "disk of db-1 is full"),
//! )?;
//! assert_eq!(fired.receivers, ["pager"]);
//!
//! alerts.flush().await; // the engine (`alerts.spawn()`) does this every second
//! let page = pages.try_recv().unwrap();
//! assert_eq!(page.alerts[0].labels["host"], "db-1");
//! assert_eq!(page.group_labels["alertname"], "DiskFull");
//!
//! alerts.acknowledge(fired.fingerprint, "alice", "on it")?;
//! alerts.resolve(fired.fingerprint)?;
//! # Ok::<(), foundation_core::Error>(())
//! # }).unwrap();
//! ```

mod api;
mod config;
mod delivery;
pub mod escalation;
mod event_window;
pub mod events;
mod group;
pub mod http;
pub mod inhibit;
mod labels;
pub mod lifecycle;
mod manager;
mod matcher;
mod receiver;
pub mod receivers;
pub mod route;
mod rule;
pub mod silence;
mod task;

pub use api::{
    AckView, AlertCounts, AlertFilter, AlertRequest, AlertStatus, AlertView, SilenceView,
    TransitionView,
};
pub use config::{AlertConfig, DEFAULT_RECEIVER, DeliveryConfig, ReceiverConfig};
pub use delivery::ReceiverStatus;
pub use escalation::EscalationStep;
pub use events::{AlertAcknowledged, AlertEscalated, AlertFired, AlertResolved, DeliveryFailed};
pub use inhibit::InhibitRuleConfig;
pub use labels::{ALERTNAME, Fingerprint, Labels, SEVERITY};
pub use lifecycle::{AlertState, Origin, Severity};
pub use manager::{AlertManager, AlertManagerBuilder, RECEIVER_DOWN};
pub use matcher::{MatchOp, Matcher, MatcherSpec};
pub use receiver::{Notification, NotificationStatus, NotifiedAlert, Receiver};
pub use route::RouteConfig;
pub use rule::{RuleCondition, RuleConfig};
pub use silence::{SilenceId, SilenceRequest, SilenceState};
pub use task::AlertTask;
