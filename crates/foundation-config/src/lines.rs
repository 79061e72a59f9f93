//! The line of every value in a TOML document.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::de::{DeTable, DeValue, Deserializer};
use toml::{Spanned, Table};

use crate::path;

/// The 1-based line of byte `offset` in `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The document `text`'s values and the line of each leaf (by dotted path, arrays indexed by
/// digits), from one parse.
pub(crate) fn parse(text: &str) -> Result<(Table, BTreeMap<String, usize>), toml::de::Error> {
    let root = DeTable::parse(text)?;
    let mut lines = BTreeMap::new();
    table(text, root.get_ref(), "", &mut lines);
    let values = Table::deserialize(Deserializer::from(root))?;
    Ok((values, lines))
}

fn table(text: &str, t: &DeTable<'_>, at: &str, out: &mut BTreeMap<String, usize>) {
    for (key, value) in t {
        value_lines(text, value, &path::join(at, key.get_ref()), out);
    }
}

fn value_lines(
    text: &str,
    value: &Spanned<DeValue<'_>>,
    at: &str,
    out: &mut BTreeMap<String, usize>,
) {
    match value.get_ref() {
        DeValue::Table(t) => table(text, t, at, out),
        DeValue::Array(items) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                value_lines(text, item, &path::join(at, &i.to_string()), out);
            }
        }
        _ => {
            out.insert(at.to_string(), line_of(text, value.span().start));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_leaf_gets_its_line() {
        let text = "a = 1\n[db]\nhost = 'h'\n\nports = [1,\n  2]\n[[servers]]\nname = 'x'\n";
        let (values, lines) = parse(text).unwrap();
        assert_eq!(values["db"]["host"].as_str(), Some("h"));
        assert_eq!(lines["a"], 1);
        assert_eq!(lines["db.host"], 3);
        assert_eq!(lines["db.ports.0"], 5);
        assert_eq!(lines["db.ports.1"], 6);
        assert_eq!(lines["servers.0.name"], 8);
        assert!(parse("a = = 1").is_err());
    }
}
