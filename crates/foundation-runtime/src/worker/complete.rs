//! The worker's completer: commits the completions of finished tasks in batches, so a busy
//! worker pays one commit (one fsync on SQLite) for many tasks instead of one each.
//!
//! A task whose handler succeeded hands its lease over a channel and frees its slot at once.
//! The completer takes what has arrived (waiting [`LINGER`] for more after the first, at most
//! [`MAX_BATCH`]), completes it all with
//! [`TaskQueue::complete_batch`](foundation_store::TaskQueue::complete_batch), and only then
//! counts the tasks completed and forgets their leases. While one batch commits the next one
//! gathers, so under load batches grow with the commit time; an idle worker's completion waits
//! only [`LINGER`].

use std::collections::HashSet;
use std::time::Duration;

use foundation_store::{Lease, TaskId};
use tokio::sync::mpsc;

use super::handler::TaskHandler;
use super::run::{Outcome, Shared};

/// The most completions committed together (the store splits larger batches into statements
/// anyway; this bounds one transaction).
const MAX_BATCH: usize = 1_000;
/// How long the first completion of a batch waits for others to join it.
const LINGER: Duration = Duration::from_millis(2);

/// Where finished tasks send their leases to be completed.
pub(super) type Completions = mpsc::UnboundedSender<Lease>;

/// Commits completions as they arrive until every sender is gone and all that arrived is
/// committed (or, if the store refuses the last attempt, given up on: those leases stay in the
/// worker's lease map, so the shutdown that follows returns them).
pub(super) async fn complete<H: TaskHandler>(
    shared: &Shared<H>,
    mut arrivals: mpsc::UnboundedReceiver<Lease>,
) {
    let mut pending: Vec<Lease> = Vec::new();
    let mut open = true;
    while open || !pending.is_empty() {
        if open && pending.is_empty() {
            match arrivals.recv().await {
                Some(lease) => pending.push(lease),
                None => open = false,
            }
        }
        if open {
            let linger = tokio::time::sleep(LINGER);
            tokio::pin!(linger);
            while pending.len() < MAX_BATCH {
                let room = MAX_BATCH - pending.len();
                tokio::select! {
                    biased;
                    got = arrivals.recv_many(&mut pending, room) => {
                        if got == 0 {
                            open = false;
                            break;
                        }
                    }
                    _ = &mut linger => break,
                }
            }
        }
        if pending.is_empty() {
            continue;
        }
        if flush(shared, &mut pending).await {
            continue;
        }
        if !open {
            // The last attempt on shutdown failed: the shutdown returns these leases.
            return;
        }
        // The store refused: try again after a poll interval, with what arrived meanwhile.
        tokio::time::sleep(shared.config.poll_interval).await;
    }
}

/// Completes `pending` in one transaction and counts the outcome; `false` (keeping `pending`
/// for another try, minus the leases that ran out meanwhile) when the store refused.
async fn flush<H: TaskHandler>(shared: &Shared<H>, pending: &mut Vec<Lease>) -> bool {
    match shared.tasks.complete_batch(pending).await {
        Ok(lost) => {
            let lost: HashSet<TaskId> = lost.into_iter().collect();
            shared.settle(pending.drain(..).map(|lease| {
                let outcome = if lost.contains(&lease.task_id) {
                    Outcome::Lost
                } else {
                    Outcome::Completed
                };
                (lease.task_id, outcome)
            }));
            true
        }
        Err(e) => {
            shared.store_error("complete tasks", &e);
            // A lease that ran out was handed on: its task runs again (at least once).
            let now = shared.tasks.store().now_ms();
            let (held, ran_out): (Vec<Lease>, Vec<Lease>) = pending
                .drain(..)
                .partition(|lease| lease.expires_at_ms > now);
            *pending = held;
            shared.settle(ran_out.iter().map(|l| (l.task_id, Outcome::Unrecorded)));
            false
        }
    }
}
