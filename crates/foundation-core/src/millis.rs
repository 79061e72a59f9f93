//! Serde helpers writing [`Duration`]s as whole milliseconds (`*_ms` fields).
//!
//! Every Foundation config carries durations as integers of milliseconds, e.g.
//! `max_delay_ms = 2000`. Sub-millisecond parts are dropped when serializing.
//!
//! ```
//! use std::time::Duration;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Cfg {
//!     #[serde(rename = "wait_ms", with = "foundation_core::millis")]
//!     wait: Duration,
//!     #[serde(default, rename = "ttl_ms", with = "foundation_core::millis::option")]
//!     ttl: Option<Duration>,
//! }
//! let cfg: Cfg = serde_json::from_str(r#"{"wait_ms": 1500}"#).unwrap();
//! assert_eq!(cfg.wait, Duration::from_millis(1500));
//! assert_eq!(cfg.ttl, None);
//! ```

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

fn to_ms(d: &Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `Duration` ⇄ `u64` milliseconds.
pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(to_ms(d))
}

/// `u64` milliseconds → `Duration`.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    u64::deserialize(d).map(Duration::from_millis)
}

/// `Option<Duration>` ⇄ optional `u64` milliseconds.
pub mod option {
    use super::*;

    /// Writes `None` as a missing value, `Some(d)` as milliseconds.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&to_ms(d)),
            None => s.serialize_none(),
        }
    }

    /// Reads optional milliseconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<u64>::deserialize(d).map(|ms| ms.map(Duration::from_millis))
    }
}

/// `Option<Duration>` ⇄ `u64` milliseconds where `0` (or a missing value) means `None`:
/// for settings a config file turns off with zero, e.g. `idle_timeout_ms = 0`.
pub mod zero_disables {
    use super::*;

    /// Writes `None` as `0`, `Some(d)` as milliseconds.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_ref().map_or(0, to_ms))
    }

    /// Reads milliseconds; `0` or null is `None`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let ms = Option::<u64>::deserialize(d)?.unwrap_or(0);
        Ok((ms > 0).then(|| Duration::from_millis(ms)))
    }
}
