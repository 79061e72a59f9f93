//! Durable storage for Foundation: one API over an embedded SQLite file (the default) and
//! PostgreSQL (for several nodes sharing state).
//!
//! A [`Store`] is opened from a URL ([`StoreUrl`]): `sqlite://PATH`, `sqlite::memory:` or
//! `postgres://…`. Opening connects, then brings the schema up to date with the versioned
//! migrations embedded in this build (see [`SCHEMA_VERSION`]); a database written by a newer
//! build is refused with `STORE_SCHEMA_TOO_NEW` and left untouched. Queries use sqlx's runtime
//! API, so building needs no database. Every sqlx error is translated at the boundary into a
//! Foundation `Error` with a `store.*` code and an `operation`
//! context; the raw sqlx error is only ever the source.
//!
//! The base schema holds the schema-version ledger and a small key/value table for store-wide
//! metadata ([`Store::meta`], [`Store::put_meta`], [`Store::insert_meta`]).
//!
//! [`Store::tasks`] is the durable task queue: leases with heartbeats, retries with backoff, a
//! dead-letter queue, unique keys, recurring tasks and stats (see [`TaskQueue`]).
//!
//! [`Store::events`] is the event store: append-only streams with optimistic concurrency, a
//! gapless global position, queries, catch-up and persistent subscriptions, upcasters and
//! retention (see [`EventStore`]).
//!
//! Persistent agents keep their state in [`Store::agent_state`]: one JSON value per key with a
//! version, saved by compare-and-set so that two writers cannot silently overwrite each other.
//!
//! [`Store::config_versions`] is the history of applied config changes: per config name,
//! versions 1, 2, 3, … each with author, time, reason, the layers and the diff, appended
//! race-free across nodes and listed newest first (see [`ConfigVersions`]).
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use foundation_store::{BackendKind, Store};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let url = format!("sqlite://{}", dir.path().join("node.db").display());
//! let store = Store::open(&url).await.unwrap();
//! assert_eq!(store.backend(), BackendKind::Sqlite);
//!
//! store.put_meta("node_id", "n-1").await.unwrap();
//! assert_eq!(store.meta("node_id").await.unwrap(), "n-1");
//! store.close().await;
//! # });
//! ```

mod backend;
mod config_versions;
mod error;
mod events;
mod meta;
mod migrate;
mod payload;
mod queue;
mod signal;
mod sql;
mod state;
#[cfg(feature = "testing")]
pub mod testing;
mod time;
mod url;

use std::sync::Arc;
use std::time::Duration;

use foundation_core::error::{Error, Result};
use foundation_core::{Clock, TelemetryBus};

pub use backend::{BackendKind, SqliteDurability};
pub use config_versions::{
    ConfigVersion, ConfigVersions, MAX_AUTHOR_LEN, MAX_REASON_LEN, MAX_VERSIONS_LIST,
    NewConfigVersion,
};
pub use events::{
    AppendResult, CatchUpSubscription, Direction, EventQuery, EventStore, ExpectedVersion,
    MAX_READ_LIMIT, NewEvent, PersistentSubscription, RecordedEvent,
};
pub use migrate::SCHEMA_VERSION;
pub use queue::{
    AttemptError, Backoff, CronSchedule, DeadLetterFilter, Failure, FailureOutcome, Lease,
    LeasedTask, LeasesExpired, MAX_ATTEMPTS, MAX_CONCURRENCY, MAX_ERROR_LEN, MAX_FETCH, MAX_LIST,
    MAX_PRIORITY, MAX_TAGS, MAX_TIMEOUT, NewTask, QueueInfo, QueueSettings, QueueStats, Task,
    TaskDeadLettered, TaskDetails, TaskId, TaskQueue, TaskState, Waiter,
};
pub use state::{MAX_STATE_KEY_LEN, StateStore, Versioned};
pub use url::{DEFAULT_URL, StoreUrl};

use backend::Backend;
use signal::Signals;
use time::WallTime;

/// The longest name accepted (queue, unique key, tag, worker, stream, event type, subscription),
/// in bytes.
pub const MAX_NAME_LEN: usize = 255;

