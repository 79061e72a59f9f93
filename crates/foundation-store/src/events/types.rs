//! The values the event store takes and returns: new and recorded events, expected versions,
//! append results, read directions and queries.

use std::fmt;

use serde_json::Value;

/// What an append expects the stream's current version to be; checked atomically with the
/// write. A stream's first event has version 0, so a stream holding `n` events is at version
/// `n - 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// No check: append whatever the stream holds (it is created if missing).
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream must exist (hold at least one event, now or before a truncation).
    StreamExists,
    /// The stream's last event must have exactly this version.
    Exact(u64),
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::StreamExists => f.write_str("stream exists"),
            ExpectedVersion::Exact(v) => write!(f, "{v}"),
        }
    }
}

/// An event to append: its type, JSON object data, schema version and metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub(crate) id: Option<String>,
    pub(crate) event_type: String,
    pub(crate) schema_version: u32,
    pub(crate) data: Value,
    pub(crate) metadata: Value,
    pub(crate) correlation_id: Option<String>,
    pub(crate) causation_id: Option<String>,
    pub(crate) agent_id: Option<String>,
}

impl NewEvent {
    /// An event of `event_type` carrying `data` (must be a JSON object), schema version 1, a
    /// random id and empty metadata.
    pub fn new(event_type: impl Into<String>, data: Value) -> NewEvent {
        NewEvent {
            id: None,
            event_type: event_type.into(),
            schema_version: 1,
            data,
            metadata: Value::Object(Default::default()),
            correlation_id: None,
            causation_id: None,
            agent_id: None,
        }
    }

    /// Sets the event's id (1 to 255 bytes, unique across the store); without it a random
    /// 128-bit hex id is generated. Appending an id that is already stored fails with
    /// `STORE_CONFLICT`, which makes retried appends safe.
    pub fn id(mut self, id: impl Into<String>) -> NewEvent {
        self.id = Some(id.into());
        self
    }

    /// The version of the data's shape (at least 1); older versions are brought to the
    /// current shape on read by the registered upcasters.
    pub fn schema_version(mut self, version: u32) -> NewEvent {
        self.schema_version = version;
        self
    }

    /// Free-form metadata (a JSON object) stored with the event.
    pub fn metadata(mut self, metadata: Value) -> NewEvent {
        self.metadata = metadata;
        self
    }

    /// The id of the whole conversation or workflow the event belongs to (queryable).
    pub fn correlation_id(mut self, id: impl Into<String>) -> NewEvent {
        self.correlation_id = Some(id.into());
        self
    }

    /// The id of the event or command that caused this one.
    pub fn causation_id(mut self, id: impl Into<String>) -> NewEvent {
        self.causation_id = Some(id.into());
        self
    }

    /// The agent that emitted the event (queryable).
    pub fn agent_id(mut self, id: impl Into<String>) -> NewEvent {
        self.agent_id = Some(id.into());
        self
    }
}

/// An event as stored, with its place in its stream and in the whole store.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    /// The global position: 1 for the store's first event, then one more for each event.
    pub position: u64,
    /// The event's unique id.
    pub id: String,
    /// The stream it was appended to.
    pub stream: String,
    /// Its version in the stream: 0 for the stream's first event.
    pub version: u64,
    /// The event type.
    pub event_type: String,
    /// The schema version of `data` as returned: the current one after upcasting.
    pub schema_version: u32,
    /// The event data (a JSON object).
    pub data: Value,
    /// The free-form metadata (a JSON object).
    pub metadata: Value,
    /// The correlation id, if one was given.
    pub correlation_id: Option<String>,
    /// The causation id, if one was given.
    pub causation_id: Option<String>,
    /// The emitting agent, if one was given.
    pub agent_id: Option<String>,
    /// When the event was appended, in milliseconds since the Unix epoch (the store's clock).
    pub recorded_at_ms: i64,
}

/// What an append wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendResult {
    /// The global position of the first event appended.
    pub first_position: u64,
    /// The global position of the last event appended.
    pub last_position: u64,
    /// The stream's version after the append (the last event's version): pass it as
    /// [`ExpectedVersion::Exact`] to append next without a conflict.
    pub stream_version: u64,
}

/// Which way [`EventStore::read_stream`](crate::EventStore::read_stream) reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Oldest first, from the given version up.
    Forward,
    /// Newest first, from the given version down.
    Backward,
}

/// A filter over all events, answered in position order (oldest first). Every filter set must
/// match; an empty query matches every event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventQuery {
    pub(crate) types: Vec<String>,
    pub(crate) from_ms: Option<i64>,
    pub(crate) to_ms: Option<i64>,
    pub(crate) correlation_id: Option<String>,
    pub(crate) agent_id: Option<String>,
    pub(crate) after_position: u64,
    pub(crate) limit: usize,
}

impl Default for EventQuery {
    fn default() -> EventQuery {
        EventQuery::new()
    }
}

impl EventQuery {
    /// A query matching every event, at most 100 per answer.
    pub fn new() -> EventQuery {
        EventQuery {
            types: Vec::new(),
            from_ms: None,
            to_ms: None,
            correlation_id: None,
            agent_id: None,
            after_position: 0,
            limit: 100,
        }
    }

    /// Only events of one of these types.
    pub fn types<I, S>(mut self, types: I) -> EventQuery
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.types = types.into_iter().map(Into::into).collect();
        self
    }

    /// Only events recorded at or after `from_ms` and before `to_ms` (milliseconds since the
    /// Unix epoch).
    pub fn time_range(mut self, from_ms: i64, to_ms: i64) -> EventQuery {
        self.from_ms = Some(from_ms);
        self.to_ms = Some(to_ms);
        self
    }

    /// Only events with this correlation id.
    pub fn correlation_id(mut self, id: impl Into<String>) -> EventQuery {
        self.correlation_id = Some(id.into());
        self
    }

    /// Only events emitted by this agent.
    pub fn agent_id(mut self, id: impl Into<String>) -> EventQuery {
        self.agent_id = Some(id.into());
        self
    }

    /// Only events after this global position (to page: pass the last position received).
    pub fn after_position(mut self, position: u64) -> EventQuery {
        self.after_position = position;
        self
    }

    /// At most this many events (1 to [`MAX_READ_LIMIT`](crate::MAX_READ_LIMIT)).
    pub fn limit(mut self, limit: usize) -> EventQuery {
        self.limit = limit;
        self
    }
}
