//! How a call ended, and who decides.
//!
//! Every finished call is classified into an [`Outcome`] by a [`Classifier`]. The breaker
//! counts outcomes per class (each class may have its own threshold), and retry asks the
//! classifier whether an error is worth another attempt. [`DefaultClassifier`] reads the
//! error's [`ErrorCode`]; replace it to teach Foundation about your errors.
//!
//! ```
//! use foundation_core::{Error, ErrorCode};
//! use foundation_protect::outcome::{Classifier, DefaultClassifier, Outcome};
//!
//! let c = DefaultClassifier;
//! assert_eq!(c.classify(&Error::new(ErrorCode::NETWORK, "reset")), Outcome::Network);
//! assert_eq!(c.classify(&Error::new(ErrorCode::TIMEOUT, "2s")), Outcome::Timeout);
//! assert!(c.is_retryable(&Error::new(ErrorCode::NETWORK, "reset")));
//! ```

use std::sync::Arc;

use foundation_core::{Error, ErrorCode};

/// The class of a finished call.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The call succeeded.
    Success,
    /// The call failed at the network level (connect, reset, DNS, unavailable).
    Network,
    /// The call timed out.
    Timeout,
    /// The call failed for an application reason.
    Application,
    /// The call's result says nothing about the dependency's health; not counted.
    Ignored,
}

impl Outcome {
    /// Every class, in a fixed order (useful for per-class arrays).
    pub const ALL: [Outcome; 5] = [
        Outcome::Success,
        Outcome::Network,
        Outcome::Timeout,
        Outcome::Application,
        Outcome::Ignored,
    ];

    /// Whether this outcome counts as a failure of the dependency.
    pub const fn is_failure(self) -> bool {
        matches!(
            self,
            Outcome::Network | Outcome::Timeout | Outcome::Application
        )
    }

    /// A dense index in `0..5`, the position in [`Outcome::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The lower-case name (`"network"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Network => "network",
            Outcome::Timeout => "timeout",
            Outcome::Application => "application",
            Outcome::Ignored => "ignored",
        }
    }
}

/// Decides the [`Outcome`] of an error and whether it is worth retrying.
pub trait Classifier: Send + Sync + 'static {
    /// The class of a failed call.
    fn classify(&self, error: &Error) -> Outcome;

    /// Whether another attempt may succeed. Defaults to [`Error::is_retryable`].
    fn is_retryable(&self, error: &Error) -> bool {
        error.is_retryable()
    }
}

/// Classifies by the error's code: network-ish codes are [`Outcome::Network`], timeouts
/// [`Outcome::Timeout`], invalid input and Foundation's own refusals (breaker open, rate
/// limited, bulkhead full) are [`Outcome::Ignored`], everything else [`Outcome::Application`].
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultClassifier;

impl Classifier for DefaultClassifier {
    fn classify(&self, error: &Error) -> Outcome {
        let code = error.code();
        match code {
            ErrorCode::NETWORK | ErrorCode::UNAVAILABLE | ErrorCode::POOL_CONNECT_FAILED => {
                Outcome::Network
            }
            ErrorCode::TIMEOUT | ErrorCode::EXTERNAL_TIMEOUT | ErrorCode::POOL_TIMEOUT => {
                Outcome::Timeout
            }
            ErrorCode::INVALID_INPUT | ErrorCode::NOT_FOUND => Outcome::Ignored,
            _ if code.category() == foundation_core::Category::Protect => Outcome::Ignored,
            _ => Outcome::Application,
        }
    }
}

/// A shared, replaceable classifier.
pub type SharedClassifier = Arc<dyn Classifier>;

/// A classifier built from a closure; retryability stays [`Error::is_retryable`].
pub struct FnClassifier<F>(pub F);

impl<F> Classifier for FnClassifier<F>
where
    F: Fn(&Error) -> Outcome + Send + Sync + 'static,
{
    fn classify(&self, error: &Error) -> Outcome {
        (self.0)(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foundation_refusals_are_ignored_not_failures() {
        let c = DefaultClassifier;
        for code in [
            ErrorCode::CIRCUIT_OPEN,
            ErrorCode::RATE_LIMITED,
            ErrorCode::BULKHEAD_FULL,
        ] {
            assert_eq!(c.classify(&Error::new(code, "x")), Outcome::Ignored);
        }
        assert_eq!(
            c.classify(&Error::new(ErrorCode::APPLICATION, "x")),
            Outcome::Application
        );
        assert!(!Outcome::Ignored.is_failure());
        assert!(Outcome::Timeout.is_failure());
    }

    #[test]
    fn closures_classify() {
        let c = FnClassifier(|e: &Error| {
            if e.message().contains("429") {
                Outcome::Ignored
            } else {
                Outcome::Application
            }
        });
        assert_eq!(
            c.classify(&Error::new(ErrorCode::APPLICATION, "HTTP 429")),
            Outcome::Ignored
        );
    }
}
