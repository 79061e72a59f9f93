//! The event store: streams, appends, reads, queries, subscriptions, upcasters and retention;
//! the overview is on [`EventStore`].

mod append;
mod read;
mod retention;
mod subscription;
mod types;
mod upcast;

use std::sync::Arc;

use foundation_core::error::{Error, Result};

use crate::Store;

pub use subscription::{CatchUpSubscription, PersistentSubscription};
pub use types::{AppendResult, Direction, EventQuery, ExpectedVersion, NewEvent, RecordedEvent};

use upcast::Upcasters;

use crate::MAX_NAME_LEN;

/// The most events one read, query or append handles.
pub const MAX_READ_LIMIT: usize = 10_000;

/// The wake-up topic appends signal.
const TOPIC: &str = "events";

/// The event store: append-only streams of JSON events with a gapless global position.
///
/// * **Streams and versions.** Events are appended to a named stream; a stream's first event
///   has version 0. An append of one or many events is atomic and checks an
///   [`ExpectedVersion`]; a mismatch fails with `EVENT_WRONG_EXPECTED_VERSION` (context
///   `stream`, `expected`, `actual`) and writes nothing.
/// * **Global position.** Every event also gets a position in the whole store: 1, 2, 3, …
///   Appends take one lock (a one-row head table: SQLite's write lock, PostgreSQL's row lock)
///   and assign positions from it, so positions have no gaps and commit in order: once a reader
///   has seen position `n`, no event at or below `n` can appear later. That is what lets
///   catch-up subscriptions read "everything after `n`" without skipping or repeating.
/// * **Reads.** A stream forward or backward ([`EventStore::read_stream`]), everything after a
///   position ([`EventStore::read_all`]), or a filter by type, time range, correlation id and
///   agent id ([`EventStore::query`]).
/// * **Subscriptions.** [`EventStore::subscribe`] reads history page by page from storage and
///   then waits for new appends (woken by the store's signal, polling as a fallback); it pulls,
///   so a slow consumer holds one page in memory and never slows writers. A
///   [`PersistentSubscription`] additionally stores its consumer's checkpoint.
/// * **Schema evolution.** Upcasters registered per (type, schema version) bring old events to
///   the current shape on every read path ([`EventStore::upcaster`]).
/// * **Retention.** [`EventStore::truncate_stream`] removes a stream's events below a version;
///   [`EventStore::delete_stream`] removes all of them and leaves a tombstone: reading the
///   stream then fails with `NOT_FOUND`, appending to it with `STORE_CONFLICT`. Removed events
///   are gone from every read path; their positions are never reused, so `read_all` simply
///   skips them and every ordering promise above still holds.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use foundation_store::{Direction, ExpectedVersion, NewEvent, Store};
/// use serde_json::json;
///
/// let dir = tempfile::tempdir().unwrap();
/// let store = Store::open(&format!("sqlite://{}", dir.path().join("e.db").display()))
///     .await
///     .unwrap();
/// let events = store.events();
/// let written = events
///     .append(
///         "order-1",
///         ExpectedVersion::NoStream,
///         vec![NewEvent::new("OrderPlaced", json!({"total": 30}))],
///     )
///     .await
///     .unwrap();
/// assert_eq!((written.first_position, written.stream_version), (1, 0));
///
/// let read = events.read_stream("order-1", Direction::Forward, 0, 10).await.unwrap();
/// assert_eq!(read[0].data, json!({"total": 30}));
/// store.close().await;
/// # });
/// ```
///
/// A handle is cheap to clone; it carries the upcasters its reads apply.
#[derive(Clone)]
pub struct EventStore {
    store: Store,
    upcasters: Arc<Upcasters>,
}

impl std::fmt::Debug for EventStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStore")
            .field("upcasters", &self.upcasters)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// The event store, with no upcasters registered (add them with
    /// [`EventStore::upcaster`]).
    pub fn events(&self) -> EventStore {
        EventStore {
            store: self.clone(),
            upcasters: Arc::new(Upcasters::default()),
        }
    }
}

/// Checks a required name-like field: 1 to [`MAX_NAME_LEN`] bytes.
fn check_name(field: &'static str, value: &str) -> Result<()> {
    if value.is_empty() || value.len() > MAX_NAME_LEN {
        return Err(Error::invalid_input(
            field,
            format_args!("must be 1 to {MAX_NAME_LEN} bytes, got {}", value.len()),
        ));
    }
    Ok(())
}

/// Checks a read limit: 1 to [`MAX_READ_LIMIT`].
fn check_limit(limit: usize) -> Result<()> {
    if limit == 0 || limit > MAX_READ_LIMIT {
        return Err(Error::invalid_input(
            "limit",
            format_args!("must be 1 to {MAX_READ_LIMIT}, got {limit}"),
        ));
    }
    Ok(())
}

/// A position or version as stored (the database holds `i64`).
fn to_db(field: &'static str, value: u64) -> Result<i64> {
    i64::try_from(value)
        .map_err(|_| Error::invalid_input(field, format_args!("{value} is out of range")))
}
