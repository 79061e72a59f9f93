//! The merged value tree and the provenance chain of every leaf.

use std::collections::BTreeMap;

use toml::{Table, Value};

use crate::path::{self, Segment};
use crate::provenance::Source;

/// Merged values plus, per leaf path, every source that set it (lowest first; the last won).
///
/// Tables merge deeply; scalars and arrays replace. A leaf is a scalar, an empty array or an
/// array element; paths index arrays with digits (`servers.0.host`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Tree {
    root: Table,
    origins: BTreeMap<String, Vec<Source>>,
}

/// The source of the leaf at a path (a file's line differs per leaf).
pub(crate) type SourceOf<'a> = &'a dyn Fn(&str) -> Source;

/// How [`Tree::place`] matches a key segment against existing keys.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyCase {
    /// Keys match exactly.
    Exact,
    /// The environment rule: an exact match, else the one key equal ignoring ASCII case; a new
    /// all-uppercase key is stored lowercased, any other new key verbatim.
    Env,
}

impl Tree {
    pub(crate) fn root(&self) -> &Table {
        &self.root
    }

    /// The value at `path` (the root table for the empty path).
    pub(crate) fn get(&self, path: &str) -> Option<&Value> {
        let mut segs = path::parse(path).into_iter();
        let Segment::Key(k) = segs.next()? else {
            return None;
        };
        let mut cur = self.root.get(&k)?;
        for seg in segs {
            cur = match (cur, seg) {
                (Value::Table(t), Segment::Key(k)) => t.get(&k)?,
                (Value::Array(a), Segment::Index(i)) => a.get(i)?,
                (Value::Table(t), Segment::Index(i)) => t.get(&i.to_string())?,
                _ => return None,
            };
        }
        Some(cur)
    }

    /// The sources that set `path`, lowest first.
    pub(crate) fn chain(&self, path: &str) -> &[Source] {
        self.origins.get(path).map_or(&[], Vec::as_slice)
    }

    /// The source that won for `path` or the nearest leaf under it.
    pub(crate) fn source_of(&self, path: &str) -> Option<&Source> {
        self.origins
            .range(path.to_string()..)
            .take_while(|(p, _)| path::is_under(p, path))
            .find_map(|(_, chain)| chain.last())
    }

    /// Every leaf path with its winning source.
    pub(crate) fn leaves(&self) -> impl Iterator<Item = (&str, &Source)> {
        self.origins
            .iter()
            .filter_map(|(p, chain)| Some((p.as_str(), chain.last()?)))
    }

    /// Deep-merges a whole document into the root; `source` names each leaf's source.
    pub(crate) fn merge(&mut self, doc: Table, source: SourceOf<'_>) {
        for (k, v) in doc {
            let p = k.clone();
            match self.root.get_mut(&k) {
                Some(slot) => assign(slot, v, &p, &mut self.origins, source),
                None => {
                    record(&p, &v, &mut self.origins, source);
                    self.root.insert(k, v);
                }
            }
        }
    }

    /// Sets `value` at `segments`, creating tables (or arrays, before an index) on the way.
    /// An index may be at most the array's length (which appends).
    pub(crate) fn place(
        &mut self,
        segments: &[Segment],
        value: Value,
        source: &Source,
        case: KeyCase,
    ) -> Result<String, String> {
        let Some((Segment::Key(first), rest)) = segments.split_first() else {
            return Err("a path must start with a key".to_string());
        };
        let key = resolve(&self.root, first, case)?;
        let mut here = key.clone();
        let mut slot = self
            .root
            .entry(key)
            .or_insert_with(|| empty_for(rest.first()));
        for (i, seg) in rest.iter().enumerate() {
            let next = rest.get(i + 1);
            slot = match (slot, seg) {
                (Value::Table(t), Segment::Key(k)) => {
                    let k = resolve(t, k, case)?;
                    here = path::join(&here, &k);
                    t.entry(k).or_insert_with(|| empty_for(next))
                }
                (Value::Array(a), Segment::Index(idx)) => {
                    if *idx > a.len() {
                        return Err(format!(
                            "index {idx} is past the end of `{here}` ({} elements)",
                            a.len()
                        ));
                    }
                    if *idx == a.len() {
                        a.push(empty_for(next));
                    }
                    here = path::join(&here, &idx.to_string());
                    &mut a[*idx]
                }
                (other, Segment::Key(k)) => {
                    return Err(format!(
                        "cannot set key `{k}` in `{here}`: it is {}, not a table",
                        other.type_str()
                    ));
                }
                (other, Segment::Index(idx)) => {
                    return Err(format!(
                        "cannot set index {idx} in `{here}`: it is {}, not an array",
                        other.type_str()
                    ));
                }
            };
        }
        assign(slot, value, &here, &mut self.origins, &|_| source.clone());
        Ok(here)
    }
}

/// The key to use for `seg` in `table` under `case`.
fn resolve(table: &Table, seg: &str, case: KeyCase) -> Result<String, String> {
    if case == KeyCase::Exact || table.contains_key(seg) {
        return Ok(seg.to_string());
    }
    let mut matches = table.keys().filter(|k| k.eq_ignore_ascii_case(seg));
    match (matches.next(), matches.next()) {
        (Some(only), None) => Ok(only.clone()),
        (Some(a), Some(b)) => Err(format!(
            "`{seg}` matches both `{a}` and `{b}` ignoring case"
        )),
        (None, _) if seg.bytes().any(|b| b.is_ascii_lowercase()) => Ok(seg.to_string()),
        (None, _) => Ok(seg.to_ascii_lowercase()),
    }
}

