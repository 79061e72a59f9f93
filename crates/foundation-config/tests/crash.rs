//! Crash test with real processes: a child changes the config through the service while this
//! test `kill -9`s it, several times, on SQLite and PostgreSQL. Every change the child was
//! told succeeded is in the stored history afterwards, and a restart restores the last one.

use std::io::Write;

use foundation_config::{Attribution, Config, ConfigService, LayerSet, Schema, Secrets, Value};
use foundation_store::StoreOptions;
use foundation_store::on_each_backend;
use foundation_store::testing::{self, Target};

const ROUNDS: usize = 3;

async fn service(options: StoreOptions) -> ConfigService {
    let store = options.open().await.unwrap();
    let layers = LayerSet::new().defaults(&toml::toml! { [counter] n = -1 });
    let (config, _) = Config::load(Schema::new(), Secrets::default(), layers).unwrap();
    ConfigService::open(config.with_name("crash"), &store)
        .await
        .unwrap()
}

/// The child: sets `counter.n` to START, START + 1, … printing `ACK n` once each change is
/// acknowledged, until it is killed.
#[test]
#[ignore = "run as a child process by the crash tests"]
fn config_crash_child() {
    testing::run_child(|options, start| async move {
        let service = service(options).await;
        for n in start.. {
            let by = Attribution::new("child", format!("step {n}"));
            service
                .set("counter.n", Value::Integer(n as i64), by)
                .await
                .unwrap();
            let mut out = std::io::stdout().lock();
            writeln!(out, "ACK {n}").unwrap();
            out.flush().unwrap();
        }
    });
}

on_each_backend!(acknowledged_changes_survive_kill_9);

async fn acknowledged_changes_survive_kill_9(t: &Target) {
    let next = testing::kill_child_repeatedly("config_crash_child", t, ROUNDS);
    let service = service(t.options()).await;
    let n: i64 = service.config().get("counter.n").unwrap();
    let last_acked = next as i64 - 1;
    // The change after the last acknowledged one may have been stored before the kill.
    assert!(
        n == last_acked || n == last_acked + 1,
        "restored counter.n = {n}, last acknowledged {last_acked}"
    );
    let history = service.history(None, 1_000).await.unwrap();
    let latest = history[0].version;
    assert_eq!(latest, service.config().version());
    let numbers: Vec<u64> = history.iter().rev().map(|v| v.version).collect();
    assert_eq!(
        numbers,
        (1..=latest).collect::<Vec<_>>(),
        "gapless versions"
    );
    for step in 0..=last_acked {
        let reason = format!("step {step}");
        assert!(
            history.iter().any(|v| v.reason == reason),
            "acknowledged {reason} is not in the history"
        );
    }
}
