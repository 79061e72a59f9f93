//! Where a value came from.

use std::fmt;
use std::path::PathBuf;

/// The layer (and place in it) that set a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The built-in defaults.
    Default,
    /// A TOML document's base section: a file path, or the name given to a string document.
    File(PathBuf),
    /// A `[profile.NAME]` section of a TOML document.
    Profile {
        /// The profile's name.
        name: String,
        /// The document it was found in.
        file: PathBuf,
    },
    /// An environment variable, by its full name.
    Env(String),
    /// A run-time override (`set(path, value)`).
    Override,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("defaults"),
            Source::File(path) => write!(f, "file {}", path.display()),
            Source::Profile { name, file } => {
                write!(f, "profile {name} in {}", file.display())
            }
            Source::Env(var) => write!(f, "env {var}"),
            Source::Override => f.write_str("override"),
        }
    }
}
