//! Layered configuration for Foundation components.
//!
//! Layers, lowest first: built-in defaults, TOML documents, a `[profile.NAME]` section,
//! environment variables ([`env`] documents the mapping) and run-time overrides. Tables merge
//! deeply; scalars and arrays replace. Every leaf remembers which layers set it
//! ([`Config::explain`]); typed reads name the field and the source of a bad value; a change
//! is validated whole against a [`Schema`] and swapped in only when valid; secret values are
//! shown as `***` everywhere.
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

mod config;
pub mod env;
mod layer;
mod path;
mod problem;
mod provenance;
mod schema;
mod secret;
mod tree;
mod typed;

pub use config::{Config, Explanation, Snapshot};
pub use env::EnvSource;
pub use layer::LayerSet;
pub use problem::Problem;
pub use provenance::Source;
pub use schema::{Schema, UnknownKeys};
pub use secret::{REDACTED, Secrets};
pub use toml::Value;
