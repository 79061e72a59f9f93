//! Leader election among local candidates, with re-election when the leader stops.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use foundation_core::{Error, ErrorCode};
use parking_lot::Mutex;
use tokio::sync::watch;

use super::non_empty;

/// Leader election, backend-neutral.
pub trait Election {
    /// The token a candidate holds; dropping it withdraws the candidate.
    type Candidacy: Send;

    /// Enters `candidate` into the election.
    ///
    /// # Errors
    /// `INVALID_INPUT` naming `candidate` when empty; `ALREADY_EXISTS` when that name is
    /// already a candidate.
    fn join(&self, candidate: &str) -> Result<Self::Candidacy, Error>;

    /// The current leader, if any.
    fn leader(&self) -> Option<String>;

    /// A channel that always holds the current leader.
    fn watch(&self) -> watch::Receiver<Option<String>>;
}

struct Candidates {
    queue: VecDeque<(u64, String)>,
}

struct Shared {
    candidates: Mutex<Candidates>,
    leader: watch::Sender<Option<String>>,
    next_id: AtomicU64,
}

impl Shared {
    /// Publishes the head of the queue when it changed. Called with the candidates locked.
    fn publish(&self, candidates: &Candidates) {
        let head = candidates.queue.front().map(|(_, name)| name.clone());
        self.leader.send_if_modified(|current| {
            if *current != head {
                *current = head;
                true
            } else {
                false
            }
        });
    }
}

/// In-process leader election: the earliest candidate still present is the leader.
///
/// When the leader's [`Candidacy`] is dropped (its task stopped, returned or panicked), the next
/// candidate in join order becomes leader and watchers see the change. Cheap to clone.
#[derive(Clone)]
pub struct LocalElection {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for LocalElection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalElection")
            .field("leader", &self.leader())
            .finish()
    }
}

impl Default for LocalElection {
    fn default() -> LocalElection {
        LocalElection::new()
    }
}

/// A candidate's place in a [`LocalElection`]; dropping it withdraws the candidate.
#[must_use = "the candidate withdraws as soon as the candidacy is dropped"]
pub struct Candidacy {
    shared: Arc<Shared>,
    id: u64,
    name: String,
    rx: watch::Receiver<Option<String>>,
}

impl std::fmt::Debug for Candidacy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Candidacy")
            .field("name", &self.name)
            .field("is_leader", &self.is_leader())
            .finish()
    }
}

impl Candidacy {
    /// The candidate's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this candidate is the leader now.
    pub fn is_leader(&self) -> bool {
        self.rx.borrow().as_deref() == Some(self.name.as_str())
    }

    /// Waits until this candidate becomes leader.
    pub async fn wait_leadership(&mut self) {
        let name = self.name.clone();
        // The sender lives as long as `shared`, which this candidacy holds.
        let _ = self
            .rx
            .wait_for(|leader| leader.as_deref() == Some(name.as_str()))
            .await;
    }
}

impl Drop for Candidacy {
    fn drop(&mut self) {
        let mut candidates = self.shared.candidates.lock();
        candidates.queue.retain(|(id, _)| *id != self.id);
        self.shared.publish(&candidates);
    }
}

impl LocalElection {
    /// An election with no candidates.
    pub fn new() -> LocalElection {
        LocalElection {
            shared: Arc::new(Shared {
                candidates: Mutex::new(Candidates {
                    queue: VecDeque::new(),
                }),
                leader: watch::Sender::new(None),
                next_id: AtomicU64::new(0),
            }),
        }
    }

    /// The candidates in join order (the first is the leader).
    pub fn candidates(&self) -> Vec<String> {
        let candidates = self.shared.candidates.lock();
        candidates.queue.iter().map(|(_, n)| n.clone()).collect()
    }
}

impl Election for LocalElection {
    type Candidacy = Candidacy;

    fn join(&self, candidate: &str) -> Result<Candidacy, Error> {
        non_empty("candidate", candidate)?;
        let mut candidates = self.shared.candidates.lock();
        if candidates.queue.iter().any(|(_, n)| n == candidate) {
            return Err(Error::new(
                ErrorCode::ALREADY_EXISTS,
                format!("\"{candidate}\" is already a candidate"),
            )
            .with_context("candidate", candidate));
        }
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        candidates.queue.push_back((id, candidate.to_owned()));
        self.shared.publish(&candidates);
        drop(candidates);
        Ok(Candidacy {
            shared: self.shared.clone(),
            id,
            name: candidate.to_owned(),
            rx: self.shared.leader.subscribe(),
        })
    }

    fn leader(&self) -> Option<String> {
        self.shared.leader.borrow().clone()
    }

    fn watch(&self) -> watch::Receiver<Option<String>> {
        self.shared.leader.subscribe()
    }
}
