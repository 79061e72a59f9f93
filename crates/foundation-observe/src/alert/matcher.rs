//! Label matchers: `name = "value"`, `!=`, `=~` and `!~` (regular expressions, anchored at
//! both ends as in Prometheus).
//!
//! In JSON and TOML a matcher is `{"name": "severity", "op": "=~", "value": "warning|critical"}`
//! or the string `severity=~"warning|critical"`; [`Matcher::parse`] reads the string form
//! (the quotes around the value are optional).

use std::fmt;

use foundation_core::http::echo;
use foundation_core::{Error, Result};
use regex::Regex;
use serde::{Deserialize, Serialize};

use super::labels::{Labels, is_label_name};

/// Longest regular expression accepted, in bytes.
pub const MAX_REGEX_LEN: usize = 1024;

/// How a matcher compares a label's value (a missing label has the value `""`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MatchOp {
    /// Equal.
    #[serde(rename = "=")]
    Equal,
    /// Not equal.
    #[serde(rename = "!=")]
    NotEqual,
    /// Matches the regular expression.
    #[serde(rename = "=~")]
    Regex,
    /// Does not match the regular expression.
    #[serde(rename = "!~")]
    NotRegex,
}

impl MatchOp {
    /// The operator as written.
    pub const fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

/// A matcher as written in config and requests, before it is compiled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MatcherSpec {
    /// `{"name", "op", "value"}`.
    Parts {
        /// The label name.
        name: String,
        /// The operator (default `=`).
        #[serde(default = "default_op")]
        op: MatchOp,
        /// The value or regular expression.
        value: String,
    },
    /// `name=~"value"`.
    Text(String),
}

fn default_op() -> MatchOp {
    MatchOp::Equal
}

impl MatcherSpec {
    /// Compiles the matcher; `INVALID_INPUT` naming `field` for a bad name, operator or regex.
    pub fn compile(&self, field: &str) -> Result<Matcher> {
        match self {
            MatcherSpec::Parts { name, op, value } => Matcher::new(name, *op, value),
            MatcherSpec::Text(text) => Matcher::parse(text),
        }
        .map_err(|e| Error::invalid_input(field, e.message().to_string()))
    }
}

/// A compiled label matcher.
#[derive(Clone)]
pub struct Matcher {
    name: String,
    op: MatchOp,
    value: String,
    regex: Option<Regex>,
}

impl Matcher {
    /// A matcher; `INVALID_INPUT` for a bad label name or regular expression.
    pub fn new(name: &str, op: MatchOp, value: &str) -> Result<Matcher> {
        if !is_label_name(name) {
            return Err(Error::invalid_input(
                "matcher.name",
                format_args!("{name:?} is not a label name ([A-Za-z_][A-Za-z0-9_]*)"),
            ));
        }
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => {
                if value.len() > MAX_REGEX_LEN {
                    return Err(Error::invalid_input(
                        "matcher.value",
                        format_args!("regex is {} bytes, at most {MAX_REGEX_LEN}", value.len()),
                    ));
                }
                let anchored = format!("^(?:{value})$");
                Some(Regex::new(&anchored).map_err(|e| {
                    Error::invalid_input("matcher.value", format_args!("bad regex {value:?}: {e}"))
                })?)
            }
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        Ok(Matcher {
            name: name.to_string(),
            op,
            value: value.to_string(),
            regex,
        })
    }

    /// Parses `name=value`, `name!=value`, `name=~regex` or `name!~regex`, the value
    /// optionally in double quotes.
    pub fn parse(text: &str) -> Result<Matcher> {
        let text = text.trim();
        let at = text.find(['=', '!']).ok_or_else(|| {
            Error::invalid_input(
                "matcher",
                format_args!("{:?} has no operator (=, !=, =~, !~)", echo(text)),
            )
        })?;
        let (name, rest) = text.split_at(at);
        let (op, value) = [
            MatchOp::Regex,
            MatchOp::NotRegex,
            MatchOp::NotEqual,
            MatchOp::Equal,
        ]
        .into_iter()
        .find_map(|op| rest.strip_prefix(op.as_str()).map(|v| (op, v)))
        .ok_or_else(|| {
            Error::invalid_input(
                "matcher",
                format_args!("{:?} has no operator (=, !=, =~, !~)", echo(text)),
            )
        })?;
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        Matcher::new(name.trim(), op, value)
    }

    /// The label name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The operator.
    pub fn op(&self) -> MatchOp {
        self.op
    }

    /// The value or regular expression.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether `labels` satisfy the matcher.
    pub fn matches(&self, labels: &Labels) -> bool {
        let actual = labels.get(&self.name).map_or("", String::as_str);
        match (&self.op, &self.regex) {
            (MatchOp::Equal, _) => actual == self.value,
            (MatchOp::NotEqual, _) => actual != self.value,
            (MatchOp::Regex, Some(re)) => re.is_match(actual),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(actual),
            (MatchOp::Regex | MatchOp::NotRegex, None) => false,
        }
    }

    /// The written form, as a spec.
    pub fn spec(&self) -> MatcherSpec {
        MatcherSpec::Parts {
            name: self.name.clone(),
            op: self.op,
            value: self.value.clone(),
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.op.as_str(), self.value)
    }
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Matcher) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

/// Whether every matcher matches `labels`.
pub fn all_match(matchers: &[Matcher], labels: &Labels) -> bool {
    matchers.iter().all(|m| m.matches(labels))
}

/// Compiles `specs`, naming `field[i]` in the error of a bad one.
pub(crate) fn compile_all(field: &str, specs: &[MatcherSpec]) -> Result<Vec<Matcher>> {
    specs
        .iter()
        .enumerate()
        .map(|(i, spec)| spec.compile(&format!("{field}[{i}]")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::labels::test_labels as labels;

    #[test]
    fn every_operator_matches_as_prometheus_does() {
        let l = labels(&[("severity", "critical"), ("team", "db")]);
        for (text, expected) in [
            ("severity=critical", true),
            ("severity=\"warning\"", false),
            ("severity!=warning", true),
            ("severity=~\"crit.*\"", true),
            ("severity=~crit", false),
            ("severity!~\"warn|info\"", true),
            ("missing=\"\"", true),
            ("missing!~\".+\"", true),
        ] {
            assert_eq!(
                Matcher::parse(text).unwrap().matches(&l),
                expected,
                "{text}"
            );
        }
    }

    #[test]
    fn bad_matchers_are_refused_naming_the_part() {
        assert_eq!(
            Matcher::parse("severity")
                .unwrap_err()
                .context_value("field"),
            Some("matcher")
        );
        assert_eq!(
            Matcher::parse("1x=y").unwrap_err().context_value("field"),
            Some("matcher.name")
        );
        assert_eq!(
            Matcher::parse("a=~\"(\"")
                .unwrap_err()
                .context_value("field"),
            Some("matcher.value")
        );
        let spec = MatcherSpec::Text("a=~(".into());
        assert_eq!(
            spec.compile("route.matchers[0]")
                .unwrap_err()
                .context_value("field"),
            Some("route.matchers[0]")
        );
    }
}