/// The largest JSON payload accepted by default (task payloads, event data, agent state): 1 MiB.
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 1024 * 1024;

/// How to open a [`Store`]: the URL plus pool and timeout settings.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    url: StoreUrl,
    connect_timeout: Duration,
    busy_timeout: Duration,
    max_connections: u32,
    postgres_schema: Option<String>,
    clock: Option<Clock>,
    max_payload_bytes: usize,
    sqlite_durability: SqliteDurability,
    bus: TelemetryBus,
}

impl StoreOptions {
    /// Options for `url` with the defaults: 5 s connect timeout, 5 s SQLite busy timeout,
    /// 8 connections, PostgreSQL's default `search_path`, the system time, payloads up to
    /// [`DEFAULT_MAX_PAYLOAD_BYTES`].
    pub fn new(url: StoreUrl) -> StoreOptions {
        StoreOptions {
            url,
            connect_timeout: Duration::from_secs(5),
            busy_timeout: Duration::from_secs(5),
            max_connections: 8,
            postgres_schema: None,
            clock: None,
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
            sqlite_durability: SqliteDurability::Full,
            bus: TelemetryBus::global().clone(),
        }
    }

    /// How long opening (and acquiring a connection) may wait before `STORE_UNAVAILABLE`.
    pub fn connect_timeout(mut self, timeout: Duration) -> StoreOptions {
        self.connect_timeout = timeout;
        self
    }

    /// How long an SQLite writer waits for another writer's lock before failing.
    pub fn busy_timeout(mut self, timeout: Duration) -> StoreOptions {
        self.busy_timeout = timeout;
        self
    }

    /// The most connections the pool opens.
    pub fn max_connections(mut self, max: u32) -> StoreOptions {
        self.max_connections = max;
        self
    }

    /// PostgreSQL only: keep every table in this schema (created if missing) by setting each
    /// connection's `search_path`. The name must be a plain lower-case identifier.
    pub fn postgres_schema(mut self, schema: impl Into<String>) -> StoreOptions {
        self.postgres_schema = Some(schema.into());
        self
    }

    /// The clock stored times follow (run-at, lease deadlines, timestamps): the system time at
    /// open, moved forward by this clock. Without one, the system time is read on every call.
    /// Tests pass a [`ManualClock`](foundation_core::ManualClock)'s clock to move time by hand.
    pub fn clock(mut self, clock: Clock) -> StoreOptions {
        self.clock = Some(clock);
        self
    }

    /// The largest JSON payload (task payload, event data or metadata, agent state) accepted,
    /// in bytes of its JSON text; larger ones get `STORE_PAYLOAD_TOO_LARGE` and nothing is
    /// written.
    pub fn max_payload_bytes(mut self, max: usize) -> StoreOptions {
        self.max_payload_bytes = max;
        self
    }

    /// The telemetry bus the store's events go to (default: the global bus).
    pub fn bus(mut self, bus: TelemetryBus) -> StoreOptions {
        self.bus = bus;
        self
    }

    /// SQLite only: what an acknowledged write survives (default
    /// [`SqliteDurability::Full`]: power loss).
    pub fn sqlite_durability(mut self, durability: SqliteDurability) -> StoreOptions {
        self.sqlite_durability = durability;
        self
    }

    fn validate(&self) -> Result<()> {
        if self.max_payload_bytes == 0 {
            return Err(Error::invalid_config(
                "max_payload_bytes",
                "must be at least 1",
            ));
        }
        if self.connect_timeout.is_zero() {
            return Err(Error::invalid_config(
                "connect_timeout",
                "must be greater than zero",
            ));
        }
        if self.max_connections == 0 {
            return Err(Error::invalid_config(
                "max_connections",
                "must be at least 1",
            ));
        }
        if let Some(schema) = &self.postgres_schema {
            let mut chars = schema.chars();
            let plain = chars
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
                && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                && schema.len() <= 63;
            if !plain {
                return Err(Error::invalid_config(
                    "postgres_schema",
                    "must match [a-z_][a-z0-9_]* and be at most 63 bytes",
                ));
            }
        }
        Ok(())
    }

