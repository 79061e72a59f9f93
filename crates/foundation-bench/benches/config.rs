//! Typed config reads and change propagation, against plain locks, a bare `ArcSwap`, the
//! `config` crate (config-rs) and `figment`.
//!
//! Run: `cargo bench -p foundation-bench --bench config -- --warm-up-time 1 --measurement-time 3`
//!
//! Every read is one `f64` field of an eight-field breaker section (`[breaker]`).
//!
//! Groups:
//! - `read_field/*`: one read on one thread. `foundation_live` is `Live::load()` (an arc-swap
//!   load of the value deserialized at the last change); `foundation_cached` is
//!   `Cached::load()` (a reader's own cache of the live value: one atomic load and a compare); `arc_swap` is a bare
//!   `ArcSwap<Breaker>` (the floor); `std_rwlock` and `parking_lot_rwlock` take a read lock
//!   on an `Arc<RwLock<Breaker>>`; `foundation_get` is `Config::get` (deserializes the section
//!   on every call); `config_rs_get` is `config::Config::get("breaker")` and
//!   `figment_extract` is `Figment::extract_inner("breaker")`, both deserializing per call.
//! - `read_field_2_threads/*`: the same reads from two threads at once on one shared value;
//!   each thread does every iteration's read, and the time is the slower thread's, so the
//!   figure is the cost of one read under contention.
//! - `change_to_subscriber/*`: from a change to a `Live` subscriber holding the new value.
//!   `file_rename_settle_10ms` and `file_rename_settle_200ms` write the TOML file to a temp
//!   file in its directory and rename it over (as editors do), with a `FileWatcher` settling
//!   10 ms or 200 ms (the default); the reload goes through a `ConfigService` and so stores a
//!   version on SQLite (`synchronous=FULL`). `service_set_sqlite` is `ConfigService::set`
//!   (validated, stored on SQLite, swapped in); `config_set_memory` is `Config::set`
//!   (validated and swapped in, nothing stored).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use criterion::{Bencher, Criterion, SamplingMode, criterion_group, criterion_main};
use figment::providers::Format;
use foundation_config::{
    Attribution, Config, ConfigService, FileWatcher, LayerSet, Live, Schema, Secrets, Value,
    WatchOptions,
};
use foundation_core::TelemetryBus;
use foundation_store::{Store, StoreOptions, StoreUrl};
use serde::{Deserialize, Serialize};
use tokio::runtime::Runtime;
use tokio::sync::watch;

/// A circuit breaker's settings: the section every bench reads.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
struct Breaker {
    failure_rate_threshold: f64,
    slow_call_rate_threshold: f64,
    slow_call_duration_ms: u64,
    minimum_calls: u32,
    sliding_window_size: u32,
    open_duration_ms: u64,
    half_open_calls: u32,
    enabled: bool,
}

/// The config file with `slow_call_duration_ms` set to `slow_ms`.
fn toml_text(slow_ms: u64) -> String {
    format!(
        "[breaker]\n\
         failure_rate_threshold = 0.5\n\
         slow_call_rate_threshold = 0.8\n\
         slow_call_duration_ms = {slow_ms}\n\
         minimum_calls = 20\n\
         sliding_window_size = 100\n\
         open_duration_ms = 30000\n\
         half_open_calls = 5\n\
         enabled = true\n"
    )
}

fn breaker() -> Breaker {
    toml::from_str::<toml::Table>(&toml_text(500)).unwrap()["breaker"]
        .clone()
        .try_into()
        .unwrap()
}

fn load_config(layers: LayerSet) -> Config {
    let schema = Schema::new().section::<Breaker>("breaker");
    let (config, warnings) = Config::load(schema, Secrets::default(), layers).unwrap();
    assert!(warnings.is_empty());
    config.with_bus(TelemetryBus::new())
}

fn in_memory_config() -> Config {
    load_config(LayerSet::new().toml_str("app.toml", toml_text(500)))
}

fn config_rs() -> config::Config {
    config::Config::builder()
        .add_source(config::File::from_str(
            &toml_text(500),
            config::FileFormat::Toml,
        ))
        .build()
        .unwrap()
}

