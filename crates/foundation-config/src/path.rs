//! Dotted config paths: `servers.0.host` — a segment made only of digits indexes an array.

/// One step of a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Segment {
    /// A table key.
    Key(String),
    /// An array index.
    Index(usize),
}

impl Segment {
    /// A key, or an index when `raw` is made only of ASCII digits.
    pub(crate) fn parse(raw: &str) -> Segment {
        if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(i) = raw.parse() {
                return Segment::Index(i);
            }
        }
        Segment::Key(raw.to_string())
    }
}

/// Splits a dotted path; the empty path is the root.
pub(crate) fn parse(path: &str) -> Vec<Segment> {
    if path.is_empty() {
        return Vec::new();
    }
    path.split('.').map(Segment::parse).collect()
}

/// `prefix.child`, or `child` at the root.
pub(crate) fn join(prefix: &str, child: &str) -> String {
    if prefix.is_empty() {
        child.to_string()
    } else {
        format!("{prefix}.{child}")
    }
}

/// Whether `path` is `base` or lies under it.
pub(crate) fn is_under(path: &str, base: &str) -> bool {
    base.is_empty()
        || path == base
        || (path.len() > base.len()
            && path.starts_with(base)
            && path.as_bytes()[base.len()] == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_index_and_everything_else_is_a_key() {
        assert_eq!(
            parse("servers.0.host"),
            vec![
                Segment::Key("servers".into()),
                Segment::Index(0),
                Segment::Key("host".into())
            ]
        );
        assert_eq!(
            parse("a.0x"),
            vec![Segment::Key("a".into()), Segment::Key("0x".into())]
        );
        assert!(parse("").is_empty());
    }

    #[test]
    fn under_respects_segment_boundaries() {
        assert!(is_under("a.b.c", "a.b"));
        assert!(is_under("a.b", "a.b"));
        assert!(!is_under("a.bc", "a.b"));
        assert!(is_under("x", ""));
    }
}
