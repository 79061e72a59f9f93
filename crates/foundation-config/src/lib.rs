//! Layered configuration for Foundation components, with hot reload, stored versions and
//! per-agent overrides.
//!
//! - **Layers**, lowest first: built-in defaults, TOML documents, a `[profile.NAME]` section,
//!   environment variables ([`mod@env`] documents the mapping), run-time overrides of the
//!   service, and per-agent overrides. Tables merge deeply; scalars and arrays replace.
//! - **Provenance**: every leaf remembers which layers set it, down to the line of a TOML
//!   file ([`Config::explain`], [`Config::effective`] for an agent); errors name it too.
//! - **Validation**: a change is validated whole against a [`Schema`] (typed sections with
//!   their `validate()`, JSON Schema for free-form sections, unknown keys as errors or
//!   warnings) and swapped in only when valid; otherwise the running config stays.
//! - **Typed live reads**: [`Config::live`] gives a [`Live<T>`] deserialized once per change
//!   and read with one atomic load; subscribers get each new value through a watch channel,
//!   and [`Live::bind`] re-configures a component (a breaker keeps its window).
//! - **Versions**: a [`ConfigService`] stores every change in the store (SQLite or
//!   PostgreSQL) with number, author, time, reason and diff before it takes effect; history,
//!   rollback as a new version, overrides restored on restart, several nodes on one history.
//! - **Hot reload**: a [`FileWatcher`] reloads when the files change, once they settle; a
//!   half-written, invalid or deleted file is refused and the last good config keeps running.
//! - **Secrets** are shown as `***` in every view, diff, event and error.
//! - **HTTP**: [`http::router`] serves a [`ConfigService`] (values, explain, overrides,
//!   reload, versions, rollback).
//!
//! ```
//! use foundation_config::{Config, EnvSource, LayerSet, Schema, Secrets, Source};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Default, Deserialize, Serialize, PartialEq)]
//! struct Db { host: String, port: u16 }
//!
//! let layers = LayerSet::new()
//!     .defaults(&toml::toml! { [db] host = "localhost" port = 5432 })
//!     .toml_str("app.toml", "[db]\nhost = 'db1'\n[profile.prod.db]\nhost = 'db-prod'")
//!     .profile("prod")
//!     .env(EnvSource::new("APP_", [("APP_DB__PORT", "6432")]));
//! let schema = Schema::new().section::<Db>("db");
//! let (config, warnings) = Config::load(schema, Secrets::default(), layers).unwrap();
//! assert!(warnings.is_empty());
//! assert_eq!(config.get::<Db>("db").unwrap(), Db { host: "db-prod".into(), port: 6432 });
//! assert_eq!(config.explain("db.port").winner(), Some(&Source::Env("APP_DB__PORT".into())));
//! ```

mod bind;
mod config;
mod diff;
pub mod env;
pub mod events;
mod follow;
pub mod http;
mod json;
mod json_schema;
mod layer;
mod lines;
mod live;
mod path;
mod problem;
mod provenance;
mod schema;
mod secret;
mod service;
mod snapshot;
mod tree;
mod typed;
mod watch;

pub use bind::{Binding, BindingStatus};
pub use config::{Applied, Config};
pub use diff::Change;
pub use env::EnvSource;
pub use follow::Follower;
pub use layer::LayerSet;
pub use live::{Cached, Live};
pub use problem::Problem;
pub use provenance::Source;
pub use schema::{Schema, UnknownKeys};
pub use secret::{REDACTED, Secrets};
pub use service::{Attribution, ConfigService, Version};
pub use snapshot::{Explanation, Snapshot};
pub use toml::Value;
pub use watch::{FileWatcher, ReloadOutcome, ReloadStatus, Reloads, WatchOptions};
