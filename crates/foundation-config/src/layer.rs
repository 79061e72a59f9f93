//! The layers a config is merged from, lowest first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;
use toml::{Table, Value};

use crate::env::{self, EnvSource};
use crate::lines;
use crate::path;
use crate::problem::Problem;
use crate::provenance::Source;
use crate::tree::{KeyCase, Tree};

/// A TOML document: text already given, a file read when the layers are built, or a file's
/// text as of a stored version (restored by a rollback, re-read from disk by a reload).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Document {
    Text { name: PathBuf, text: String },
    File(PathBuf),
    Pinned { path: PathBuf, text: String },
}

/// A document read and parsed.
struct Loaded {
    /// The document as read (a file pinned to the text used).
    read: Document,
    /// Its name, shown as its provenance.
    name: PathBuf,
    /// Its values.
    table: Table,
    /// The line of each leaf.
    lines: BTreeMap<String, usize>,
}

/// One run-time override: for the whole service (`agent` is `None`) or for one agent.
#[derive(Clone, Debug, PartialEq)]
struct Override {
    agent: Option<String>,
    path: String,
    value: Value,
}

/// The layers of one config, lowest first: defaults, TOML documents, the selected profile,
/// environment variables, run-time overrides of the service, and per-agent overrides (which
/// apply only to what that agent reads).
#[derive(Clone, Debug, Default)]
pub struct LayerSet {
    defaults: Option<Result<Table, String>>,
    documents: Vec<Document>,
    profile: Option<String>,
    env: Option<EnvSource>,
    overrides: Vec<Override>,
}

/// The merged trees of a [`LayerSet`] and the documents' text as read.
pub(crate) struct Built {
    /// The service's config.
    pub(crate) tree: Tree,
    /// Each agent with overrides: the service's config with its overrides on top.
    pub(crate) agents: BTreeMap<String, Tree>,
    /// The documents as read (a file becomes [`Document::Pinned`] with the text used).
    pub(crate) documents: Vec<Document>,
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

    /// A run-time override of the value at the dotted `path`; later overrides win. It
    /// replaces an earlier override of the same path (and, unless the value is a table, which
    /// merges, the overrides under it), so repeated sets do not pile up.
    pub fn set(self, path: impl Into<String>, value: impl Into<Value>) -> LayerSet {
        self.with_override(Override {
            agent: None,
            path: path.into(),
            value: value.into(),
        })
    }

    /// A run-time override of the value at `path` for the agent `agent` only (replacing as
    /// [`LayerSet::set`] does).
    pub fn set_for(
        self,
        agent: impl Into<String>,
        path: impl Into<String>,
        value: impl Into<Value>,
    ) -> LayerSet {
        self.with_override(Override {
            agent: Some(agent.into()),
            path: path.into(),
            value: value.into(),
        })
    }

    fn with_override(mut self, new: Override) -> LayerSet {
        let merges = new.value.is_table();
        self.overrides.retain(|o| {
            o.agent != new.agent
                || !(o.path == new.path || (!merges && path::is_under(&o.path, &new.path)))
        });
        self.overrides.push(new);
        self
    }

    /// Removes the overrides (of the service, or of `agent`) at `path` or under it; whether
    /// there were any.
    pub(crate) fn remove_overrides(&mut self, agent: Option<&str>, at: &str) -> bool {
        let before = self.overrides.len();
        self.overrides
            .retain(|o| o.agent.as_deref() != agent || !path::is_under(&o.path, at));
        self.overrides.len() != before
    }

    /// The run-time overrides, in the order they apply: `(agent, path, value)`.
    pub fn overrides(&self) -> impl Iterator<Item = (Option<&str>, &str, &Value)> {
        self.overrides
            .iter()
            .map(|o| (o.agent.as_deref(), o.path.as_str(), &o.value))
    }

    /// The TOML files these layers read (pinned or not).
    pub fn files(&self) -> Vec<PathBuf> {
        self.documents
            .iter()
            .filter_map(|doc| match doc {
                Document::File(path) | Document::Pinned { path, .. } => Some(path.clone()),
                Document::Text { .. } => None,
            })
            .collect()
    }

    /// The same layers with every pinned document read from its file again.
    pub(crate) fn unpinned(&self) -> LayerSet {
        let mut layers = self.clone();
        for doc in &mut layers.documents {
            if let Document::Pinned { path, .. } = doc {
                *doc = Document::File(std::mem::take(path));
            }
        }
        layers
    }

    /// What a stored version keeps of these layers: the documents as read (`documents`),
    /// the profile and the overrides. Defaults come from the code and the environment from
    /// the process, so neither is stored.
    pub(crate) fn record(&self, documents: &[Document]) -> serde_json::Value {
        let documents: Vec<serde_json::Value> = documents
            .iter()
            .map(|doc| match doc {
                Document::Text { name, text } => {
                    json!({"name": name.display().to_string(), "file": false, "text": text})
                }
                Document::File(path) | Document::Pinned { path, .. } => {
                    let text = match doc {
                        Document::Pinned { text, .. } => text.as_str(),
                        _ => "",
                    };
                    json!({"name": path.display().to_string(), "file": true, "text": text})
                }
            })
            .collect();
        let overrides: Vec<serde_json::Value> = self
            .overrides
            .iter()
            .map(|o| json!({"agent": o.agent, "path": o.path, "value": o.value.to_string()}))
            .collect();
        json!({"documents": documents, "profile": self.profile, "overrides": overrides})
    }

