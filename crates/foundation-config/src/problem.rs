//! One config problem (error or warning) and turning a list of them into one error.

use std::fmt;

use foundation_core::{Error, ErrorCode};

/// A problem found while loading or validating: the field path and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The dotted field path (`protection.api.breaker.failure_rate_threshold`), or the
    /// document name for a problem that has no field (malformed TOML).
    pub field: String,
    /// What is wrong, including where the value came from when known.
    pub message: String,
}

impl Problem {
    /// A problem at `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// One `INVALID_CONFIG` error listing every problem, with one `field` context entry each.
pub(crate) fn into_error(problems: &[Problem]) -> Error {
    let message = problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    problems
        .iter()
        .fold(Error::new(ErrorCode::INVALID_CONFIG, message), |err, p| {
            err.with_context("field", &p.field)
        })
}
