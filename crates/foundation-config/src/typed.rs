//! Deserializing a section into a component's `Config` type, with field-named errors.

use foundation_core::Error;
use serde::de::DeserializeOwned;
use toml::{Table, Value};

use crate::path;
use crate::problem::Problem;
use crate::tree::Tree;

/// The section at `at` (an empty table when absent) as `T`.
pub(crate) fn deserialize<T: DeserializeOwned>(tree: &Tree, at: &str) -> Result<T, Vec<Problem>> {
    let value = if at.is_empty() {
        Value::Table(tree.root().clone())
    } else {
        tree.get(at)
            .cloned()
            .unwrap_or_else(|| Value::Table(Table::new()))
    };
    value.try_into::<T>().map_err(|e| {
        // toml's Display ends with "in `a.b`" naming the keys inside the value.
        let shown = e.to_string();
        let inner = shown
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("in `")?.strip_suffix('`'))
            .unwrap_or("");
        let field = path::join(at, inner);
        vec![with_source(tree, Problem::new(field, e.message().trim()))]
    })
}

/// One problem per `field` of a validator's error (the whole message as each reason).
pub(crate) fn problems_of(err: &Error, tree: &Tree, at: &str) -> Vec<Problem> {
    let fields: Vec<&str> = err.context_values("field").collect();
    if fields.is_empty() {
        return vec![with_source(tree, Problem::new(at, err.message()))];
    }
    let parts: Vec<&str> = err.message().split("; ").collect();
    fields
        .iter()
        .map(|f| {
            let prefix = format!("{f}: ");
            let reason = parts
                .iter()
                .find_map(|p| p.strip_prefix(&prefix))
                .unwrap_or(err.message());
            with_source(tree, Problem::new(*f, reason))
        })
        .collect()
}

/// Appends where the offending value came from, when known.
pub(crate) fn with_source(tree: &Tree, mut p: Problem) -> Problem {
    if let Some(source) = tree.source_of(&p.field) {
        p.message = format!("{} (from {source})", p.message);
    }
    p
}