    /// These layers' defaults and environment with the rest taken from a stored `record`
    /// (files pinned to their stored text).
    pub(crate) fn restored(&self, record: &serde_json::Value) -> Result<LayerSet, Problem> {
        let corrupt = |what: &str| Problem::new("layers", format!("stored version: bad {what}"));
        let mut layers = LayerSet {
            defaults: self.defaults.clone(),
            env: self.env.clone(),
            ..LayerSet::default()
        };
        for doc in record["documents"]
            .as_array()
            .ok_or_else(|| corrupt("documents"))?
        {
            let (Some(name), Some(file), Some(text)) = (
                doc["name"].as_str(),
                doc["file"].as_bool(),
                doc["text"].as_str(),
            ) else {
                return Err(corrupt("document"));
            };
            layers.documents.push(if file {
                Document::Pinned {
                    path: name.into(),
                    text: text.to_string(),
                }
            } else {
                Document::Text {
                    name: name.into(),
                    text: text.to_string(),
                }
            });
        }
        layers.profile = record["profile"].as_str().map(String::from);
        layers.with_overrides_from(record)
    }

    /// These layers with their run-time overrides (the service's and the agents') replaced
    /// by those of a stored `record`.
    pub(crate) fn with_overrides_from(
        &self,
        record: &serde_json::Value,
    ) -> Result<LayerSet, Problem> {
        let corrupt = || Problem::new("layers", "stored version: bad overrides");
        let mut layers = self.clone();
        layers.overrides.clear();
        for o in record["overrides"].as_array().ok_or_else(corrupt)? {
            let (Some(at), Some(value)) = (
                o["path"].as_str(),
                o["value"].as_str().and_then(env::parse_exact),
            ) else {
                return Err(corrupt());
            };
            layers.overrides.push(Override {
                agent: o["agent"].as_str().map(String::from),
                path: at.to_string(),
                value,
            });
        }
        Ok(layers)
    }

    /// Merges every layer, collecting every problem.
    pub(crate) fn build(&self) -> Result<Built, Vec<Problem>> {
        let mut tree = Tree::default();
        let mut problems = Vec::new();
        match &self.defaults {
            Some(Ok(table)) => tree.merge(table.clone(), &|_| Source::Default),
            Some(Err(e)) => problems.push(Problem::new("defaults", e.clone())),
            None => {}
        }
        let mut profiles = Vec::new();
        let mut documents = Vec::new();
        for doc in &self.documents {
            match doc.load() {
                Ok(Loaded {
                    read,
                    name,
                    mut table,
                    lines,
                }) => {
                    let profile = table.remove("profile");
                    tree.merge(table, &|at| Source::File {
                        path: name.clone(),
                        line: lines.get(at).copied(),
                    });
                    profiles.push((name, profile, lines));
                    documents.push(read);
                }
                Err(p) => problems.push(p),
            }
        }
        if let Some(wanted) = &self.profile {
            let mut found = false;
            for (file, profile, lines) in profiles {
                match profile.and_then(|p| match p {
                    Value::Table(mut t) => t.remove(wanted),
                    _ => None,
                }) {
                    Some(Value::Table(section)) => {
                        found = true;
                        tree.merge(section, &|at| Source::Profile {
                            name: wanted.clone(),
                            file: file.clone(),
                            line: lines.get(&format!("profile.{wanted}.{at}")).copied(),
                        });
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
        for o in self.overrides.iter().filter(|o| o.agent.is_none()) {
            if let Err(e) = o.place(&mut tree, Source::Override) {
                problems.push(e);
            }
        }
        let mut agents: BTreeMap<String, Tree> = BTreeMap::new();
        for o in &self.overrides {
            let Some(agent) = &o.agent else { continue };
            let agent_tree = agents.entry(agent.clone()).or_insert_with(|| tree.clone());
            if let Err(mut e) = o.place(agent_tree, Source::Agent(agent.clone())) {
                e.message = format!("{} (override for agent {agent})", e.message);
                problems.push(e);
            }
        }
        if problems.is_empty() {
            Ok(Built {
                tree,
                agents,
                documents,
            })
        } else {
            Err(problems)
        }
    }
}

impl Override {
    /// Places the value in `tree`, attributed to `source`.
    fn place(&self, tree: &mut Tree, source: Source) -> Result<(), Problem> {
        tree.place(
            &path::parse(&self.path),
            self.value.clone(),
            &source,
            KeyCase::Exact,
        )
        .map(drop)
        .map_err(|e| Problem::new(self.path.clone(), e))
    }
}

impl Document {
    /// Reads and parses the document. A syntax error names the document and line.
    fn load(&self) -> Result<Loaded, Problem> {
        let (name, text) = match self {
            Document::Text { name, text } => (name.clone(), text.clone()),
            Document::Pinned { path, text } => (path.clone(), text.clone()),
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
        let read = match self {
            Document::Text { .. } => self.clone(),
            _ => Document::Pinned {
                path: name.clone(),
                text: text.clone(),
            },
        };
        lines::parse(&text)
            .map(|(table, lines)| Loaded {
                read,
                name: name.clone(),
                table,
                lines,
            })
            .map_err(|e| {
                let line = e.span().map(|s| lines::line_of(&text, s.start));
                let at = match line {
                    Some(line) => format!("{}:{line}", name.display()),
                    None => name.display().to_string(),
                };
                Problem::new(at, format!("malformed TOML: {}", e.message().trim()))
            })
    }
}
