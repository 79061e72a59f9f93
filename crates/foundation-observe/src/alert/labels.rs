//! Label sets, their validation, and the fingerprint that identifies an alert.

use std::collections::BTreeMap;
use std::fmt;

use foundation_core::{Error, ErrorCode, Result, Validator};
use serde::{Deserialize, Serialize};

/// Labels (or annotations): names to values, sorted by name.
pub type Labels = BTreeMap<String, String>;

/// The label every alert carries with its name.
pub const ALERTNAME: &str = "alertname";
/// The label every alert carries with its severity.
pub const SEVERITY: &str = "severity";

/// Longest label name or value accepted.
pub const MAX_LABEL_LEN: usize = 1024;

/// An alert's identity: a hash of its labels, stable across evaluations and restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fingerprint(pub u64);

impl Fingerprint {
    /// The fingerprint of `labels` (64-bit FNV-1a over the sorted names and values).
    pub fn of(labels: &Labels) -> Fingerprint {
        const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        let mut hash = OFFSET;
        for (name, value) in labels {
            for byte in name
                .bytes()
                .chain([0xff])
                .chain(value.bytes())
                .chain([0xff])
            {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(PRIME);
            }
        }
        Fingerprint(hash)
    }

    /// Parses the 16 hexadecimal digits [`Display`](fmt::Display) writes; `NOT_FOUND` naming
    /// the text otherwise (no alert can have it).
    pub fn parse(text: &str) -> Result<Fingerprint> {
        if text.len() == 16
            && let Ok(n) = u64::from_str_radix(text, 16)
        {
            return Ok(Fingerprint(n));
        }
        Err(Error::not_found(
            "alert",
            text.chars().take(64).collect::<String>(),
        ))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Fingerprint::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Whether `name` is a label name: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= MAX_LABEL_LEN
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Records a problem for every bad name or overlong value in `labels`, under `field`.
pub(crate) fn validate_labels(v: &mut Validator, field: &str, labels: &Labels) {
    for (name, value) in labels {
        v.check(
            is_label_name(name),
            &format!("{field}.{name}"),
            "is not a label name ([A-Za-z_][A-Za-z0-9_]*)",
        );
        v.check(
            value.len() <= MAX_LABEL_LEN,
            &format!("{field}.{name}"),
            format_args!("value is {} bytes, at most {MAX_LABEL_LEN}", value.len()),
        );
    }
}

/// A validation error about a request rather than a config: the same message and fields,
/// with code `INVALID_INPUT`.
pub(crate) fn as_input(err: Error) -> Error {
    err.context().fold(
        Error::new(ErrorCode::INVALID_INPUT, err.message().to_string()),
        |e, (k, v)| e.with_context(k.to_string(), v),
    )
}

/// Labels from `(name, value)` pairs, for unit tests.
#[cfg(test)]
pub(crate) fn test_labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_depend_on_every_label_and_round_trip() {
        let a: Labels = [("alertname".into(), "X".into()), ("a".into(), "b".into())].into();
        let mut b = a.clone();
        b.insert("a".into(), "c".into());
        assert_ne!(Fingerprint::of(&a), Fingerprint::of(&b));
        // Names and values cannot be shifted into one another.
        let c: Labels = [("ab".into(), "c".into())].into();
        let d: Labels = [("a".into(), "bc".into())].into();
        assert_ne!(Fingerprint::of(&c), Fingerprint::of(&d));
        let fp = Fingerprint::of(&a);
        assert_eq!(Fingerprint::parse(&fp.to_string()).unwrap(), fp);
        assert!(Fingerprint::parse("zz").is_err());
    }
}
