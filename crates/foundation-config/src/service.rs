//! The config service: every applied change stored as a version, history, rollback.

use std::fmt;
use std::sync::Arc;

use foundation_core::{Error, ErrorCode, Result};
use foundation_store::{ConfigVersion, ConfigVersions, NewConfigVersion, Store};
use serde_json::Value as Json;
use tokio::sync::Mutex;
use toml::Value;

use crate::config::{Applied, Config, Prepared};
use crate::diff::{self, Change};
use crate::layer::LayerSet;
use crate::problem;

/// How many times a change is retried when another node stored a version first.
const CONFLICT_RETRIES: usize = 3;

/// Who made a change and why; stored with the version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribution {
    /// Who made the change (a user, `file-watcher`, a deploy tool…).
    pub author: String,
    /// Why.
    pub reason: String,
}

impl Attribution {
    /// `author` made the change because of `reason`.
    pub fn new(author: impl Into<String>, reason: impl Into<String>) -> Attribution {
        Attribution {
            author: author.into(),
            reason: reason.into(),
        }
    }
}

/// One stored version of the config.
#[derive(Clone, Debug, PartialEq)]
pub struct Version {
    /// The version number: 1, 2, 3 … per config name.
    pub version: u64,
    /// Who made the change.
    pub author: String,
    /// Why.
    pub reason: String,
    /// When it was stored, in milliseconds since the Unix epoch.
    pub created_at_ms: i64,
    /// What changed from the version before (for version 1: every value), secrets redacted.
    pub changes: Vec<Change>,
}

/// A [`Config`] whose every change is stored in a [`Store`] (SQLite by default, PostgreSQL
/// when several nodes share one history) before it takes effect.
///
/// A change (set, unset, apply, reload, rollback) is validated whole, appended as the next
/// version (number, author, time, reason, diff), and only then swapped in: when the store
/// refuses (down, read-only, full), the change is refused and the running config stays. On
/// open, the run-time overrides of the latest stored version are restored over the files
/// and environment read now, so overrides made through the service survive a restart.
///
/// A stored version keeps the documents' text, the profile and the run-time overrides
/// (secret values included, as the files hold them; every view of a version is redacted).
/// Rolling back to version `n` applies those again — the files pinned to their text of
/// version `n` until the next [`ConfigService::reload`] — as a new version.
///
/// Several nodes may share one history: versions are numbered race-free, and a node that
/// finds a newer version than its own adopts its run-time overrides (its files and
/// environment stay its own) before applying its change on top ([`ConfigService::refresh`]).
pub struct ConfigService {
    config: Arc<Config>,
    versions: ConfigVersions,
    write: Mutex<()>,
}

impl fmt::Debug for ConfigService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigService")
            .field("config", &self.config.name())
            .field("version", &self.config.version())
            .finish()
    }
}