fn figment() -> figment::Figment {
    figment::Figment::from(figment::providers::Toml::string(&toml_text(500)))
}

/// One reader's read of `failure_rate_threshold`.
type Read = fn(&Readers) -> f64;

/// Every reader measured, each over its own copy of the same section.
struct Readers {
    config: Config,
    live: Live<Breaker>,
    arc_swap: ArcSwap<Breaker>,
    std_rwlock: Arc<std::sync::RwLock<Breaker>>,
    parking_lot_rwlock: Arc<parking_lot::RwLock<Breaker>>,
    config_rs: config::Config,
    figment: figment::Figment,
}

impl Readers {
    fn new() -> Readers {
        let config = in_memory_config();
        let live = config.live::<Breaker>("breaker").unwrap();
        let readers = Readers {
            live,
            arc_swap: ArcSwap::from_pointee(breaker()),
            std_rwlock: Arc::new(std::sync::RwLock::new(breaker())),
            parking_lot_rwlock: Arc::new(parking_lot::RwLock::new(breaker())),
            config_rs: config_rs(),
            figment: figment(),
            config,
        };
        for read in Readers::all() {
            assert_eq!(read.1(&readers), 0.5, "{}", read.0);
        }
        readers
    }

    /// Each reader's name and its read of `failure_rate_threshold`.
    fn all() -> Vec<(&'static str, Read)> {
        vec![
            ("foundation_live", |r| r.live.load().failure_rate_threshold),
            ("arc_swap", |r| r.arc_swap.load().failure_rate_threshold),
            ("std_rwlock", |r| {
                r.std_rwlock.read().unwrap().failure_rate_threshold
            }),
            ("parking_lot_rwlock", |r| {
                r.parking_lot_rwlock.read().failure_rate_threshold
            }),
            ("foundation_get", |r| {
                r.config
                    .get::<Breaker>("breaker")
                    .unwrap()
                    .failure_rate_threshold
            }),
            ("config_rs_get", |r| {
                r.config_rs
                    .get::<Breaker>("breaker")
                    .unwrap()
                    .failure_rate_threshold
            }),
            ("figment_extract", |r| {
                r.figment
                    .extract_inner::<Breaker>("breaker")
                    .unwrap()
                    .failure_rate_threshold
            }),
        ]
    }
}

fn read_field(c: &mut Criterion) {
    let mut g = c.benchmark_group("read_field");
    let readers = Readers::new();
    for (name, read) in Readers::all() {
        g.bench_function(name, |b| b.iter(|| black_box(read(black_box(&readers)))));
    }
    g.bench_function("foundation_cached", |b| {
        let mut cached = readers.live.cached();
        b.iter(|| black_box(cached.load().failure_rate_threshold))
    });
    g.finish();
}

