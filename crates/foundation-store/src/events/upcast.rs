//! Schema evolution: upcasters turn an event's data from one schema version into the next when
//! it is read, so readers only ever see the current shape.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use foundation_core::error::{Error, ErrorCode, Result};
use serde_json::Value;

use super::{EventStore, RecordedEvent, check_name};

type UpcastFn = Arc<dyn Fn(Value) -> Result<Value> + Send + Sync>;

/// The upcasters of one [`EventStore`] handle, keyed by (event type, schema version they read).
#[derive(Clone, Default)]
pub(crate) struct Upcasters {
    by_version: HashMap<(String, u32), UpcastFn>,
}

impl fmt::Debug for Upcasters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut keys: Vec<_> = self.by_version.keys().collect();
        keys.sort();
        f.debug_struct("Upcasters")
            .field("registered", &keys)
            .finish()
    }
}

impl Upcasters {
    /// Brings `event` to the newest schema version its type has upcasters for, applying them in
    /// turn (v1 → v2 → v3). A failing upcaster, or one returning something other than a JSON
    /// object, is an error naming the event type, schema version and position.
    pub(crate) fn apply(&self, mut event: RecordedEvent) -> Result<RecordedEvent> {
        if self.by_version.is_empty() {
            return Ok(event);
        }
        while let Some(upcast) = self
            .by_version
            .get(&(event.event_type.clone(), event.schema_version))
        {
            let from = event.schema_version;
            let failed = |code: ErrorCode, why: String| {
                Error::new(
                    code,
                    format!(
                        "upcasting event type \"{}\" from schema version {from}: {why}",
                        event.event_type
                    ),
                )
                .with_context("event_type", &event.event_type)
                .with_context("schema_version", from)
                .with_context("position", event.position)
            };
            let data = std::mem::take(&mut event.data);
            match upcast(data) {
                Ok(data) if data.is_object() => event.data = data,
                Ok(_) => {
                    return Err(failed(
                        ErrorCode::INVALID_INPUT,
                        "the upcaster did not return a JSON object".to_owned(),
                    ));
                }
                Err(err) => {
                    return Err(failed(err.code(), err.message().to_owned()).with_source(err));
                }
            }
            event.schema_version = from + 1;
        }
        Ok(event)
    }
}

impl EventStore {
    /// Registers `upcast` to turn the data of `event_type` events at `from_version` into
    /// `from_version + 1`. Upcasters chain: with v1→v2 and v2→v3 registered, a stored v1 event
    /// is read as v3. They run on every read path (stream reads, `read_all`, queries,
    /// subscriptions); what is stored never changes. An upcaster returning an error (or a
    /// non-object) makes the read fail with that error's code, naming the type, version and
    /// position.
    ///
    /// Returns a new handle carrying the registration; other handles are unaffected.
    /// `INVALID_INPUT` for an empty type, version 0, or a (type, version) already registered.
    pub fn upcaster<F>(
        mut self,
        event_type: &str,
        from_version: u32,
        upcast: F,
    ) -> Result<EventStore>
    where
        F: Fn(Value) -> Result<Value> + Send + Sync + 'static,
    {
        check_name("event_type", event_type)?;
        if from_version == 0 || from_version == u32::MAX {
            return Err(Error::invalid_input(
                "from_version",
                format_args!("must be 1 to {}, got {from_version}", u32::MAX - 1),
            ));
        }
        let key = (event_type.to_owned(), from_version);
        if self.upcasters.by_version.contains_key(&key) {
            return Err(Error::invalid_input(
                "from_version",
                format_args!(
                    "an upcaster for \"{event_type}\" from version {from_version} is already registered"
                ),
            ));
        }
        Arc::make_mut(&mut self.upcasters)
            .by_version
            .insert(key, Arc::new(upcast));
        Ok(self)
    }
}
