//! `kill -9` a process running a persistent counter at a random point, restart it, and check
//! that it comes back with the last acknowledged state.
//!
//! The test re-runs its own binary as a child (`crash_child`, ignored in normal runs) with
//! the database named in environment variables. The child prints the state it loaded, then
//! bumps the counter in a loop and prints each acknowledged value, flushed, before asking for
//! the next. The parent kills the child (SIGKILL) after a random number of acknowledgements,
//! reads whatever the child printed before it died, and restarts it.
//!
//! The restarted child must load the last acknowledged value, or exactly one more: the agent
//! saves before it answers, so the kill can land after the save of value `n + 1` committed
//! but before the child printed it. It can never be less (an acknowledged change lost) nor
//! more than one above (the child asks for the next increment only after printing the
//! previous acknowledgement).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use foundation_runtime::agent::{AgentConfig, Context, Reply, StopReason, spawn};
use foundation_runtime::persistent::{Persistent, PersistentAgent};
use foundation_store::testing::Target;
use foundation_store::{StoreOptions, StoreUrl};

/// The store URL the child opens; its presence makes `crash_child` run.
const URL_ENV: &str = "FOUNDATION_CRASH_CHILD_STORE_URL";
/// The PostgreSQL schema the child uses, if any.
const SCHEMA_ENV: &str = "FOUNDATION_CRASH_CHILD_PG_SCHEMA";
/// How many times each test kills and restarts the child.
const ROUNDS: usize = 5;
/// The most acknowledgements the parent waits for before a kill.
const MAX_ACKS_BEFORE_KILL: u64 = 40;
/// The longest pause between the acknowledgement and the kill, in microseconds: about
/// one save on a slow disk.
const MAX_KILL_DELAY_MICROS: u64 = 3_000;
/// A bound on the child's loop, should its parent vanish without closing the pipe.
const CHILD_MAX_CALLS: u64 = 100_000;

#[derive(Debug)]
enum Msg {
    Increment(Reply<u64>),
    Get(Reply<u64>),
}

struct Counter;

impl PersistentAgent for Counter {
    type Msg = Msg;
    type State = u64;

    fn key(&self) -> &str {
        "crash/counter"
    }

    async fn handle(&mut self, n: &mut u64, msg: Msg, ctx: &mut Context<Persistent<Self>>) {
        match msg {
            Msg::Increment(reply) => {
                *n += 1;
                ctx.reply(reply, *n);
            }
            Msg::Get(reply) => ctx.reply(reply, *n),
        }
    }
}

/// The child process: runs the counter until it is killed.
#[test]
#[ignore = "run as a child process by the crash tests"]
fn crash_child() {
    let Ok(url) = std::env::var(URL_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut options = StoreOptions::new(StoreUrl::parse(&url).expect("store url"));
        if let Ok(schema) = std::env::var(SCHEMA_ENV) {
            options = options.postgres_schema(schema);
        }
        let store = options.open().await.expect("open store");
        let agent = spawn(
            Persistent::new(Counter, store.agent_state()),
            AgentConfig::named("crash-counter"),
        )
        .await
        .expect("spawn");
        let wait = Duration::from_secs(10);
        let mut out = std::io::stdout().lock();
        let loaded = agent.call(Msg::Get, wait).await.expect("get");
        writeln!(out, "@@start {loaded}").expect("print");
        out.flush().expect("flush");
        for _ in 0..CHILD_MAX_CALLS {
            let n = agent.call(Msg::Increment, wait).await.expect("increment");
            if writeln!(out, "@@ack {n}")
                .and_then(|()| out.flush())
                .is_err()
            {
                break;
            }
        }
        drop(out);
        agent.shutdown(StopReason::Normal).await;
    });
}

/// What one child printed: the state it loaded and the values acknowledged to it.
struct Round {
    loaded: u64,
    acks: Vec<u64>,
}

/// Runs the child against `url`, kills it `kill_delay` after its `kill_after`th
/// acknowledgement, and returns everything it printed before it died.
fn run_child(url: &str, schema: Option<&str>, kill_after: u64, kill_delay: Duration) -> Round {
    let mut command = Command::new(std::env::current_exe().expect("test binary"));
    command
        .args(["--exact", "crash_child", "--ignored", "--nocapture"])
        .env(URL_ENV, url)
        .env_remove(SCHEMA_ENV)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(schema) = schema {
        command.env(SCHEMA_ENV, schema);
    }
    let mut child = command.spawn().expect("start child");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut loaded = None;
    let mut acks = Vec::new();
    let mut killed = false;
    // After the kill, keep reading: what the child printed before the signal landed is in
    // the pipe until end of file.
    while let Some(Ok(line)) = lines.next() {
        let Some(at) = line.find("@@") else { continue };
        let mut words = line[at + 2..].split_whitespace();
        let (Some(kind), Some(value)) = (words.next(), words.next()) else {
            continue; // a line cut short by the kill
        };
        let Ok(value) = value.parse::<u64>() else {
            continue;
        };
        match kind {
            "start" => loaded = Some(value),
            "ack" => acks.push(value),
            _ => {}
        }
        if !killed && acks.len() as u64 >= kill_after {
            // Not a wait for anything: it moves the kill to a random point of the child's
            // next call (before, during or after its save).
            std::thread::sleep(kill_delay);
            child.kill().expect("kill -9 the child");
            killed = true;
        }
    }
    let status = child.wait().expect("reap child");
    assert!(
        killed,
        "the child ended before {kill_after} acknowledgements ({status}); see its stderr"
    );
    Round {
        loaded: loaded.expect("the child printed the state it loaded"),
        acks,
    }
}

fn kill_and_restart(target: &Target) {
    let (url, schema) = target.url_and_schema();
    let mut last_ack = 0;
    let mut seed = rand::random::<u64>();
    for round in 0..ROUNDS {
        let kill_after = 1 + seed % MAX_ACKS_BEFORE_KILL;
        let kill_delay = Duration::from_micros((seed >> 32) % MAX_KILL_DELAY_MICROS);
        seed = seed.rotate_left(7) ^ rand::random::<u64>();
        let Round { loaded, acks } = run_child(&url, schema, kill_after, kill_delay);
        assert!(
            loaded == last_ack || loaded == last_ack + 1,
            "round {round}: restarted with {loaded}, but {last_ack} was the last acknowledged \
             value (at most one more may have been saved unacknowledged)"
        );
        for (i, &ack) in acks.iter().enumerate() {
            assert_eq!(
                ack,
                loaded + 1 + i as u64,
                "round {round}: acks count up by one"
            );
        }
        last_ack = *acks.last().expect("at least one ack before the kill");
    }
}

#[test]
fn kill_9_keeps_the_last_acknowledged_state_sqlite() {
    kill_and_restart(&Target::sqlite());
}

#[test]
fn kill_9_keeps_the_last_acknowledged_state_postgres() {
    let Some(target) = Target::postgres() else {
        return;
    };
    kill_and_restart(&target);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(target.cleanup());
}