/// The container a missing intermediate becomes: an array before an index, else a table.
fn empty_for(next: Option<&Segment>) -> Value {
    match next {
        Some(Segment::Index(_)) => Value::Array(Vec::new()),
        _ => Value::Table(Table::new()),
    }
}

/// Writes `new` into `slot` at `path`: tables merge deeply, anything else replaces.
fn assign(
    slot: &mut Value,
    new: Value,
    path: &str,
    origins: &mut BTreeMap<String, Vec<Source>>,
    source: SourceOf<'_>,
) {
    match (slot, new) {
        (Value::Table(dst), Value::Table(src)) => {
            for (k, v) in src {
                let p = path::join(path, &k);
                match dst.get_mut(&k) {
                    Some(child) => assign(child, v, &p, origins, source),
                    None => {
                        record(&p, &v, origins, source);
                        dst.insert(k, v);
                    }
                }
            }
        }
        (slot, new) => {
            let stale: Vec<String> = origins
                .range(path.to_string()..)
                .take_while(|(p, _)| path::is_under(p, path))
                .map(|(p, _)| p.clone())
                .collect();
            let mut old: BTreeMap<String, Vec<Source>> = stale
                .into_iter()
                .filter_map(|p| origins.remove_entry(&p))
                .collect();
            let mut fresh = BTreeMap::new();
            record(path, &new, &mut fresh, source);
            for (p, mut chain) in fresh {
                let mut history = old.remove(&p).unwrap_or_default();
                history.append(&mut chain);
                origins.insert(p, history);
            }
            *slot = new;
        }
    }
}

/// Records `source` for every leaf of `value` at `path`.
fn record(
    path: &str,
    value: &Value,
    origins: &mut BTreeMap<String, Vec<Source>>,
    source: SourceOf<'_>,
) {
    match value {
        Value::Table(t) => {
            for (k, v) in t {
                record(&path::join(path, k), v, origins, source);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for (i, v) in a.iter().enumerate() {
                record(&path::join(path, &i.to_string()), v, origins, source);
            }
        }
        _ => origins
            .entry(path.to_string())
            .or_default()
            .push(source(path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Table {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn tables_merge_deeply_and_scalars_and_arrays_replace() {
        let mut t = Tree::default();
        t.merge(
            doc("[db]\nhost = 'a'\nport = 1\nhosts = ['x', 'y']"),
            &|_| Source::Default,
        );
        t.merge(doc("[db]\nport = 2\nhosts = ['z']"), &|_| Source::Override);
        assert_eq!(t.get("db.host").unwrap().as_str(), Some("a"));
        assert_eq!(t.get("db.port").unwrap().as_integer(), Some(2));
        assert_eq!(t.get("db.hosts").unwrap().as_array().unwrap().len(), 1);
        assert_eq!(t.chain("db.port"), &[Source::Default, Source::Override]);
        assert_eq!(t.chain("db.hosts.0"), &[Source::Default, Source::Override]);
        assert!(
            t.chain("db.hosts.1").is_empty(),
            "replaced element forgotten"
        );
    }

    #[test]
    fn place_creates_arrays_before_indexes_and_refuses_impossible_steps() {
        let mut t = Tree::default();
        let s = Source::Override;
        let seg = |p: &str| path::parse(p);
        t.place(&seg("servers.0.host"), Value::from("a"), &s, KeyCase::Exact)
            .unwrap();
        assert_eq!(t.get("servers.0.host").unwrap().as_str(), Some("a"));
        let err = t
            .place(&seg("servers.5.host"), Value::from("b"), &s, KeyCase::Exact)
            .unwrap_err();
        assert!(err.contains("past the end of `servers`"), "{err}");
        let err = t
            .place(&seg("servers.0.host.x"), Value::from(1), &s, KeyCase::Exact)
            .unwrap_err();
        assert!(err.contains("not a table"), "{err}");
        let err = t
            .place(&seg("servers.0.host.0"), Value::from(1), &s, KeyCase::Exact)
            .unwrap_err();
        assert!(err.contains("not an array"), "{err}");
    }

    #[test]
    fn env_case_matches_existing_keys_and_lowercases_new_uppercase_keys() {
        let mut t = Tree::default();
        t.merge(doc("[Api]\nmaxConn = 1"), &|_| Source::Default);
        let s = Source::Env("X".into());
        let at = t
            .place(
                &path::parse("API.MAXCONN"),
                Value::from(2),
                &s,
                KeyCase::Env,
            )
            .unwrap();
        assert_eq!(at, "Api.maxConn");
        let at = t
            .place(
                &path::parse("API.NEW_KEY"),
                Value::from(3),
                &s,
                KeyCase::Env,
            )
            .unwrap();
        assert_eq!(at, "Api.new_key");
        let at = t
            .place(
                &path::parse("API.mixedCase"),
                Value::from(4),
                &s,
                KeyCase::Env,
            )
            .unwrap();
        assert_eq!(at, "Api.mixedCase");
    }
}
