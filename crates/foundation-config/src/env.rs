//! Mapping environment variables onto config paths.
//!
//! With prefix `FOUNDATION_`:
//! - only variables starting with the prefix (exactly, case-sensitive) are read; the prefix
//!   is stripped;
//! - `__` (double underscore) separates path segments; a single `_` stays part of the key
//!   (`FOUNDATION_DB__MAX_CONNS` → `db.max_conns`);
//! - a segment made only of ASCII digits indexes an array (`FOUNDATION_SERVERS__0__HOST` →
//!   `servers.0.host`); the index may be at most the array's length, which appends;
//! - case: a key segment that equals an existing key exactly uses it; else one that equals
//!   exactly one existing key ignoring ASCII case uses that key (two such keys is an error);
//!   else a new key is created — lowercased if the segment has no lowercase letter
//!   (`SERVERS` → `servers`), verbatim otherwise (`myAgent` stays `myAgent`);
//! - the value is parsed as a TOML value when it parses as exactly one (`8080`, `true`,
//!   `1.5`, `"quoted"`, `[1, 2]`, `{ a = 1 }`), else taken as the raw string;
//! - variables apply in order of their names, so `…__0__…` is placed before `…__1__…`.

use toml::Value;

use crate::path::Segment;

/// Environment variables to read, injected as `(name, value)` pairs.
#[derive(Clone, Debug)]
pub struct EnvSource {
    prefix: String,
    vars: Vec<(String, String)>,
}

impl EnvSource {
    /// The variables in `vars` whose names start with `prefix`.
    pub fn new<I, K, V>(prefix: impl Into<String>, vars: I) -> EnvSource
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let prefix = prefix.into();
        let mut vars: Vec<(String, String)> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .filter(|(k, _)| k.len() > prefix.len() && k.starts_with(&prefix))
            .collect();
        vars.sort();
        EnvSource { prefix, vars }
    }

    /// The process environment (variables that are not valid Unicode are skipped).
    pub fn from_process(prefix: impl Into<String>) -> EnvSource {
        EnvSource::new(
            prefix,
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    /// `(variable name, path segments, value)` for each variable, in name order.
    pub(crate) fn entries(
        &self,
    ) -> impl Iterator<Item = (&str, Result<Vec<Segment>, String>, Value)> {
        self.vars.iter().map(|(name, raw)| {
            let rest = &name[self.prefix.len()..];
            let segments = rest
                .split("__")
                .map(|s| {
                    if s.is_empty() {
                        Err(format!("`{name}` has an empty path segment"))
                    } else {
                        Ok(Segment::parse(s))
                    }
                })
                .collect();
            (name.as_str(), segments, parse_value(raw))
        })
    }
}

/// A TOML value when `raw` is exactly one, else the string itself.
pub(crate) fn parse_value(raw: &str) -> Value {
    parse_exact(raw).unwrap_or_else(|| Value::String(raw.to_string()))
}

/// The TOML value `raw` is, when it is exactly one.
pub(crate) fn parse_exact(raw: &str) -> Option<Value> {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .filter(|t| t.len() == 1)
        .and_then(|mut t| t.remove("v"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_as_toml_or_stay_strings() {
        assert_eq!(parse_value("8080"), Value::Integer(8080));
        assert_eq!(parse_value("true"), Value::Boolean(true));
        assert_eq!(parse_value("\"8080\""), Value::from("8080"));
        assert_eq!(
            parse_value("[1, 2]"),
            Value::Array(vec![1.into(), 2.into()])
        );
        assert_eq!(parse_value("high"), Value::from("high"));
        assert_eq!(parse_value("1\nother = 2"), Value::from("1\nother = 2"));
    }

    #[test]
    fn prefix_filters_and_double_underscore_splits() {
        let env = EnvSource::new(
            "APP_",
            [
                ("APP_DB__MAX_CONNS", "5"),
                ("OTHER", "x"),
                ("APP_S__0__H", "h"),
            ],
        );
        let got: Vec<_> = env
            .entries()
            .map(|(n, s, _)| (n.to_string(), s.unwrap()))
            .collect();
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0].1,
            vec![Segment::Key("DB".into()), Segment::Key("MAX_CONNS".into())]
        );
        assert_eq!(got[1].1[1], Segment::Index(0));
    }

    #[test]
    fn empty_segments_are_refused() {
        let env = EnvSource::new("APP_", [("APP_A____B", "1")]);
        let (_, segs, _) = env.entries().next().unwrap();
        assert!(segs.unwrap_err().contains("empty path segment"));
    }
}
