//! A supervised pool of workers that register themselves for discovery.
//!
//! Each worker registers in `on_start` under its own name with the capability `resize`;
//! callers pick one by load balancing. When a worker crashes, its entry leaves the registry
//! with it, the supervisor starts a fresh instance, and that instance registers again.
//!
//! Run with `cargo run -p foundation --example agents`.

use std::time::Duration;

use foundation::prelude::*;

#[derive(Debug)]
enum Job {
    Resize(u32, Reply<String>),
    Crash,
}

struct Worker {
    name: &'static str,
    registry: Registry,
    done: u64,
}

impl Agent for Worker {
    type Msg = Job;

    async fn on_start(&mut self, ctx: &mut Context<Self>) -> Result<()> {
        let meta = Metadata::new(Kind::Agent).with_capability("resize");
        self.registry
            .register_agent(self.name, ctx.myself(), meta)?;
        Ok(())
    }

    async fn handle(&mut self, job: Job, ctx: &mut Context<Self>) {
        match job {
            Job::Resize(px, reply) => {
                self.done += 1;
                ctx.reply(
                    reply,
                    format!("{} resized to {px}px (job {})", self.name, self.done),
                );
            }
            Job::Crash => panic!("{} hit a corrupt image", self.name),
        }
    }
}

fn worker(name: &'static str, registry: &Registry) -> ChildSpec {
    let registry = registry.clone();
    ChildSpec::agent(
        name,
        move || Worker {
            name,
            registry: registry.clone(),
            done: 0,
        },
        AgentConfig::named(name),
    )
}

#[tokio::main]
async fn main() -> Result<()> {
    // The runtime reports panics itself (exit reasons, events); keep the demo's output short.
    std::panic::set_hook(Box::new(|_| {}));
    let registry = Registry::builder().build()?;
    let spec = SupervisorSpec::new("resizers")
        .strategy(Strategy::OneForOne)
        .child(worker("resizer-1", &registry))
        .child(worker("resizer-2", &registry));
    let supervisor = foundation::runtime::supervisor::start(spec).await?;
    let timeout = Duration::from_secs(1);

    for px in [640, 800, 1024] {
        let worker = registry.pick_agent::<Worker>("resize", Balance::RoundRobin)?;
        println!("{}", worker.call(|r| Job::Resize(px, r), timeout).await?);
    }

    let crashing = supervisor.child::<Worker>("resizer-1")?;
    crashing.cast(Job::Crash)?;
    let exit = crashing.wait().await;
    println!("resizer-1 exited: {exit}");

    // The supervisor restarts it; the fresh instance registers itself again.
    let restarted = loop {
        match registry.lookup::<Worker>("resizer-1") {
            Ok(found) if found.is_alive() => break found,
            _ => tokio::task::yield_now().await,
        }
    };
    println!(
        "{}",
        restarted.call(|r| Job::Resize(320, r), timeout).await?
    );

    let report = supervisor.shutdown().await;
    for child in &report.children {
        println!("{} stopped: {}", child.id, child.exit);
    }
    assert!(registry.is_empty(), "stopped workers leave the registry");
    Ok(())
}
