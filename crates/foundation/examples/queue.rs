//! A durable task queue worked by a supervised queue worker, on an embedded SQLite file.
//!
//! Tasks are enqueued (one with a unique key, one scheduled, one that always fails); a worker
//! under a supervisor runs them through a `Protection` with a retry; the failing task ends in
//! the dead-letter queue with every attempt's error, and each finished task is recorded in the
//! event store. Run it twice: the database file keeps everything, and the unique key refuses
//! the second copy.
//!
//! Run with `cargo run -p foundation --example queue`.

use std::time::Duration;

use foundation::prelude::*;
use foundation::runtime::supervisor;
use serde_json::json;

#[tokio::main]
async fn main() -> Result<()> {
    let dir = std::env::temp_dir().join("foundation-queue-example");
    std::fs::create_dir_all(&dir).map_err(|e| Error::new(ErrorCode::INTERNAL, e.to_string()))?;
    let store = Store::open(&format!("sqlite://{}", dir.join("queue.db").display())).await?;
    let tasks = store.tasks();
    tasks.declare("mail", QueueSettings::default()).await?;

    // Enqueue: the unique key makes a second run (or a retried request) harmless.
    match tasks
        .enqueue(NewTask::new("mail", json!({"to": "ada@example.com"})).unique_key("welcome-ada"))
        .await
    {
        Ok(id) => println!("enqueued welcome mail as task {id}"),
        Err(e) if e.code() == ErrorCode::TASK_DUPLICATE => println!("already enqueued: {e}"),
        Err(e) => return Err(e),
    }
    tasks
        .enqueue(
            NewTask::new("mail", json!({"to": "bob@example.com"}))
                .delay(Duration::from_millis(200)),
        )
        .await?;
    let doomed = tasks
        .enqueue(
            NewTask::new("mail", json!({"to": "nobody"}))
                .max_attempts(2)
                .backoff(Backoff::Fixed {
                    delay: Duration::from_millis(50),
                }),
        )
        .await?;

    // The worker: supervised, handler through a protection with a retry.
    let events = store.events();
    let journal = events.clone();
    let handler = handler_fn(move |task: Task| {
        let journal = journal.clone();
        async move {
            let to = task.payload["to"].as_str().unwrap_or_default().to_owned();
            if !to.contains('@') {
                return Err(Error::new(
                    ErrorCode::UNAVAILABLE,
                    format!("no mail server for {to:?}"),
                ));
            }
            journal
                .append(
                    &format!("mail-{}", task.id),
                    ExpectedVersion::Any,
                    vec![NewEvent::new("MailSent", json!({"to": to}))],
                )
                .await?;
            println!(
                "sent mail to {to} (task {}, attempt {})",
                task.id, task.attempt
            );
            Ok(())
        }
    });
    let protection = Protection::builder("smtp")
        .retry(RetryConfig::default())
        .build()?;
    let config = WorkerConfig {
        poll_interval: Duration::from_millis(50),
        ..WorkerConfig::new("mail")
    };
    let spec = SupervisorSpec::new("workers").child(QueueWorker::child(
        "mail-worker",
        tasks.clone(),
        config,
        handler,
        Some(protection),
    )?);
    let workers = supervisor::start(spec).await?;

    // Wait until the failing task has reached the dead-letter queue.
    let mut waiter = tasks.waiter("mail");
    while tasks.task(doomed).await?.state != TaskState::Dead {
        waiter.wait(Duration::from_millis(50)).await;
    }
    workers.shutdown().await;

    for dead in tasks.dead_letters(&DeadLetterFilter::queue("mail")).await? {
        println!(
            "dead letter {}: {} attempts",
            dead.task.id,
            dead.errors.len()
        );
        for error in &dead.errors {
            println!("  attempt {}: {}", error.attempt, error.error);
        }
    }
    let stats = tasks.stats("mail").await?;
    println!("queue mail: {stats:?}");
    println!("events recorded: {}", events.head_position().await?);
    store.close().await;
    Ok(())
}
