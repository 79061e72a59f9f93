//! Hot reload from a watched file: edits, atomic saves, half-written files, deletion.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use foundation_config::{
    Config, ConfigService, FileWatcher, LayerSet, Live, ReloadOutcome, ReloadStatus, Schema,
    Secrets, WatchOptions,
};
use foundation_core::{ErrorCode, Validate, Validator};
use foundation_store::Store;
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
struct Limits {
    rate: u32,
}

impl Validate for Limits {
    fn validate_into(&self, v: &mut Validator) {
        v.range("rate", f64::from(self.rate), 1.0, 1000.0);
    }
}

/// Waits (at most 20 s, then fails) for the first reload after `seen` reloads that was not
/// a no-op.
async fn next_outcome(watcher: &mut FileWatcher, mut seen: u64) -> ReloadOutcome {
    let wait = async {
        loop {
            let ReloadStatus { attempts, last } = watcher.next_reload(seen).await;
            match last {
                Some(ReloadOutcome::Unchanged) | None => seen = attempts,
                Some(outcome) => return outcome,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .expect("no reload within 20 s")
}

struct Fixture {
    _dir: tempfile::TempDir,
    file: PathBuf,
    service: Arc<ConfigService>,
    limits: Live<Limits>,
    watcher: FileWatcher,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.toml");
    std::fs::write(&file, "[limits]\nrate = 10\n").unwrap();
    let store = Store::open("sqlite::memory:").await.unwrap();
    let schema = Schema::new().validated::<Limits>("limits");
    let (config, _) =
        Config::load(schema, Secrets::default(), LayerSet::new().toml_file(&file)).unwrap();
    let service = Arc::new(ConfigService::open(config, &store).await.unwrap());
    let limits = service.config().live("limits").unwrap();
    let options = WatchOptions {
        settle: Duration::from_millis(50),
    };
    let watcher = FileWatcher::start(Arc::clone(&service), options).unwrap();
    Fixture {
        _dir: dir,
        file,
        service,
        limits,
        watcher,
    }
}

impl Fixture {
    /// Runs `edit` on the file and returns the outcome of the reload it causes.
    async fn edit(&mut self, edit: impl FnOnce(&Path)) -> ReloadOutcome {
        let seen = self.watcher.status().attempts;
        edit(&self.file);
        next_outcome(&mut self.watcher, seen).await
    }
}

fn write(text: &'static str) -> impl FnOnce(&Path) {
    move |file| std::fs::write(file, text).unwrap()
}

/// Writes `text` to a sibling file and renames it over `file`, as editors save.
fn save_atomically(file: &Path, text: &str) {
    let tmp = file.with_extension("toml.tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, file).unwrap();
}

fn refused(outcome: ReloadOutcome) -> Arc<foundation_core::Error> {
    match outcome {
        ReloadOutcome::Refused(e) => e,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_file_reaches_subscribers_as_a_stored_version() {
    let mut f = fixture().await;
    let mut rx = f.limits.subscribe();
    let ReloadOutcome::Applied(applied) = f.edit(write("[limits]\nrate = 20\n")).await else {
        panic!("not applied")
    };
    assert_eq!(applied.version, 2);
    rx.changed().await.unwrap();
    assert_eq!(rx.borrow().rate, 20);
    let v2 = f.service.version(2).await.unwrap();
    assert_eq!(v2.author, "file-watcher");
    assert!(v2.reason.contains("app.toml"), "{}", v2.reason);

    let saved = f.edit(|file| save_atomically(file, "[limits]\nrate = 30\n"));
    assert!(matches!(saved.await, ReloadOutcome::Applied(_)));
    assert_eq!(f.limits.load().rate, 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_written_file_is_not_applied_until_it_is_whole() {
    let mut f = fixture().await;
    let err = refused(f.edit(write("[limits]\nrate = ")).await);
    assert!(err.is(ErrorCode::INVALID_CONFIG));
    assert!(err.message().contains("app.toml:2"), "{}", err.message());
    assert_eq!(f.limits.load().rate, 10);
    assert_eq!(f.service.config().version(), 1);

    let whole = f.edit(write("[limits]\nrate = 40\n")).await;
    assert!(matches!(whole, ReloadOutcome::Applied(_)));
    assert_eq!(f.limits.load().rate, 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_value_is_refused_naming_the_field() {
    let mut f = fixture().await;
    let err = refused(f.edit(write("[limits]\nrate = 5000\n")).await);
    assert!(err.message().contains("limits.rate"), "{}", err.message());
    assert_eq!(f.limits.load().rate, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_file_keeps_the_last_good_config_until_it_returns() {
    let mut f = fixture().await;
    let err = refused(f.edit(|file| std::fs::remove_file(file).unwrap()).await);
    assert!(err.message().contains("cannot read"), "{}", err.message());
    assert!(err.message().contains("app.toml"), "{}", err.message());
    assert_eq!(f.limits.load().rate, 10);
    assert_eq!(f.service.config().version(), 1);

    let back = f.edit(write("[limits]\nrate = 50\n")).await;
    assert!(matches!(back, ReloadOutcome::Applied(_)));
    assert_eq!(f.limits.load().rate, 50);
}

#[tokio::test]
async fn a_config_without_files_cannot_be_watched() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    let (config, _) = Config::load(
        Schema::new(),
        Secrets::default(),
        LayerSet::new().set("a", 1),
    )
    .unwrap();
    let service = Arc::new(ConfigService::open(config, &store).await.unwrap());
    let err = FileWatcher::start(service, WatchOptions::default()).unwrap_err();
    assert!(err.is(ErrorCode::INVALID_INPUT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_without_a_store_reloads_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.toml");
    std::fs::write(&file, "[limits]\nrate = 10\n").unwrap();
    let layers = LayerSet::new().toml_file(&file);
    let config = Arc::new(
        Config::load(Schema::new(), Secrets::default(), layers)
            .unwrap()
            .0,
    );
    let limits: Live<Limits> = config.live("limits").unwrap();
    let options = WatchOptions {
        settle: Duration::from_millis(50),
    };
    let mut watcher = FileWatcher::start(Arc::clone(&config), options).unwrap();
    let seen = watcher.status().attempts;
    save_atomically(&file, "[limits]\nrate = 11\n");
    assert!(matches!(
        next_outcome(&mut watcher, seen).await,
        ReloadOutcome::Applied(_)
    ));
    assert_eq!(limits.load().rate, 11);
    assert_eq!(config.version(), 2);
}
