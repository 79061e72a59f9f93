//! Serde helpers writing [`Duration`]s as whole milliseconds (`*_ms` fields).
//!
//! Config files carry durations as integers of milliseconds, e.g. `max_delay_ms = 2000`.
//! Sub-millisecond parts are dropped when serializing.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

fn to_ms(d: &Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `Duration` ⇄ `u64` milliseconds.
pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(to_ms(d))
}

/// `u64` milliseconds → `Duration`.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    u64::deserialize(d).map(Duration::from_millis)
}

/// `Option<Duration>` ⇄ optional `u64` milliseconds.
pub(crate) mod option {
    use super::*;

    /// Writes `None` as a missing value, `Some(d)` as milliseconds.
    pub(crate) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&to_ms(d)),
            None => s.serialize_none(),
        }
    }

    /// Reads optional milliseconds.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        Option::<u64>::deserialize(d).map(|ms| ms.map(Duration::from_millis))
    }
}
