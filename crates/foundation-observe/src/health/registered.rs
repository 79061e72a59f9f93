//! One registered check: its options, its cached result, the run in flight that concurrent
//! callers share, and its bounded history.

use std::any::Any;
use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use parking_lot::Mutex;
use tokio::task::JoinHandle;

use super::check::{DynCheck, Observation};
use super::options::{CheckOptions, Depth, Group};
use super::record::{CheckRecord, Timebase};
use super::status::HealthStatus;

/// A run in flight: its number and the future every waiting caller polls.
type Run = (u64, Shared<BoxFuture<'static, CheckRecord>>);

/// A registered check.
pub(crate) struct Registered {
    /// `component:measurement`.
    pub(crate) key: String,
    pub(crate) component_type: String,
    pub(crate) options: CheckOptions,
    /// The effective timeout and TTL (the check's own, else the config's).
    timeout: Duration,
    ttl: Duration,
    history_len: usize,
    check: Arc<dyn DynCheck>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    inflight: Option<Run>,
    next_run: u64,
    /// Newest last; `history.back()` is the cached result.
    history: VecDeque<CheckRecord>,
}

/// What [`Registered::current`] found.
pub(crate) struct Current {
    pub(crate) record: CheckRecord,
    /// When this call recorded a new result whose status differs from the previous one:
    /// the previous status (`None` for a check's first result).
    pub(crate) changed_from: Option<Option<HealthStatus>>,
}

impl Registered {
    pub(crate) fn new(
        check: Arc<dyn DynCheck>,
        options: CheckOptions,
        timeout: Duration,
        ttl: Duration,
        history_len: usize,
    ) -> Registered {
        Registered {
            key: format!("{}:{}", check.component(), check.measurement()),
            component_type: check.component_type().to_string(),
            options,
            timeout,
            ttl,
            history_len,
            check,
            state: Mutex::new(State::default()),
        }
    }

    /// Whether a report of `group` (every check when `None`) with or without deep checks
    /// includes this check.
    pub(crate) fn selected(&self, group: Option<Group>, deep: bool) -> bool {
        (deep || self.options.depth == Depth::Quick)
            && group.is_none_or(|g| self.options.in_group(g))
    }

    /// The cached result while it is younger than the TTL; otherwise the result of a run,
    /// shared with every caller that asks while it is in flight.
    pub(crate) async fn current(&self, time: &Timebase) -> Current {
        let (id, run) = {
            let mut state = self.state.lock();
            if let Some(last) = state.history.back() {
                if time.clock.now().saturating_duration_since(last.at) < self.ttl {
                    return Current {
                        record: last.clone(),
                        changed_from: None,
                    };
                }
            }
            match &state.inflight {
                Some(run) => run.clone(),
                None => {
                    let id = state.next_run;
                    state.next_run += 1;
                    let run = (id, self.start(time.clone()).shared());
                    state.inflight = Some(run.clone());
                    run
                }
            }
        };
        let record = run.await;
        let changed_from = self.finish(id, &record);
        Current {
            record,
            changed_from,
        }
    }

    /// The kept results, oldest first.
    pub(crate) fn history(&self) -> Vec<CheckRecord> {
        self.state.lock().history.iter().cloned().collect()
    }

    /// One run under the timeout, with panics caught, in a task of its own so that it
    /// progresses (and its timeout counts) even while no caller waits on it: a prober that
    /// gives up early must not leave a half-run check for the next one to time out. The run
    /// is aborted if every caller and the in-flight slot drop it (the check was removed).
    fn start(&self, time: Timebase) -> BoxFuture<'static, CheckRecord> {
        let run = self.check.clone().run();
        let timeout = self.timeout;
        let task_time = time.clone();
        // Wrapped before the future below exists, so dropping it even unpolled aborts the run.
        let mut task = AbortOnDrop(tokio::spawn(async move {
            let started = task_time.clock.now();
            let outcome = tokio::time::timeout(timeout, AssertUnwindSafe(run).catch_unwind()).await;
            let observation = match outcome {
                Ok(Ok(observation)) => observation,
                Ok(Err(panic)) => {
                    Observation::fail(format!("check panicked: {}", panic_message(&*panic)))
                }
                Err(_) => {
                    Observation::fail(format!("check timed out after {} ms", timeout.as_millis()))
                }
            };
            task_time.record(observation, started)
        }));
        Box::pin(async move {
            let started = time.clock.now();
            match (&mut task.0).await {
                Ok(record) => record,
                // Only an abort ends the task early, and only dropping this future aborts it.
                Err(err) => time.record(
                    Observation::fail(format!("check run did not finish: {err}")),
                    started,
                ),
            }
        })
    }

    /// Records run `id`'s result once (the first of its callers to finish does), keeping at
    /// most `history_len` results. Returns the previous status when the status changed.
    fn finish(&self, id: u64, record: &CheckRecord) -> Option<Option<HealthStatus>> {
        let mut state = self.state.lock();
        if state
            .inflight
            .as_ref()
            .is_none_or(|(current, _)| *current != id)
        {
            return None;
        }
        state.inflight = None;
        let previous = state.history.back().map(CheckRecord::status);
        while state.history.len() >= self.history_len {
            state.history.pop_front();
        }
        state.history.push_back(record.clone());
        (previous != Some(record.status())).then_some(previous)
    }
}

/// Aborts the task when dropped.
struct AbortOnDrop(JoinHandle<CheckRecord>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The text of a panic's payload (`panic!` with a string or a format).
fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-string payload")
}
