//! A quorum vote: propose, collect votes until a quorum of yes, enough no, or the timeout.

use std::sync::Arc;
use std::time::Duration;

use foundation_core::{Error, ErrorCode};
use tokio::sync::watch;
use tokio::time::Instant;

use super::{non_empty, positive};

/// Quorum voting, backend-neutral.
pub trait Quorum {
    /// The open vote returned by [`propose`](Quorum::propose).
    type Proposal: Send;

    /// Opens a vote on `topic` among `voters`; it is accepted once `quorum` of them vote yes,
    /// rejected once so many vote no that the quorum is out of reach, and times out after
    /// `timeout`.
    ///
    /// # Errors
    /// `INVALID_INPUT` naming the field: `topic` empty, `voters` empty or holding an empty or
    /// duplicate name, `quorum` zero or above the number of voters, `timeout` zero.
    fn propose(
        &self,
        topic: &str,
        voters: &[&str],
        quorum: usize,
        timeout: Duration,
    ) -> Result<Self::Proposal, Error>;
}

/// How a vote ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuorumDecision {
    /// At least `quorum` voters said yes.
    Accepted,
    /// Enough voters said no that `quorum` yes votes can no longer be reached.
    Rejected,
    /// Neither happened before the timeout.
    TimedOut,
}

/// The result of a vote: the decision and who voted what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumResult {
    /// The proposal's topic.
    pub topic: String,
    /// How it ended.
    pub decision: QuorumDecision,
    /// Voters who said yes, in voting order.
    pub yes: Vec<String>,
    /// Voters who said no, in voting order.
    pub no: Vec<String>,
}

#[derive(Debug, Clone)]
struct Tally {
    voters: Arc<[String]>,
    quorum: usize,
    yes: Vec<String>,
    no: Vec<String>,
    closed: bool,
}

impl Tally {
    fn decision(&self) -> Option<QuorumDecision> {
        if self.yes.len() >= self.quorum {
            Some(QuorumDecision::Accepted)
        } else if self.no.len() > self.voters.len() - self.quorum {
            Some(QuorumDecision::Rejected)
        } else {
            None
        }
    }
}

/// In-process quorum votes.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalQuorum;

impl LocalQuorum {
    /// A quorum voting service.
    pub fn new() -> LocalQuorum {
        LocalQuorum
    }
}

/// An open vote. Hand [`ballot`](Proposal::ballot)s to the voters, then await
/// [`outcome`](Proposal::outcome).
#[derive(Debug)]
pub struct Proposal {
    topic: String,
    deadline: Instant,
    tally: Arc<watch::Sender<Tally>>,
}

/// What a voter casts its vote with. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Ballot {
    topic: String,
    tally: Arc<watch::Sender<Tally>>,
}

impl Ballot {
    /// Records `voter`'s vote.
    ///
    /// # Errors
    /// `INVALID_INPUT` naming `voter` when it is not one of the voters; `ALREADY_EXISTS` when it
    /// has already voted; `SHUTDOWN` when the vote is over.
    pub fn vote(&self, voter: &str, approve: bool) -> Result<(), Error> {
        let mut refused = None;
        self.tally.send_if_modified(|tally| {
            if tally.closed || tally.decision().is_some() {
                refused = Some(Error::new(ErrorCode::SHUTDOWN, "the vote is over"));
            } else if !tally.voters.iter().any(|v| v == voter) {
                refused = Some(Error::invalid_input("voter", "is not one of the voters"));
            } else if tally.yes.iter().chain(&tally.no).any(|v| v == voter) {
                refused = Some(Error::new(
                    ErrorCode::ALREADY_EXISTS,
                    format!("\"{voter}\" has already voted"),
                ));
            } else if approve {
                tally.yes.push(voter.to_owned());
            } else {
                tally.no.push(voter.to_owned());
            }
            refused.is_none()
        });
        match refused {
            Some(error) => Err(error
                .with_context("topic", &self.topic)
                .with_context("voter", voter)),
            None => Ok(()),
        }
    }
}

impl Proposal {
    /// A ballot for the voters.
    pub fn ballot(&self) -> Ballot {
        Ballot {
            topic: self.topic.clone(),
            tally: self.tally.clone(),
        }
    }

    /// Waits until the vote is decided or times out, then closes it.
    pub async fn outcome(self) -> QuorumResult {
        let mut rx = self.tally.subscribe();
        let _ =
            tokio::time::timeout_at(self.deadline, rx.wait_for(|t| t.decision().is_some())).await;
        self.tally.send_modify(|t| t.closed = true);
        let tally = self.tally.borrow().clone();
        QuorumResult {
            topic: self.topic,
            decision: tally.decision().unwrap_or(QuorumDecision::TimedOut),
            yes: tally.yes,
            no: tally.no,
        }
    }
}

impl Quorum for LocalQuorum {
    type Proposal = Proposal;

    fn propose(
        &self,
        topic: &str,
        voters: &[&str],
        quorum: usize,
        timeout: Duration,
    ) -> Result<Proposal, Error> {
        non_empty("topic", topic)?;
        if voters.is_empty() {
            return Err(Error::invalid_input("voters", "must not be empty"));
        }
        for (i, voter) in voters.iter().enumerate() {
            non_empty("voters", voter)?;
            if voters[..i].contains(voter) {
                return Err(Error::invalid_input(
                    "voters",
                    format!("\"{voter}\" is listed twice"),
                ));
            }
        }
        if quorum == 0 || quorum > voters.len() {
            return Err(Error::invalid_input(
                "quorum",
                format!(
                    "must be between 1 and {} (the number of voters)",
                    voters.len()
                ),
            ));
        }
        positive("timeout", timeout)?;
        let tally = Tally {
            voters: voters.iter().map(|v| (*v).to_owned()).collect(),
            quorum,
            yes: Vec::new(),
            no: Vec::new(),
            closed: false,
        };
        Ok(Proposal {
            topic: topic.to_owned(),
            deadline: Instant::now() + timeout,
            tally: Arc::new(watch::Sender::new(tally)),
        })
    }
}