/// The time of the slower of two threads that each make a reader with `make` and run `n`
/// reads with it at once.
fn two_threads<R: FnMut() -> f64>(n: u64, make: impl Fn() -> R + Sync) -> Duration {
    std::thread::scope(|s| {
        let make = &make;
        let threads: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(move || {
                    let mut read = make();
                    let start = Instant::now();
                    for _ in 0..n {
                        black_box(read());
                    }
                    start.elapsed()
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .max()
            .unwrap()
    })
}

fn read_field_two_threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("read_field_2_threads");
    let readers = Readers::new();
    for (name, read) in Readers::all() {
        // Per-call deserializing peers cost the same on two threads: one is enough.
        if matches!(name, "config_rs_get" | "figment_extract") {
            continue;
        }
        let readers = &readers;
        g.bench_function(name, |b| {
            b.iter_custom(|n| two_threads(n, || move || read(black_box(readers))))
        });
    }
    g.bench_function("foundation_cached", |b| {
        b.iter_custom(|n| {
            two_threads(n, || {
                let mut cached = readers.live.cached();
                move || cached.load().failure_rate_threshold
            })
        })
    });
    g.finish();
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A service over `layers` storing its versions in a fresh SQLite file under `dir`.
async fn open_service(dir: &Path, layers: LayerSet) -> (Arc<ConfigService>, Store) {
    let url = StoreUrl::Sqlite {
        path: dir.join("config.db"),
        read_only: false,
    };
    let store = StoreOptions::new(url)
        .bus(TelemetryBus::new())
        .open()
        .await
        .unwrap();
    let service = ConfigService::open(load_config(layers), &store)
        .await
        .unwrap();
    (Arc::new(service), store)
}

/// A subscriber of the breaker section and the next `slow_call_duration_ms` to set.
struct Subscriber {
    rx: watch::Receiver<Arc<Breaker>>,
    next: u64,
    _live: Live<Breaker>,
}

impl Subscriber {
    fn of(config: &Config) -> Subscriber {
        let live = config.live::<Breaker>("breaker").unwrap();
        Subscriber {
            rx: live.subscribe(),
            next: live.load().slow_call_duration_ms + 1,
            _live: live,
        }
    }

    /// Runs `n` changes, each made by `change(value)`, and returns the time from each change
    /// starting to the subscriber holding its value, summed.
    async fn measure<F>(&mut self, n: u64, mut change: impl FnMut(u64) -> F) -> Duration
    where
        F: Future<Output = ()>,
    {
        let mut total = Duration::ZERO;
        for _ in 0..n {
            let value = self.next;
            self.next += 1;
            let start = Instant::now();
            change(value).await;
            self.rx
                .wait_for(|b| b.slow_call_duration_ms == value)
                .await
                .unwrap();
            total += start.elapsed();
        }
        total
    }
}

/// Writes `text` to a temp file beside `path` and renames it over `path`.
fn replace_file(path: &Path, text: &str) {
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn file_change(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    for (name, settle_ms, samples) in [
        ("file_rename_settle_10ms", 10, 20),
        ("file_rename_settle_200ms", 200, 10),
    ] {
        let rt = runtime();
        let dir = tempfile::tempdir().unwrap();
        let path: PathBuf = dir.path().join("app.toml");
        std::fs::write(&path, toml_text(500)).unwrap();
        let (service, store) =
            rt.block_on(open_service(dir.path(), LayerSet::new().toml_file(&path)));
        let mut sub = Subscriber::of(service.config());
        let options = WatchOptions {
            settle: Duration::from_millis(settle_ms),
        };
        let watcher = {
            let _enter = rt.enter();
            FileWatcher::start(Arc::clone(&service), options).unwrap()
        };
        g.sample_size(samples);
        g.bench_function(name, |b: &mut Bencher<'_>| {
            b.iter_custom(|n| {
                rt.block_on(sub.measure(n, |value| {
                    replace_file(&path, &toml_text(value));
                    std::future::ready(())
                }))
            })
        });
        drop(watcher);
        rt.block_on(store.close());
    }
}

fn service_set(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let layers = LayerSet::new().toml_str("app.toml", toml_text(500));
    let (service, store) = rt.block_on(open_service(dir.path(), layers));
    let mut sub = Subscriber::of(service.config());
    let by = Attribution::new("bench", "latency");
    g.sample_size(20);
    g.bench_function("service_set_sqlite", |b| {
        b.iter_custom(|n| {
            rt.block_on(sub.measure(n, |value| {
                let (service, by) = (&service, by.clone());
                async move {
                    let value = Value::Integer(value as i64);
                    service
                        .set("breaker.slow_call_duration_ms", value, by)
                        .await
                        .unwrap();
                }
            }))
        })
    });
    rt.block_on(store.close());
}

fn config_set(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    let rt = runtime();
    let config = in_memory_config();
    let mut sub = Subscriber::of(&config);
    g.sample_size(50);
    g.bench_function("config_set_memory", |b| {
        b.iter_custom(|n| {
            rt.block_on(sub.measure(n, |value| {
                config
                    .set("breaker.slow_call_duration_ms", value as i64)
                    .unwrap();
                std::future::ready(())
            }))
        })
    });
}

fn change_to_subscriber(c: &mut Criterion) {
    let mut g = c.benchmark_group("change_to_subscriber");
    g.sampling_mode(SamplingMode::Flat);
    config_set(&mut g);
    service_set(&mut g);
    file_change(&mut g);
    g.finish();
}

criterion_group!(
    benches,
    read_field,
    read_field_two_threads,
    change_to_subscriber
);
criterion_main!(benches);