impl ConfigService {
    /// Takes over `config` (its own setters are refused from now on), restores the latest
    /// stored version's overrides, and stores a version when the result differs from it
    /// (version 1, "initial config", for a new history). When the stored overrides no longer
    /// validate (the schema changed), it starts without them, stores that as a version whose
    /// reason names every refused field, and publishes `foundation.config.refused`.
    pub async fn open(config: Config, store: &Store) -> Result<ConfigService> {
        config.set_managed();
        let service = ConfigService {
            config: Arc::new(config),
            versions: store.config_versions(),
            write: Mutex::new(()),
        };
        let latest = service.versions.latest(service.config.name()).await?;
        let _write = service.write.lock().await;
        match latest {
            None => {
                let prepared = service.config.prepare(service.layers())?;
                let changes = diff::all(&prepared.snapshot);
                let by = Attribution::new("foundation", "initial config");
                service
                    .store_and_commit(prepared, changes, None, &by)
                    .await?;
            }
            Some(latest) => {
                let restored = restore(&service.layers(), &latest, LayerSet::with_overrides_from)
                    .and_then(|layers| service.config.prepare(layers));
                let (prepared, reason) = match restored {
                    Ok(prepared) => (prepared, "files or environment changed".to_string()),
                    // The node still starts: on the files and environment alone, and the
                    // refused overrides stay in the history for a rollback once fixed.
                    Err(e) => {
                        let e = service.config.refused(e);
                        let prepared = service.config.prepare(service.layers())?;
                        (prepared, format!("stored overrides refused: {e}"))
                    }
                };
                if record_of(&prepared) == latest.layers {
                    service.config.commit(prepared, latest.version);
                } else {
                    let by = Attribution::new("foundation", reason);
                    // Against the stored version as it was (every value when it no longer
                    // builds: then there is nothing to compare with).
                    let stored = restore(&service.layers(), &latest, LayerSet::restored)
                        .and_then(|layers| service.config.prepare(layers));
                    let changes = match stored {
                        Ok(stored) => diff::between(&stored.snapshot, &prepared.snapshot),
                        Err(_) => diff::all(&prepared.snapshot),
                    };
                    service
                        .store_and_commit(prepared, changes, Some(latest.version), &by)
                        .await?;
                }
            }
        }
        drop(_write);
        Ok(service)
    }

    /// The config: read it (lock-free), take [`crate::Live`] values from it.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// Replaces the layers.
    pub async fn apply(&self, layers: LayerSet, by: Attribution) -> Result<Applied> {
        self.change(&by, |_| Ok(layers.clone())).await
    }

    /// Overrides the value at `path` for the service.
    pub async fn set(&self, path: &str, value: Value, by: Attribution) -> Result<Applied> {
        self.change(&by, |l| Ok(l.clone().set(path, value.clone())))
            .await
    }

    /// Overrides the value at `path` for `agent` only.
    pub async fn set_for(
        &self,
        agent: &str,
        path: &str,
        value: Value,
        by: Attribution,
    ) -> Result<Applied> {
        self.change(&by, |l| Ok(l.clone().set_for(agent, path, value.clone())))
            .await
    }

    /// Removes the service's overrides at or under `path`; `NOT_FOUND` when there are none.
    pub async fn unset(&self, path: &str, by: Attribution) -> Result<Applied> {
        self.change(&by, |l| crate::config::unset(l, None, path))
            .await
    }

    /// Removes `agent`'s overrides at or under `path`; `NOT_FOUND` when there are none.
    pub async fn unset_for(&self, agent: &str, path: &str, by: Attribution) -> Result<Applied> {
        self.change(&by, |l| crate::config::unset(l, Some(agent), path))
            .await
    }

    /// Reads the TOML files again (unpinning files a rollback pinned).
    pub async fn reload(&self, by: Attribution) -> Result<Applied> {
        self.change(&by, |l| Ok(l.unpinned())).await
    }

    /// Applies stored version `version` again, as a new version. `NOT_FOUND` (field
    /// `version`) when there is no such version; `INVALID_CONFIG` when it no longer
    /// validates (the schema changed since), keeping the running config.
    pub async fn rollback(&self, version: u64, by: Attribution) -> Result<Applied> {
        let target = self.stored(version).await?;
        self.change(&by, |l| restore(l, &target, LayerSet::restored))
            .await
    }

    /// The stored versions, newest first: those below `before` (all when `None`), at most
    /// `limit`.
    pub async fn history(&self, before: Option<u64>, limit: usize) -> Result<Vec<Version>> {
        self.versions
            .list(self.config.name(), before, limit)
            .await?
            .into_iter()
            .map(version_of)
            .collect()
    }

    /// One stored version; `NOT_FOUND` (field `version`) when there is none.
    pub async fn version(&self, version: u64) -> Result<Version> {
        version_of(self.stored(version).await?)
    }

    /// Adopts the run-time overrides of a newer version stored by another node. Returns the
    /// outcome when there was one, `None` when this node is current.
    pub async fn refresh(&self) -> Result<Option<Applied>> {
        let _write = self.write.lock().await;
        self.refresh_locked().await
    }