    /// Connects and migrates; see [`Store::open`].
    pub async fn open(self) -> Result<Store> {
        self.validate()?;
        let backend = Backend::connect(&self).await?;
        let read_only = matches!(
            self.url,
            StoreUrl::Sqlite {
                read_only: true,
                ..
            }
        );
        if let Err(err) =
            migrate::migrate(&backend, read_only, self.postgres_schema.as_deref()).await
        {
            backend.close().await;
            return Err(err);
        }
        let signals = Arc::new(Signals::default());
        if let Backend::Postgres(pool) = &backend {
            signals.listen_postgres(pool).await;
        }
        Ok(Store {
            backend,
            shared: Arc::new(Shared {
                wall: self.clock.map_or(WallTime::System, WallTime::anchored),
                signals,
                max_payload_bytes: self.max_payload_bytes,
                bus: self.bus,
                lease_sweeps: Default::default(),
            }),
        })
    }
}

/// An open, migrated store. Cheap to clone: clones share one pool.
#[derive(Debug, Clone)]
pub struct Store {
    backend: Backend,
    shared: Arc<Shared>,
}

/// What the clones of one store share besides the pool.
#[derive(Debug)]
struct Shared {
    wall: WallTime,
    signals: Arc<Signals>,
    max_payload_bytes: usize,
    bus: TelemetryBus,
    /// When each queue's expired leases were last looked for (ms since the Unix epoch).
    lease_sweeps: std::sync::Mutex<std::collections::HashMap<String, i64>>,
}

impl Store {
    /// Opens the store at `url` with default [`StoreOptions`].
    ///
    /// Errors: `INVALID_CONFIG` (field `url`) for a malformed URL or unknown scheme;
    /// `STORE_UNAVAILABLE` when the server cannot be reached within the connect timeout;
    /// `STORE_CORRUPT` when the file is not a database; `STORE_READ_ONLY` when a read-only
    /// database needs migrating; `STORE_SCHEMA_TOO_NEW` when a newer build wrote it.
    pub async fn open(url: &str) -> Result<Store> {
        StoreOptions::new(StoreUrl::parse(url)?).open().await
    }

    /// Which backend this store runs on.
    pub fn backend(&self) -> BackendKind {
        self.backend.kind()
    }

    /// The schema version recorded in the database.
    pub async fn schema_version(&self) -> Result<u32> {
        let version = migrate::current_version(&self.backend).await?;
        // The version was checked on open to be at most SCHEMA_VERSION, a u32.
        Ok(u32::try_from(version).unwrap_or(u32::MAX))
    }

    /// Checks that the database answers: one `SELECT 1` on a pooled connection, for health
    /// checks. `STORE_UNAVAILABLE` when no connection can be had (server down, pool closed or
    /// exhausted past the connect timeout); other failures are translated as every query's are.
    pub async fn ping(&self) -> Result<()> {
        sql::with_pool!(&self.backend, |pool, _dialect| {
            sqlx::query("SELECT 1").execute(pool).await.map(|_| ())
        })
        .map_err(|e| error::translate(e, "ping"))
    }

    /// Closes the pool, waiting for connections in use to be returned. Later calls fail with
    /// `STORE_UNAVAILABLE` (not retryable).
    pub async fn close(&self) {
        self.shared.signals.stop();
        self.backend.close().await;
    }

    /// The store's current time in milliseconds since the Unix epoch (see
    /// [`StoreOptions::clock`]).
    pub fn now_ms(&self) -> i64 {
        self.shared.wall.now_ms()
    }

    /// A receiver woken after every committed write that signals `topic`, in this process or
    /// (PostgreSQL) on any node.
    pub(crate) fn wake_on(&self, topic: &str) -> tokio::sync::watch::Receiver<u64> {
        self.shared.signals.subscribe(topic)
    }

    /// Wakes this process's waiters on `topic` (call after the write committed; on PostgreSQL
    /// the transaction also sent `pg_notify`, see [`signal`]).
    pub(crate) fn wake(&self, topic: &str) {
        self.shared.signals.notify(topic);
    }
}
