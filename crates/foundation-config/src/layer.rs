//! The layers a config is merged from, lowest first.

use std::path::{Path, PathBuf};

use serde::Serialize;
use toml::{Table, Value};

use crate::env::EnvSource;
use crate::path;
use crate::problem::Problem;
use crate::provenance::Source;
use crate::tree::{KeyCase, Tree};

/// A TOML document: text already read, or a file read when the layers are built.
#[derive(Clone, Debug)]
enum Document {
    Text { name: PathBuf, text: String },
    File(PathBuf),
}

/// The layers of one config, lowest first: defaults, TOML documents, the selected profile,
/// environment variables, run-time overrides.
#[derive(Clone, Debug, Default)]
pub struct LayerSet {
    defaults: Option<Result<Table, String>>,
    documents: Vec<Document>,
    profile: Option<String>,
    env: Option<EnvSource>,
    overrides: Vec<(String, Value)>,
}

impl LayerSet {
    /// No layers.
    pub fn new() -> LayerSet {
        LayerSet::default()
    }

    /// Built-in defaults: any value that serializes to a TOML table.
    pub fn defaults(mut self, defaults: &impl Serialize) -> LayerSet {
        self.defaults = Some(Table::try_from(defaults).map_err(|e| e.to_string()));
        self
    }

    /// A TOML document given as text; `name` is shown as its provenance.
    pub fn toml_str(mut self, name: impl Into<PathBuf>, text: impl Into<String>) -> LayerSet {
        self.documents.push(Document::Text {
            name: name.into(),
            text: text.into(),
        });
        self
    }

    /// A TOML file, read each time the layers are built.
    pub fn toml_file(mut self, path: impl AsRef<Path>) -> LayerSet {
        self.documents
            .push(Document::File(path.as_ref().to_path_buf()));
        self
    }

    /// Selects the `[profile.NAME]` section of the documents, applied over their base.
    pub fn profile(mut self, name: impl Into<String>) -> LayerSet {
        self.profile = Some(name.into());
        self
    }

    /// Environment variables (see [`crate::env`] for the mapping).
    pub fn env(mut self, env: EnvSource) -> LayerSet {
        self.env = Some(env);
        self
    }

    /// A run-time override of the value at the dotted `path`; later overrides win.
    pub fn set(mut self, path: impl Into<String>, value: impl Into<Value>) -> LayerSet {
        self.overrides.push((path.into(), value.into()));
        self
    }

    /// Merges every layer, collecting every problem.
    pub(crate) fn build(&self) -> Result<Tree, Vec<Problem>> {
        let mut tree = Tree::default();
        let mut problems = Vec::new();
        match &self.defaults {
            Some(Ok(table)) => tree.merge(table.clone(), &Source::Default),
            Some(Err(e)) => problems.push(Problem::new("defaults", e.clone())),
            None => {}
        }
        let mut profiles = Vec::new();
        for doc in &self.documents {
            match doc.load() {
                Ok((name, mut table)) => {
                    let profile = table.remove("profile");
                    tree.merge(table, &Source::File(name.clone()));
                    profiles.push((name, profile));
                }
                Err(p) => problems.push(p),
            }
        }
        if let Some(wanted) = &self.profile {
            let mut found = false;
            for (file, profile) in profiles {
                match profile.and_then(|p| match p {
                    Value::Table(mut t) => t.remove(wanted),
                    _ => None,
                }) {
                    Some(Value::Table(section)) => {
                        found = true;
                        let source = Source::Profile {
                            name: wanted.clone(),
                            file,
                        };
                        tree.merge(section, &source);
                    }
                    Some(other) => problems.push(Problem::new(
                        format!("profile.{wanted}"),
                        format!(
                            "must be a table, got {} (in {})",
                            other.type_str(),
                            file.display()
                        ),
                    )),
                    None => {}
                }
            }
            if !found && !self.documents.is_empty() && problems.is_empty() {
                problems.push(Problem::new(
                    "profile",
                    format!("no [profile.{wanted}] section in any document"),
                ));
            }
        }
        if let Some(env) = &self.env {
            for (name, segments, value) in env.entries() {
                let placed = segments.and_then(|s| {
                    tree.place(&s, value, &Source::Env(name.to_string()), KeyCase::Env)
                });
                if let Err(e) = placed {
                    problems.push(Problem::new(name, e));
                }
            }
        }
        for (at, value) in &self.overrides {
            if let Err(e) = tree.place(
                &path::parse(at),
                value.clone(),
                &Source::Override,
                KeyCase::Exact,
            ) {
                problems.push(Problem::new(at.clone(), e));
            }
        }
        if problems.is_empty() {
            Ok(tree)
        } else {
            Err(problems)
        }
    }
}

impl Document {
    /// Reads and parses the document; a syntax error names the document and line.
    fn load(&self) -> Result<(PathBuf, Table), Problem> {
        let (name, text) = match self {
            Document::Text { name, text } => (name.clone(), text.clone()),
            Document::File(path) => match std::fs::read_to_string(path) {
                Ok(text) => (path.clone(), text),
                Err(e) => {
                    return Err(Problem::new(
                        path.display().to_string(),
                        format!("cannot read: {e}"),
                    ));
                }
            },
        };
        text.parse::<Table>()
            .map(|t| (name.clone(), t))
            .map_err(|e| {
                let line = e
                    .span()
                    .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
                let at = match line {
                    Some(line) => format!("{}:{line}", name.display()),
                    None => name.display().to_string(),
                };
                Problem::new(at, format!("malformed TOML: {}", e.message().trim()))
            })
    }
}
