//! A barrier for N parties with a timeout; a timeout breaks it for everyone.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use foundation_core::{Error, ErrorCode};
use parking_lot::Mutex;
use tokio::sync::watch;

use super::positive;

/// A barrier for a fixed number of parties, backend-neutral.
pub trait Barrier {
    /// Waits up to `timeout` for all parties to arrive.
    ///
    /// # Errors
    /// `TIMEOUT` for a party whose wait ran out; `UNAVAILABLE` (not retryable) for every party
    /// waiting on, or arriving at, a barrier broken by someone else's timeout.
    fn wait(&self, timeout: Duration) -> impl Future<Output = Result<BarrierWait, Error>> + Send;
}

/// How a successful [`Barrier::wait`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarrierWait {
    /// True for exactly one party per generation: the last to arrive.
    pub is_leader: bool,
    /// Which round of the barrier this was (0, 1, …); the barrier is reusable until broken.
    pub generation: u64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Phase {
    generation: u64,
    broken: bool,
}

struct State {
    arrived: usize,
}

/// An in-process barrier for `parties` parties. Cheap to clone; clones share the barrier.
///
/// When all parties have arrived they are all released and the barrier resets for the next
/// round. When one party's wait times out, the barrier is **broken for good**: that party gets a
/// `TIMEOUT` error, the parties already waiting and every later arrival get an `UNAVAILABLE`
/// error saying the barrier is broken. Build a new barrier to try again. A wait that is
/// cancelled (its future dropped) before the release withdraws that party's arrival.
#[derive(Clone)]
pub struct LocalBarrier {
    parties: usize,
    state: Arc<Mutex<State>>,
    phase: Arc<watch::Sender<Phase>>,
}

impl std::fmt::Debug for LocalBarrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBarrier")
            .field("parties", &self.parties)
            .field("broken", &self.is_broken())
            .finish()
    }
}

fn broken() -> Error {
    Error::new(
        ErrorCode::UNAVAILABLE,
        "barrier is broken: another party timed out",
    )
    .with_retryable(false)
}

impl LocalBarrier {
    /// A barrier for `parties` parties.
    ///
    /// # Errors
    /// Zero parties is an `INVALID_INPUT` error naming `parties`.
    pub fn new(parties: usize) -> Result<LocalBarrier, Error> {
        if parties == 0 {
            return Err(Error::invalid_input("parties", "must be at least 1"));
        }
        Ok(LocalBarrier {
            parties,
            state: Arc::new(Mutex::new(State { arrived: 0 })),
            phase: Arc::new(watch::Sender::new(Phase::default())),
        })
    }

    /// The number of parties.
    pub fn parties(&self) -> usize {
        self.parties
    }

    /// Whether a timeout has broken the barrier.
    pub fn is_broken(&self) -> bool {
        self.phase.borrow().broken
    }

    /// See [`Barrier::wait`].
    ///
    /// # Errors
    /// `TIMEOUT`, `UNAVAILABLE` (broken), or `INVALID_INPUT` naming `timeout` when it is zero.
    pub async fn wait(&self, timeout: Duration) -> Result<BarrierWait, Error> {
        positive("timeout", timeout)?;
        let (generation, mut rx) = {
            let mut state = self.state.lock();
            let phase = *self.phase.borrow();
            if phase.broken {
                return Err(broken());
            }
            state.arrived += 1;
            if state.arrived == self.parties {
                state.arrived = 0;
                self.phase.send_modify(|p| p.generation += 1);
                return Ok(BarrierWait {
                    is_leader: true,
                    generation: phase.generation,
                });
            }
            (phase.generation, self.phase.subscribe())
        };
        let mut arrival = Arrival {
            barrier: self,
            generation,
            settled: false,
        };
        let released = |p: &Phase| p.generation != generation || p.broken;
        let waited = tokio::time::timeout(timeout, rx.wait_for(released)).await;
        let outcome = match waited {
            Ok(Ok(phase)) => Some(*phase),
            _ => None,
        };
        arrival.settled = true;
        match outcome {
            Some(phase) if phase.generation != generation => Ok(BarrierWait {
                is_leader: false,
                generation,
            }),
            Some(_) => Err(broken()),
            None => {
                let _state = self.state.lock();
                let phase = *self.phase.borrow();
                if phase.generation != generation {
                    return Ok(BarrierWait {
                        is_leader: false,
                        generation,
                    });
                }
                self.phase.send_modify(|p| p.broken = true);
                Err(Error::new(
                    ErrorCode::TIMEOUT,
                    format!(
                        "barrier for {} parties not complete within {timeout:?}",
                        self.parties
                    ),
                ))
            }
        }
    }
}

/// A party waiting at the barrier; if its wait is cancelled before the barrier releases or
/// breaks, its arrival is withdrawn so it does not count towards the parties.
struct Arrival<'a> {
    barrier: &'a LocalBarrier,
    generation: u64,
    settled: bool,
}

impl Drop for Arrival<'_> {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let mut state = self.barrier.state.lock();
        let phase = *self.barrier.phase.borrow();
        if phase.generation == self.generation && !phase.broken {
            state.arrived -= 1;
        }
    }
}

impl Barrier for LocalBarrier {
    fn wait(&self, timeout: Duration) -> impl Future<Output = Result<BarrierWait, Error>> + Send {
        LocalBarrier::wait(self, timeout)
    }
}
