//! Known sections, their validators and the unknown-key policy.
//!
//! Unknown keys are found with a registry of sections: each section registered with
//! [`Schema::section`] is deserialized into its type and serialized back; a key present in
//! the config but absent from the round trip is unknown (so a field skipped on
//! serialization counts as unknown). Keys outside every registered section are unknown
//! too. A free-form section ([`Schema::json_schema`]) has no round trip: its JSON Schema
//! decides which keys it accepts. With no section registered, nothing is checked.

use std::sync::Arc;

use foundation_core::{Result, Validate};
use serde::Serialize;
use serde::de::DeserializeOwned;
use toml::{Table, Value};

use crate::json_schema::SectionSchema;
use crate::path;
use crate::problem::Problem;
use crate::tree::Tree;
use crate::typed;

/// What to do with keys no registered section knows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnknownKeys {
    /// Refuse the config.
    #[default]
    Error,
    /// Accept it and return a warning per key.
    Warn,
}

type Check = Arc<dyn Fn(&Tree, &mut Vec<Problem>) + Send + Sync>;

/// The sections a config must satisfy.
#[derive(Clone, Default)]
pub struct Schema {
    sections: Vec<(String, Check)>,
    validators: Vec<Check>,
    unknown: UnknownKeys,
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schema")
            .field(
                "sections",
                &self.sections.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            )
            .field("validators", &self.validators.len())
            .field("unknown", &self.unknown)
            .finish()
    }
}

impl Schema {
    /// No sections; unknown keys are errors once a section is registered.
    pub fn new() -> Schema {
        Schema::default()
    }

    /// Sets the unknown-key policy.
    pub fn unknown_keys(mut self, policy: UnknownKeys) -> Schema {
        self.unknown = policy;
        self
    }

    /// Registers the section at `at` as type `T`: it must deserialize, and its keys are known.
    pub fn section<T: DeserializeOwned + Serialize + 'static>(mut self, at: &str) -> Schema {
        let owned = at.to_string();
        let check: Check = Arc::new(move |tree, problems| {
            let Ok(value) = typed::deserialize::<T>(tree, &owned) else {
                return;
            };
            if let (Some(Value::Table(given)), Ok(known)) =
                (tree.get(&owned), Table::try_from(&value))
            {
                unknown_in(given, &known, &owned, problems);
            }
        });
        self.sections.push((at.to_string(), check));
        let owned = at.to_string();
        self.validators.push(Arc::new(move |tree, problems| {
            if let Err(mut p) = typed::deserialize::<T>(tree, &owned) {
                problems.append(&mut p);
            }
        }));
        self
    }

    /// Registers a [`Validate`] section: [`Schema::section`] plus `T::validate_at(at)`.
    pub fn validated<T: DeserializeOwned + Serialize + Validate + 'static>(
        self,
        at: &str,
    ) -> Schema {
        let section = at.to_string();
        self.section::<T>(at)
            .validator(at, move |value: &T| value.validate_at(&section))
    }

    /// Registers the free-form section at `at`, validated by the JSON Schema `schema`
    /// (compiled once, here; remote `$ref`s are not fetched). Its keys are known: the schema
    /// governs them (`additionalProperties`). An absent section validates as `{}`; TOML
    /// datetimes are checked as strings. Every validation error becomes a problem at `at` plus
    /// the error's instance path, dotted (`routes.1.weight`), naming where the value came from.
    ///
    /// An invalid schema is an `INVALID_CONFIG` error naming `at`.
    ///
    /// ```
    /// use foundation_config::{Config, LayerSet, Schema, Secrets};
    /// use serde_json::json;
    ///
    /// let flags = json!({ "type": "object", "additionalProperties": { "type": "boolean" } });
    /// let schema = Schema::new().json_schema("features", flags).unwrap();
    /// let layers = LayerSet::new().toml_str("app.toml", "[features]\nbeta = 'yes'\n");
    /// let err = Config::load(schema, Secrets::default(), layers).unwrap_err();
    /// assert_eq!(err.context_value("field"), Some("features.beta"));
    /// assert!(err.message().contains("is not of type \"boolean\" (from file app.toml:2)"));
    /// ```
    pub fn json_schema(mut self, at: &str, schema: serde_json::Value) -> Result<Schema> {
        let compiled = SectionSchema::compile(at, &schema)?;
        // No unknown-key check of its own: the JSON Schema decides which keys it accepts.
        self.sections.push((at.to_string(), Arc::new(|_, _| {})));
        self.validators.push(Arc::new(move |tree, problems| {
            compiled.check(tree, problems)
        }));
        Ok(self)
    }

    /// Runs `check` on the section at `at` whenever a config is applied.
    pub fn validator<T, F>(mut self, at: &str, check: F) -> Schema
    where
        T: DeserializeOwned + 'static,
        F: Fn(&T) -> Result<()> + Send + Sync + 'static,
    {
        let owned = at.to_string();
        self.validators.push(Arc::new(move |tree, problems| {
            let Ok(value) = typed::deserialize::<T>(tree, &owned) else {
                return;
            };
            if let Err(err) = check(&value) {
                problems.extend(typed::problems_of(&err, tree, &owned));
            }
        }));
        self
    }

    /// Every validation error, and (under [`UnknownKeys::Warn`]) the unknown-key warnings.
    pub(crate) fn check(&self, tree: &Tree) -> (Vec<Problem>, Vec<Problem>) {
        let mut errors = Vec::new();
        for check in &self.validators {
            check(tree, &mut errors);
        }
        let mut unknown = Vec::new();
        if !self.sections.is_empty() {
            self.outside_sections(tree.root(), "", &mut unknown);
            for (_, check) in &self.sections {
                check(tree, &mut unknown);
            }
        }
        for p in &mut unknown {
            if let Some(source) = tree.source_of(&p.field) {
                p.message = format!("{} (from {source})", p.message);
            }
        }
        match self.unknown {
            UnknownKeys::Error => {
                errors.append(&mut unknown);
                (errors, Vec::new())
            }
            UnknownKeys::Warn => (errors, unknown),
        }
    }

    /// Keys in `table` (at `at`) that are neither a registered section nor lead to one.
    fn outside_sections(&self, table: &Table, at: &str, out: &mut Vec<Problem>) {
        for (k, v) in table {
            let p = path::join(at, k);
            if self.sections.iter().any(|(s, _)| *s == p) {
                continue;
            }
            match v {
                Value::Table(t) if self.sections.iter().any(|(s, _)| path::is_under(s, &p)) => {
                    self.outside_sections(t, &p, out);
                }
                _ => out.push(Problem::new(p, "unknown key")),
            }
        }
    }
}

/// Keys of `given` missing from `known`, recursively.
fn unknown_in(given: &Table, known: &Table, at: &str, out: &mut Vec<Problem>) {
    for (k, v) in given {
        let p = path::join(at, k);
        match (v, known.get(k)) {
            (_, None) => out.push(Problem::new(p, "unknown key")),
            (Value::Table(g), Some(Value::Table(kn))) => unknown_in(g, kn, &p, out),
            _ => {}
        }
    }
}
