//! Sequential operations with compensation on failure (a saga). Not atomic.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use foundation_core::{Error, ErrorCode};
use futures::FutureExt;
use futures::future::BoxFuture;

use super::non_empty;

type Action = Box<dyn FnOnce() -> BoxFuture<'static, Result<(), Error>> + Send>;

struct Step {
    name: String,
    action: Action,
    compensate: Action,
}

/// Runs steps in order; when one fails, runs the compensations of the steps that completed, in
/// reverse order.
///
/// This is not atomic: between steps, and while compensating, other observers can see partial
/// effects, and a compensation can itself fail (reported in [`SequenceFailure`]).
///
/// ```
/// use foundation_runtime::coordination::Sequence;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), foundation_core::Error> {
/// let failure = Sequence::new("order")?
///     .step("reserve", || async { Ok(()) }, || async { Ok(()) })?
///     .step("charge", || async { Err(foundation_core::Error::new(
///         foundation_core::ErrorCode::APPLICATION, "card declined")) }, || async { Ok(()) })?
///     .run()
///     .await
///     .unwrap_err();
/// assert_eq!(failure.failed_step, "charge");
/// assert_eq!(failure.compensated, vec!["reserve".to_owned()]);
/// # Ok(())
/// # }
/// ```
pub struct Sequence {
    name: String,
    steps: Vec<Step>,
}

impl fmt::Debug for Sequence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sequence")
            .field("name", &self.name)
            .field(
                "steps",
                &self
                    .steps
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Why a [`Sequence`] failed and what its compensation did.
#[derive(Debug)]
pub struct SequenceFailure {
    /// The sequence's name.
    pub sequence: String,
    /// The step that failed.
    pub failed_step: String,
    /// Its error (`APPLICATION` when it panicked).
    pub error: Error,
    /// Steps whose compensation succeeded, in the order they ran (reverse of the steps).
    pub compensated: Vec<String>,
    /// Steps whose compensation failed, with the error, in the order they ran.
    pub compensation_failures: Vec<(String, Error)>,
}

impl SequenceFailure {
    /// Whether every completed step was compensated successfully.
    pub fn fully_compensated(&self) -> bool {
        self.compensation_failures.is_empty()
    }
}

impl fmt::Display for SequenceFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sequence \"{}\" failed at step \"{}\": {}; {} compensated, {} compensation(s) failed",
            self.sequence,
            self.failed_step,
            self.error,
            self.compensated.len(),
            self.compensation_failures.len()
        )
    }
}

impl std::error::Error for SequenceFailure {}

fn boxed<F, Fut>(f: F) -> Action
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), Error>> + Send + 'static,
{
    Box::new(move || {
        async move {
            match AssertUnwindSafe(f()).catch_unwind().await {
                Ok(result) => result,
                Err(panic) => Err(Error::new(
                    ErrorCode::APPLICATION,
                    format!("panicked: {}", crate::panic::message(panic.as_ref())),
                )),
            }
        }
        .boxed()
    })
}

impl Sequence {
    /// An empty sequence named `name`.
    ///
    /// # Errors
    /// An empty name is an `INVALID_INPUT` error naming `name`.
    pub fn new(name: &str) -> Result<Sequence, Error> {
        non_empty("name", name)?;
        Ok(Sequence {
            name: name.to_owned(),
            steps: Vec::new(),
        })
    }

    /// Adds a step: `action`, undone by `compensate` if a later step fails.
    ///
    /// # Errors
    /// `INVALID_INPUT` naming `step` for an empty name; `ALREADY_EXISTS` for a duplicate one.
    pub fn step<A, AF, C, CF>(
        mut self,
        name: &str,
        action: A,
        compensate: C,
    ) -> Result<Sequence, Error>
    where
        A: FnOnce() -> AF + Send + 'static,
        AF: Future<Output = Result<(), Error>> + Send + 'static,
        C: FnOnce() -> CF + Send + 'static,
        CF: Future<Output = Result<(), Error>> + Send + 'static,
    {
        non_empty("step", name)?;
        if self.steps.iter().any(|s| s.name == name) {
            return Err(Error::new(
                ErrorCode::ALREADY_EXISTS,
                format!("sequence \"{}\" already has a step \"{name}\"", self.name),
            )
            .with_context("step", name));
        }
        self.steps.push(Step {
            name: name.to_owned(),
            action: boxed(action),
            compensate: boxed(compensate),
        });
        Ok(self)
    }

    /// Runs the steps in order. A step that errors or panics stops the sequence; the
    /// compensations of the completed steps then run in reverse order, all of them even when
    /// one fails.
    ///
    /// # Errors
    /// A [`SequenceFailure`] naming the failed step and what compensation did.
    pub async fn run(self) -> Result<(), SequenceFailure> {
        let mut done: Vec<(String, Action)> = Vec::with_capacity(self.steps.len());
        for step in self.steps {
            match (step.action)().await {
                Ok(()) => done.push((step.name, step.compensate)),
                Err(error) => {
                    let mut failure = SequenceFailure {
                        sequence: self.name,
                        failed_step: step.name,
                        error,
                        compensated: Vec::new(),
                        compensation_failures: Vec::new(),
                    };
                    for (name, compensate) in done.into_iter().rev() {
                        match compensate().await {
                            Ok(()) => failure.compensated.push(name),
                            Err(e) => failure.compensation_failures.push((name, e)),
                        }
                    }
                    tracing::warn!(%failure, "sequence failed");
                    return Err(failure);
                }
            }
        }
        Ok(())
    }
}
