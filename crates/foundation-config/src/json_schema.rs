//! Free-form sections checked against a JSON Schema.
//!
//! The section's TOML value is converted to JSON (an absent section is `{}`; datetimes and
//! non-finite floats, which JSON cannot hold, become their TOML text) and every validation
//! error becomes a [`Problem`] at the section path plus the error's instance path, dotted
//! (`/routes/1/weight` under `app` is `app.routes.1.weight`).
//!
//! Messages show a scalar offending value as its raw text (a string in quotes, unescaped) and
//! a table or array by its kind only, so the config's secret scrubbing, which looks for each
//! secret's raw text, finds every secret a message could otherwise echo.

use foundation_core::{Error, Result};
use jsonschema::paths::LocationSegment;
use jsonschema::{ValidationError, Validator};
use serde_json::Value as Json;
use toml::Value;

use crate::json::to_json;
use crate::path;
use crate::problem::Problem;
use crate::tree::Tree;
use crate::typed;

/// A compiled JSON Schema for the section at one path.
pub(crate) struct SectionSchema {
    at: String,
    validator: Validator,
}

impl SectionSchema {
    /// Compiles `schema` for the section at `at`; an invalid schema is an `INVALID_CONFIG`
    /// error naming `at` and what is wrong with the schema.
    pub(crate) fn compile(at: &str, schema: &Json) -> Result<SectionSchema> {
        let validator = jsonschema::validator_for(schema).map_err(|e| {
            let place = match e.instance_path().as_str() {
                "" => String::new(),
                pointer => format!(" (at {pointer} in the schema)"),
            };
            Error::invalid_config(at, format!("invalid JSON Schema: {e}{place}"))
        })?;
        Ok(SectionSchema {
            at: at.to_string(),
            validator,
        })
    }

    /// Pushes one problem per validation error of the section in `tree`.
    pub(crate) fn check(&self, tree: &Tree, problems: &mut Vec<Problem>) {
        let section = match typed::deserialize::<Value>(tree, &self.at) {
            Ok(value) => to_json(&value),
            Err(mut unreadable) => return problems.append(&mut unreadable),
        };
        for error in self.validator.iter_errors(&section) {
            let field = error
                .instance_path()
                .iter()
                .fold(self.at.clone(), |at, seg| match seg {
                    LocationSegment::Property(key) => path::join(&at, &key),
                    LocationSegment::Index(i) => path::join(&at, &i.to_string()),
                });
            let message = message_of(&error);
            problems.push(typed::with_source(tree, Problem::new(field, message)));
        }
    }
}

/// The validator's message with the offending value shown as [the module docs](self) say.
fn message_of(error: &ValidationError<'_>) -> String {
    let shown = match error.instance().as_ref() {
        Json::String(s) => format!("\"{s}\""),
        Json::Object(_) => "the table".to_string(),
        Json::Array(_) => "the array".to_string(),
        scalar => scalar.to_string(),
    };
    error.masked_with(shown).to_string()
}