    async fn refresh_locked(&self) -> Result<Option<Applied>> {
        let Some(latest) = self.versions.latest(self.config.name()).await? else {
            return Ok(None);
        };
        if latest.version <= self.config.version() {
            return Ok(None);
        }
        let layers = restore(&self.layers(), &latest, LayerSet::with_overrides_from)?;
        let prepared = self.config.prepare(layers)?;
        Ok(Some(self.config.commit(prepared, latest.version)))
    }

    /// Validates `edit(layers)`, stores it as the next version, then puts it in effect. When
    /// another node stored a version first, adopts it and edits again.
    async fn change(
        &self,
        by: &Attribution,
        edit: impl Fn(&LayerSet) -> Result<LayerSet>,
    ) -> Result<Applied> {
        let _write = self.write.lock().await;
        let mut attempt = 0;
        loop {
            let prepared = self
                .config
                .prepare(edit(&self.layers())?)
                .map_err(|e| self.config.refused(e))?;
            if prepared.changes.is_empty() {
                return Ok(self.config.unchanged(prepared));
            }
            let changes = prepared.changes.clone();
            let expected = Some(self.config.version());
            match self.store_and_commit(prepared, changes, expected, by).await {
                Err(e) if e.is(ErrorCode::STORE_CONFLICT) && attempt < CONFLICT_RETRIES => {
                    attempt += 1;
                    self.refresh_locked().await?;
                }
                outcome => return outcome,
            }
        }
    }

    async fn store_and_commit(
        &self,
        prepared: Prepared,
        changes: Vec<Change>,
        expected: Option<u64>,
        by: &Attribution,
    ) -> Result<Applied> {
        let layers = record_of(&prepared);
        let diff = serde_json::to_value(&changes)
            .map_err(|e| Error::new(ErrorCode::INTERNAL, format!("cannot encode diff: {e}")))?;
        let new = NewConfigVersion {
            author: &by.author,
            reason: &by.reason,
            layers: &layers,
            diff: &diff,
        };
        match self
            .versions
            .append(self.config.name(), expected, new)
            .await
        {
            Ok(version) => Ok(self.config.commit(prepared, version)),
            Err(e) => Err(self.config.refused(e)),
        }
    }

    async fn stored(&self, version: u64) -> Result<ConfigVersion> {
        self.versions
            .get(self.config.name(), version)
            .await?
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::NOT_FOUND,
                    format!("config `{}` has no version {version}", self.config.name()),
                )
                .with_context("field", "version")
                .with_context("version", version)
            })
    }

    fn layers(&self) -> LayerSet {
        self.config.snapshot().layers().clone()
    }
}

/// What a version stores of `prepared`'s layers.
fn record_of(prepared: &Prepared) -> Json {
    prepared
        .snapshot
        .layers()
        .record(&prepared.snapshot.documents)
}

/// `layers` rebuilt from a stored version by `how`; a bad record is `STORE_CORRUPT`.
fn restore(
    layers: &LayerSet,
    stored: &ConfigVersion,
    how: fn(&LayerSet, &Json) -> std::result::Result<LayerSet, problem::Problem>,
) -> Result<LayerSet> {
    how(layers, &stored.layers).map_err(|p| {
        Error::new(ErrorCode::STORE_CORRUPT, p.to_string()).with_context("version", stored.version)
    })
}

fn version_of(stored: ConfigVersion) -> Result<Version> {
    let changes = serde_json::from_value(stored.diff).map_err(|e| {
        Error::new(
            ErrorCode::STORE_CORRUPT,
            format!(
                "stored diff of version {} is not readable: {e}",
                stored.version
            ),
        )
    })?;
    Ok(Version {
        version: stored.version,
        author: stored.author,
        reason: stored.reason,
        created_at_ms: stored.created_at_ms,
        changes,
    })
}
