//! The config service: layers with provenance, a live value bound to a circuit breaker,
//! stored versions with rollback, a per-agent override, and hot reload from a watched file.
//!
//! Run with `cargo run -p foundation --example config`. The history lives in a SQLite file
//! under the temp directory: run it twice and the override made by the first run is restored.

use std::sync::Arc;
use std::time::Duration;

use foundation::config::{
    Attribution, Config, ConfigService, EnvSource, FileWatcher, LayerSet, Live, ReloadOutcome,
    Schema, Secrets, Value, WatchOptions,
};
use foundation::prelude::*;

/// The `[db]` section.
#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
struct Db {
    host: String,
    port: u16,
    password: String,
}

fn io(e: std::io::Error) -> Error {
    Error::new(ErrorCode::INTERNAL, e.to_string())
}

#[tokio::main]
async fn main() -> Result<()> {
    let dir = std::env::temp_dir().join("foundation-config-example");
    std::fs::create_dir_all(&dir).map_err(io)?;
    let file = dir.join("app.toml");
    std::fs::write(
        &file,
        "[breaker]\nfailure_rate_threshold = 50.0\nminimum_calls = 10\n\n[db]\nhost = 'db1'\npassword = 'hunter2'\n",
    )
    .map_err(io)?;

    // Layers: defaults ← file ← environment ← service overrides ← agent overrides.
    let layers = LayerSet::new()
        .defaults(&toml::toml! { [db] host = "localhost" port = 5432 })
        .toml_file(&file)
        .env(EnvSource::from_process("APP_"));
    let schema = Schema::new()
        .validated::<BreakerConfig>("breaker")
        .section::<Db>("db");
    let (config, _warnings) = Config::load(schema, Secrets::default(), layers)?;
    let store = Store::open(&format!("sqlite://{}", dir.join("config.db").display())).await?;
    let service = Arc::new(ConfigService::open(config.with_name("example"), &store).await?);
    let config = service.config();
    println!("version {} in effect", config.version());
    let chain: Vec<String> = config
        .explain("db.host")
        .chain
        .iter()
        .map(ToString::to_string)
        .collect();
    println!("db.host comes from {}", chain.join(" ← "));
    println!(
        "db.password shows as {:?}",
        config.explain("db.password").value
    );

    // A breaker that follows its section live, keeping its window.
    let live: Live<BreakerConfig> = config.live("breaker")?;
    let breaker = CircuitBreaker::new("db", (*live.get()).clone())?;
    let target = breaker.clone();
    let mut binding = live.bind(TelemetryBus::global(), move |c: &BreakerConfig| {
        target.reconfigure(c.clone())
    });
    let me = |why: &str| Attribution::new("example", why);
    service
        .set(
            "breaker.failure_rate_threshold",
            Value::Float(25.0),
            me("tighter breaker"),
        )
        .await?;
    binding.caught_up(live.changes()).await;
    println!(
        "breaker threshold now {}",
        breaker.config().failure_rate_threshold
    );

    // A refused change names the field and keeps the running config.
    let err = service
        .set(
            "breaker.failure_rate_threshold",
            Value::Float(150.0),
            me("typo"),
        )
        .await
        .unwrap_err();
    println!("refused: {err}");

    // One agent sees its own value.
    service
        .set_for(
            "reporter",
            "db.host",
            Value::from("replica"),
            me("reads go to the replica"),
        )
        .await?;
    println!(
        "reporter's db.host: {:?}",
        config.effective("reporter", "db.host").value
    );

    // History and rollback.
    for v in service.history(None, 5).await? {
        println!(
            "v{} by {}: {} ({} changes)",
            v.version,
            v.author,
            v.reason,
            v.changes.len()
        );
    }
    let back = service.rollback(1, me("back to the file's values")).await?;
    println!("rolled back to v1 as v{}", back.version);

    // Hot reload: edit the file and watch the breaker follow.
    let options = WatchOptions {
        settle: Duration::from_millis(50),
    };
    let mut watcher = FileWatcher::start(Arc::clone(&service), options)?;
    let seen = watcher.status().attempts;
    let edited = std::fs::read_to_string(&file).map_err(io)?.replace(
        "failure_rate_threshold = 50.0",
        "failure_rate_threshold = 40.0",
    );
    std::fs::write(&file, edited).map_err(io)?;
    let status = tokio::time::timeout(Duration::from_secs(10), watcher.next_reload(seen))
        .await
        .map_err(|_| Error::new(ErrorCode::EXTERNAL_TIMEOUT, "no reload within 10 s"))?;
    if let Some(ReloadOutcome::Applied(applied)) = status.last {
        binding.caught_up(live.changes()).await;
        println!(
            "file change applied as v{}; breaker threshold {}",
            applied.version,
            breaker.config().failure_rate_threshold
        );
    }
    Ok(())
}
