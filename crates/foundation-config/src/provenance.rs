//! Where a value came from.

use std::fmt;
use std::path::PathBuf;

/// The layer (and place in it) that set a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The built-in defaults.
    Default,
    /// A TOML document's base section.
    File {
        /// A file path, or the name given to a string document.
        path: PathBuf,
        /// The line the value is on (1-based).
        line: Option<usize>,
    },
    /// A `[profile.NAME]` section of a TOML document.
    Profile {
        /// The profile's name.
        name: String,
        /// The document it was found in.
        file: PathBuf,
        /// The line the value is on (1-based).
        line: Option<usize>,
    },
    /// An environment variable, by its full name.
    Env(String),
    /// A run-time override of the service's config (`set(path, value)`): the service layer.
    Override,
    /// A run-time override for one agent (`set_for(agent, path, value)`), by agent id.
    Agent(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("defaults"),
            Source::File { path, line } => write!(f, "file {}{}", path.display(), at(*line)),
            Source::Profile { name, file, line } => {
                write!(f, "profile {name} in {}{}", file.display(), at(*line))
            }
            Source::Env(var) => write!(f, "env {var}"),
            Source::Override => f.write_str("override"),
            Source::Agent(id) => write!(f, "agent {id}"),
        }
    }
}

/// `:LINE` when the line is known.
fn at(line: Option<usize>) -> String {
    line.map(|l| format!(":{l}")).unwrap_or_default()
}
