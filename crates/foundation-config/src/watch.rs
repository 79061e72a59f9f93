//! Hot reload: watching the config's TOML files and reloading when they change.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use foundation_core::{Error, ErrorCode, Result};
use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::bind::status_when;
use crate::config::{Applied, Config};
use crate::service::{Attribution, ConfigService};

/// How a file watcher waits for writes to finish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatchOptions {
    /// A reload starts only once the files have been quiet this long, so a file written in
    /// several steps is read once, whole. Default 200 ms.
    pub settle: Duration,
}

impl Default for WatchOptions {
    fn default() -> WatchOptions {
        WatchOptions {
            settle: Duration::from_millis(200),
        }
    }
}

/// What the watcher's last reload did.
#[derive(Clone, Debug)]
pub enum ReloadOutcome {
    /// The files changed the config; it is now `version`.
    Applied(Applied),
    /// The files were read and validated and nothing changed.
    Unchanged,
    /// The files could not be read (deleted, unreadable), did not parse (half-written,
    /// malformed) or did not validate, or the version could not be stored: the running
    /// config stays. The error names the file or field.
    Refused(Arc<Error>),
}

/// The watcher's progress.
#[derive(Clone, Debug, Default)]
pub struct ReloadStatus {
    /// Reloads attempted so far.
    pub attempts: u64,
    /// The last reload's outcome.
    pub last: Option<ReloadOutcome>,
}

/// What a watcher reloads: a config kept in memory, or one whose versions are stored.
#[derive(Clone, Debug)]
pub enum Reloads {
    /// [`Config::reload`]: in memory only.
    Config(Arc<Config>),
    /// [`ConfigService::reload`]: each change stored as a version first.
    Service(Arc<ConfigService>),
}

impl From<Arc<Config>> for Reloads {
    fn from(config: Arc<Config>) -> Reloads {
        Reloads::Config(config)
    }
}

impl From<Arc<ConfigService>> for Reloads {
    fn from(service: Arc<ConfigService>) -> Reloads {
        Reloads::Service(service)
    }
}

impl Reloads {
    fn config(&self) -> &Config {
        match self {
            Reloads::Config(config) => config,
            Reloads::Service(service) => service.config(),
        }
    }

    async fn reload(&self, files: &str) -> Result<Applied> {
        match self {
            Reloads::Config(config) => config.reload(),
            Reloads::Service(service) => {
                let by = Attribution::new("file-watcher", format!("changed on disk: {files}"));
                service.reload(by).await
            }
        }
    }
}

/// Watches a config's TOML files and reloads it when they change. Dropping it stops
/// watching.
pub struct FileWatcher {
    _watcher: notify::RecommendedWatcher,
    task: JoinHandle<()>,
    status: watch::Receiver<ReloadStatus>,
}

impl std::fmt::Debug for FileWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileWatcher")
            .field("status", &*self.status.borrow())
            .finish_non_exhaustive()
    }
}

impl FileWatcher {
    /// Watches the files of a config — an `Arc<Config>` or an `Arc<ConfigService>` — through
    /// their directories, so a file replaced by a rename or deleted and created again is
    /// still seen. Must be called within a Tokio runtime. `INVALID_INPUT` when the config has
    /// no files; `UNAVAILABLE` when the operating system refuses to watch.
    pub fn start(target: impl Into<Reloads>, options: WatchOptions) -> Result<FileWatcher> {
        let target = target.into();
        let files = target.config().snapshot().layers().files();
        if files.is_empty() {
            return Err(Error::new(
                ErrorCode::INVALID_INPUT,
                "the config reads no TOML file to watch",
            ));
        }
        let watched: BTreeSet<PathBuf> = files.iter().map(|f| absolute(f)).collect();
        let (tx, rx) = mpsc::channel::<()>(1);
        let targets = watched.clone();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let Ok(event) = event else { return };
                let relevant = matches!(
                    event.kind,
                    EventKind::Create(_)
                        | EventKind::Modify(_)
                        | EventKind::Remove(_)
                        | EventKind::Any
                ) && event.paths.iter().any(|p| targets.contains(&absolute(p)));
                if relevant {
                    // One pending signal is enough: the reload reads everything.
                    let _ = tx.try_send(());
                }
            })
            .map_err(refused_watch)?;
        let dirs: BTreeSet<PathBuf> = watched
            .iter()
            .filter_map(|f| f.parent().map(Path::to_path_buf))
            .collect();
        for dir in &dirs {
            watcher
                .watch(dir, RecursiveMode::NonRecursive)
                .map_err(|e| refused_watch(e).with_context("path", dir.display()))?;
        }
        let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        let (status_tx, status) = watch::channel(ReloadStatus::default());
        let task = tokio::spawn(reload_loop(
            target,
            rx,
            options,
            names.join(", "),
            status_tx,
        ));
        Ok(FileWatcher {
            _watcher: watcher,
            task,
            status,
        })
    }

    /// The status now.
    pub fn status(&self) -> ReloadStatus {
        self.status.borrow().clone()
    }

    /// Waits for the reload after `attempts` reloads so far, and returns its status.
    pub async fn next_reload(&mut self, attempts: u64) -> ReloadStatus {
        status_when(&mut self.status, |s| s.attempts > attempts).await
    }
}

impl Drop for FileWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Waits for a change, lets the files settle, reloads; until the watcher is dropped.
async fn reload_loop(
    target: Reloads,
    mut changed: mpsc::Receiver<()>,
    options: WatchOptions,
    files: String,
    status: watch::Sender<ReloadStatus>,
) {
    while changed.recv().await.is_some() {
        loop {
            match tokio::time::timeout(options.settle, changed.recv()).await {
                Ok(Some(())) => continue,
                Ok(None) => return,
                Err(_quiet) => break,
            }
        }
        let outcome = match target.reload(&files).await {
            Ok(applied) if applied.changes.is_empty() => ReloadOutcome::Unchanged,
            Ok(applied) => ReloadOutcome::Applied(applied),
            Err(e) => ReloadOutcome::Refused(Arc::new(e)),
        };
        status.send_modify(|s| {
            s.attempts += 1;
            s.last = Some(outcome);
        });
    }
}

/// `path` made absolute against the working directory, as the watcher reports it.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

fn refused_watch(e: notify::Error) -> Error {
    Error::new(
        ErrorCode::UNAVAILABLE,
        format!("cannot watch the config files: {e}"),
    )
}
