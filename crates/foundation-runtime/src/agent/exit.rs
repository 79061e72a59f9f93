//! Why an agent stopped: [`StopReason`] (asked for) and [`ExitReason`] (what happened).

use std::borrow::Cow;
use std::fmt;

/// Why a stop was requested; passed to [`Agent::on_stop`](super::Agent::on_stop).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// The agent's work is done.
    Normal,
    /// Its owner (a supervisor, the node) is shutting down.
    Shutdown,
    /// Any other reason, in words.
    Other(Cow<'static, str>),
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Normal => f.write_str("normal"),
            StopReason::Shutdown => f.write_str("shutdown"),
            StopReason::Other(why) => f.write_str(why),
        }
    }
}

/// How an agent's run ended, as returned by [`AgentRef::wait`](super::AgentRef::wait).
///
/// A start failure is returned by [`spawn`](super::spawn) as an error; it is also recorded
/// here as [`ExitReason::StartFailed`] for references handed out by `on_start`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitReason {
    /// It stopped gracefully: the current message finished and `on_stop` ran.
    Stopped(StopReason),
    /// A handler (or `after_message`) panicked. `on_stop` did not run.
    Panicked {
        /// The panic payload, if it was a string.
        message: String,
        /// [`Agent::describe`](super::Agent::describe) of the message being handled.
        during: String,
    },
    /// A stop overran the agent's stop deadline and the agent was aborted.
    Aborted(StopReason),
    /// `on_start` failed or panicked; the text is the error. `on_stop` did not run.
    StartFailed(String),
    /// Its [`AgentHandle`](super::AgentHandle) was dropped and the task cancelled.
    Cancelled,
    /// A supervisor exceeded its restart intensity: it stopped its children and gave up,
    /// so that its own parent applies its strategy. The text says which child failed how.
    Escalated(String),
}

impl ExitReason {
    /// Whether the agent ended the way it was asked to (a graceful stop with
    /// [`StopReason::Normal`] or [`StopReason::Shutdown`]); a supervisor restarts transient
    /// children only when this is false.
    pub fn is_normal(&self) -> bool {
        matches!(
            self,
            ExitReason::Stopped(StopReason::Normal | StopReason::Shutdown)
        )
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::Stopped(r) => write!(f, "stopped ({r})"),
            ExitReason::Panicked { message, during } => {
                write!(f, "panicked: {message} (while handling {during})")
            }
            ExitReason::Aborted(r) => write!(f, "aborted: overran the stop deadline ({r})"),
            ExitReason::StartFailed(e) => write!(f, "failed to start: {e}"),
            ExitReason::Cancelled => f.write_str("cancelled: its handle was dropped"),
            ExitReason::Escalated(why) => write!(f, "escalated: {why}"),
        }
    }
}
