//! What is measured: an operation is a name plus labels.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use foundation_core::{Error, Result};

/// Longest operation name, label name or label value accepted.
pub const MAX_NAME_LEN: usize = 255;
/// Most labels one operation may carry.
pub const MAX_LABELS: usize = 16;

/// Label names an operation may not use: the exporter adds them.
pub const RESERVED_LABELS: [&str; 4] = ["operation", "quantile", "le", "overflow"];

/// An operation: a dotted name (`db.query`) and labels (`table="users"`), kept sorted by
/// label name so that the same labels in any order name the same operation.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct OperationKey {
    name: Arc<str>,
    labels: Arc<[(Arc<str>, Arc<str>)]>,
}

impl OperationKey {
    /// Validates and builds a key. Names are 1–255 printable characters without `{}"`;
    /// label names match `[A-Za-z_][A-Za-z0-9_]*`; at most 16 labels, no name twice.
    pub fn new(name: &str, labels: &[(&str, &str)]) -> Result<OperationKey> {
        validate_name(name)?;
        if labels.len() > MAX_LABELS {
            return Err(Error::invalid_input(
                "labels",
                format_args!("{} labels on `{name}`, at most {MAX_LABELS}", labels.len()),
            ));
        }
        let mut sorted: Vec<(&str, &str)> = labels.to_vec();
        sorted.sort_unstable();
        for pair in sorted.windows(2) {
            if pair[0].0 == pair[1].0 {
                return Err(Error::invalid_input(
                    "labels",
                    format_args!("label `{}` given twice on `{name}`", pair[0].0),
                ));
            }
        }
        for (key, value) in &sorted {
            validate_label(key, value)?;
        }
        Ok(OperationKey {
            name: name.into(),
            labels: sorted
                .into_iter()
                .map(|(k, v)| (Arc::from(k), Arc::from(v)))
                .collect(),
        })
    }

    /// A key from parts already known to be valid (the overflow series).
    pub(crate) fn trusted(name: &str, labels: &[(&str, &str)]) -> OperationKey {
        OperationKey {
            name: name.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (Arc::from(*k), Arc::from(*v)))
                .collect(),
        }
    }

    /// The operation's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The labels, sorted by name.
    pub fn labels(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.labels.iter().map(|(k, v)| (&**k, &**v))
    }

    /// The value of label `key`, if present.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| &**v)
    }

    /// Whether every `(name, value)` in `subset` is one of this key's labels.
    pub fn has_labels(&self, subset: &[(String, String)]) -> bool {
        subset
            .iter()
            .all(|(k, v)| self.label(k) == Some(v.as_str()))
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.name.len()
            + self
                .labels
                .iter()
                .map(|(k, v)| k.len() + v.len() + 32)
                .sum::<usize>()
    }

    /// The hash that [`KeyRef`] reproduces without allocating.
    fn hash_parts<'a, H: Hasher>(
        name: &str,
        labels: impl Iterator<Item = (&'a str, &'a str)>,
        state: &mut H,
    ) {
        name.hash(state);
        for (k, v) in labels {
            k.hash(state);
            v.hash(state);
        }
    }
}

impl Hash for OperationKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        OperationKey::hash_parts(&self.name, self.labels(), state);
    }
}

impl fmt::Display for OperationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if !self.labels.is_empty() {
            f.write_str("{")?;
            for (i, (k, v)) in self.labels().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                write!(f, "{k}={v:?}")?;
            }
            f.write_str("}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for OperationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl serde::Serialize for OperationKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let labels: std::collections::BTreeMap<&str, &str> = self.labels().collect();
        let mut st = s.serialize_struct("OperationKey", 2)?;
        st.serialize_field("name", self.name())?;
        st.serialize_field("labels", &labels)?;
        st.end()
    }
}

/// A borrowed key for lookups on the recording path, hashed and compared like
/// [`OperationKey`]; its labels must already be sorted by name.
#[derive(Clone, Copy)]
pub(crate) struct KeyRef<'a> {
    pub(crate) name: &'a str,
    pub(crate) labels: &'a [(&'a str, &'a str)],
}

impl Hash for KeyRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        OperationKey::hash_parts(self.name, self.labels.iter().copied(), state);
    }
}

impl hashbrown::Equivalent<OperationKey> for KeyRef<'_> {
    fn equivalent(&self, key: &OperationKey) -> bool {
        key.name() == self.name
            && key.labels.len() == self.labels.len()
            && key.labels().zip(self.labels.iter()).all(|(a, b)| a == *b)
    }
}

fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .chars()
            .all(|c| !c.is_control() && !matches!(c, '{' | '}' | '"'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_input(
            "operation",
            format_args!(
                "{name:?} is not an operation name (1–{MAX_NAME_LEN} printable characters, no braces or quotes)"
            ),
        ))
    }
}

fn validate_label(key: &str, value: &str) -> Result<()> {
    let mut chars = key.chars();
    let key_ok = key.len() <= MAX_NAME_LEN
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !key_ok {
        return Err(Error::invalid_input(
            "labels",
            format_args!(
                "{key:?} is not a label name ([A-Za-z_][A-Za-z0-9_]*, at most {MAX_NAME_LEN})"
            ),
        ));
    }
    if RESERVED_LABELS.contains(&key) || key.starts_with("__") {
        return Err(Error::invalid_input(
            "labels",
            format_args!(
                "label name `{key}` is reserved (exported series use {RESERVED_LABELS:?} and `__`-prefixed names)"
            ),
        ));
    }
    if value.len() > MAX_NAME_LEN {
        return Err(Error::invalid_input(
            "labels",
            format_args!(
                "value of label `{key}` is {} bytes, at most {MAX_NAME_LEN}",
                value.len()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn label_order_does_not_matter_and_lookups_hash_alike() {
        let a = OperationKey::new("db.query", &[("table", "users"), ("op", "select")]).unwrap();
        let b = OperationKey::new("db.query", &[("op", "select"), ("table", "users")]).unwrap();
        assert_eq!(a, b);
        let hasher = hashbrown::DefaultHashBuilder::default();
        let borrowed = KeyRef {
            name: "db.query",
            labels: &[("op", "select"), ("table", "users")],
        };
        assert_eq!(hasher.hash_one(&a), hasher.hash_one(borrowed));
        assert_eq!(a.to_string(), r#"db.query{op="select",table="users"}"#);
    }

    #[test]
    fn bad_names_and_labels_are_refused_naming_the_problem() {
        for (name, labels, needle) in [
            ("", vec![], "operation"),
            ("a{b}", vec![], "operation"),
            ("ok", vec![("1x", "v")], "label name"),
            ("ok", vec![("k", "v"), ("k", "w")], "twice"),
            ("ok", vec![("quantile", "0.5")], "reserved"),
            ("ok", vec![("__name__", "x")], "reserved"),
        ] {
            let err = OperationKey::new(name, &labels).unwrap_err();
            assert!(err.to_string().contains(needle), "{err}");
        }
        let long = "x".repeat(MAX_NAME_LEN + 1);
        assert!(OperationKey::new(&long, &[]).is_err());
        assert!(OperationKey::new("ok", &[("k", long.as_str())]).is_err());
    }
}
