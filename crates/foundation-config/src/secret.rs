//! Which values are secret, and redacting them.

use std::collections::BTreeSet;

use crate::path;

/// What replaces a secret value in every view and message.
pub const REDACTED: &str = "***";

/// Secret paths and key patterns.
///
/// A leaf is secret when its path is (or lies under) a marked path, or when any key on its
/// path matches a pattern. Patterns are matched case-insensitively against one key; `*`
/// matches any run of characters (`*password*`, `api_*`). The default patterns are
/// `*password*`, `*secret*` and `*token*`.
#[derive(Clone, Debug)]
pub struct Secrets {
    paths: BTreeSet<String>,
    patterns: Vec<String>,
}

impl Default for Secrets {
    fn default() -> Secrets {
        Secrets {
            paths: BTreeSet::new(),
            patterns: ["*password*", "*secret*", "*token*"]
                .map(String::from)
                .to_vec(),
        }
    }
}

impl Secrets {
    /// Marks `path` (and everything under it) secret.
    pub fn mark(&mut self, path: impl Into<String>) {
        self.paths.insert(path.into());
    }

    /// Replaces the key patterns.
    pub fn set_patterns<I, S>(&mut self, patterns: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.patterns = patterns
            .into_iter()
            .map(|p| p.into().to_ascii_lowercase())
            .collect();
    }

    /// Whether the value at `path` is secret.
    pub fn is_secret(&self, leaf: &str) -> bool {
        self.paths.iter().any(|p| path::is_under(leaf, p))
            || leaf.split('.').any(|key| {
                let key = key.to_ascii_lowercase();
                self.patterns.iter().any(|p| glob(p, &key))
            })
    }
}

/// `*`-only glob match.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(mut tail) = text.strip_prefix(head) else {
                return false;
            };
            loop {
                if glob(rest, tail) {
                    return true;
                }
                let mut chars = tail.chars();
                if chars.next().is_none() {
                    return false;
                }
                tail = chars.as_str();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_any_key_case_insensitively() {
        let s = Secrets::default();
        assert!(s.is_secret("db.Password"));
        assert!(s.is_secret("api.auth_token"));
        assert!(s.is_secret("client_secret.value"));
        assert!(!s.is_secret("db.host"));
    }

    #[test]
    fn marked_paths_cover_their_subtree_only() {
        let mut s = Secrets::default();
        s.set_patterns(["api_*"]);
        s.mark("db.dsn");
        assert!(s.is_secret("db.dsn"));
        assert!(s.is_secret("db.dsn.0"));
        assert!(!s.is_secret("db.dsnx"));
        assert!(s.is_secret("API_KEY"));
        assert!(!s.is_secret("db.password"));
    }

    #[test]
    fn glob_handles_several_stars() {
        assert!(glob("*a*b*", "xaxbx"));
        assert!(!glob("*a*b*", "xbxax"));
        assert!(glob("exact", "exact"));
    }
}
