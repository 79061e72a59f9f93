//! The one error type of Foundation and its stable codes.
//!
//! A code is a number `CKNN`: `C` the [`Category`] (1 core, 2 protect, 3 store, 4 runtime,
//! 5 config, 6 observe, 7 node), `K` the kind within the category (for protect: 1 breaker,
//! 2 limiter, 3 retry, 4 bulkhead, 5 timeout, 6 pool, 7 memory gate), `NN` the number within
//! the kind. Codes and their names never change once published; new ones are added.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

/// A `Result` whose error is Foundation's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The top level of an [`ErrorCode`]: which layer of Foundation the error comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Shared failures: invalid input or config, the caller's own external errors.
    Core,
    /// The protection layer refused or failed a call.
    Protect,
    /// Durable storage.
    Store,
    /// Agents, supervisors, registry.
    Runtime,
    /// Configuration service.
    Config,
    /// Monitoring, health, alerting.
    Observe,
    /// The node binary and its HTTP API.
    Node,
}

impl Category {
    fn from_digit(d: u16) -> Category {
        match d {
            2 => Category::Protect,
            3 => Category::Store,
            4 => Category::Runtime,
            5 => Category::Config,
            6 => Category::Observe,
            7 => Category::Node,
            _ => Category::Core,
        }
    }
}

/// A stable, hierarchical error code: a number and a dotted name that never change.
///
/// The constants on this type are the registry of every code Foundation emits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode {
    number: u16,
    name: &'static str,
    retryable: bool,
}

impl ErrorCode {
    /// Defines a code. Use the constants; this exists for crates that extend the registry.
    pub const fn new(number: u16, name: &'static str, retryable: bool) -> ErrorCode {
        ErrorCode {
            number,
            name,
            retryable,
        }
    }

    /// The numeric code, e.g. `2101`.
    pub const fn number(&self) -> u16 {
        self.number
    }

    /// The dotted name, e.g. `protect.circuit_open`.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The layer the code belongs to (first digit).
    pub fn category(&self) -> Category {
        Category::from_digit(self.number / 1000)
    }

    /// The kind within the category (second digit), e.g. `1` for the breaker in protect.
    pub const fn kind(&self) -> u16 {
        (self.number / 100) % 10
    }

    /// Whether an error with this code is, by default, worth retrying.
    pub const fn retryable(&self) -> bool {
        self.retryable
    }

    // ---- core (1xxx) ----
    /// A configuration value is invalid; the context names the field.
    pub const INVALID_CONFIG: ErrorCode = ErrorCode::new(1001, "core.invalid_config", false);
    /// A request or argument is invalid; the context names the field.
    pub const INVALID_INPUT: ErrorCode = ErrorCode::new(1002, "core.invalid_input", false);
    /// A named thing does not exist.
    pub const NOT_FOUND: ErrorCode = ErrorCode::new(1003, "core.not_found", false);
    /// A name is already taken.
    pub const ALREADY_EXISTS: ErrorCode = ErrorCode::new(1004, "core.already_exists", false);
    /// A bug or broken invariant inside Foundation.
    pub const INTERNAL: ErrorCode = ErrorCode::new(1005, "core.internal", false);
    /// The component was shut down.
    pub const SHUTDOWN: ErrorCode = ErrorCode::new(1006, "core.shutdown", false);
    /// An external call failed at the network level (connect, reset, DNS).
    pub const NETWORK: ErrorCode = ErrorCode::new(1101, "core.network", true);
    /// An external call timed out on its own (not Foundation's timeout stage).
    pub const EXTERNAL_TIMEOUT: ErrorCode = ErrorCode::new(1102, "core.external_timeout", true);
    /// An external dependency is unavailable (e.g. HTTP 503).
    pub const UNAVAILABLE: ErrorCode = ErrorCode::new(1103, "core.unavailable", true);
    /// An external call failed for an application reason (not worth retrying by default).
    pub const APPLICATION: ErrorCode = ErrorCode::new(1104, "core.application", false);

    // ---- protect (2xxx) ----
    /// The circuit breaker is open and refused the call.
    pub const CIRCUIT_OPEN: ErrorCode = ErrorCode::new(2101, "protect.circuit_open", true);
    /// The breaker is half-open and all probe calls are taken.
    pub const CIRCUIT_HALF_OPEN_FULL: ErrorCode =
        ErrorCode::new(2102, "protect.circuit_half_open_full", true);
    /// The breaker was forced open by an operator.
    pub const CIRCUIT_FORCED_OPEN: ErrorCode =
        ErrorCode::new(2103, "protect.circuit_forced_open", false);
    /// The breaker is recovering and shed this call as part of its ramp.
    pub const CIRCUIT_RAMPING: ErrorCode = ErrorCode::new(2104, "protect.circuit_ramping", true);
    /// The rate limiter denied the call; `retry_after` says when to come back.
    pub const RATE_LIMITED: ErrorCode = ErrorCode::new(2201, "protect.rate_limited", true);
    /// The request can never be admitted (e.g. `n` greater than the burst).
    pub const RATE_LIMIT_EXCEEDS_CAPACITY: ErrorCode =
        ErrorCode::new(2202, "protect.rate_limit_exceeds_capacity", false);
    /// The distributed limiter's backend could not be reached and the policy is fail-closed.
    pub const LIMITER_BACKEND_UNAVAILABLE: ErrorCode =
        ErrorCode::new(2203, "protect.limiter_backend_unavailable", true);
    /// Every retry attempt failed; the source is the last error.
    pub const RETRY_EXHAUSTED: ErrorCode = ErrorCode::new(2301, "protect.retry_exhausted", false);
    /// The retry budget is spent; the call was not retried.
    pub const RETRY_BUDGET_EXHAUSTED: ErrorCode =
        ErrorCode::new(2302, "protect.retry_budget_exhausted", false);
    /// The bulkhead is full and its waiting line too.
    pub const BULKHEAD_FULL: ErrorCode = ErrorCode::new(2401, "protect.bulkhead_full", true);
    /// The call waited in the bulkhead's line longer than its wait timeout.
    pub const BULKHEAD_WAIT_TIMEOUT: ErrorCode =
        ErrorCode::new(2402, "protect.bulkhead_wait_timeout", true);
    /// The call overran its deadline and was cancelled.
    pub const TIMEOUT: ErrorCode = ErrorCode::new(2501, "protect.timeout", true);
    /// No connection could be checked out before the checkout timeout.
    pub const POOL_TIMEOUT: ErrorCode = ErrorCode::new(2601, "protect.pool_timeout", true);
    /// Creating a connection failed; the source is the backend's error.
    pub const POOL_CONNECT_FAILED: ErrorCode =
        ErrorCode::new(2602, "protect.pool_connect_failed", true);
    /// The pool was closed.
    pub const POOL_CLOSED: ErrorCode = ErrorCode::new(2603, "protect.pool_closed", false);
    /// The pool's backend breaker is open; the context carries the last connection error.
    pub const POOL_BACKEND_DOWN: ErrorCode =
        ErrorCode::new(2604, "protect.pool_backend_down", true);
    /// Memory pressure is critical; new work is refused.
    pub const MEMORY_PRESSURE: ErrorCode = ErrorCode::new(2701, "protect.memory_pressure", true);

    // ---- store (3xxx) ----
    /// The database cannot be reached (server down, pool exhausted, connection lost).
    pub const STORE_UNAVAILABLE: ErrorCode = ErrorCode::new(3001, "store.unavailable", true);
    /// A write conflicted with existing data (unique or foreign-key violation).
    pub const STORE_CONFLICT: ErrorCode = ErrorCode::new(3002, "store.conflict", false);
    /// The database is read-only (file permissions, read-only mode or replica).
    pub const STORE_READ_ONLY: ErrorCode = ErrorCode::new(3003, "store.read_only", false);
    /// The disk or the database's quota is full.
    pub const STORE_DISK_FULL: ErrorCode = ErrorCode::new(3004, "store.disk_full", false);
    /// The file is not a database, or the database is corrupt.
    pub const STORE_CORRUPT: ErrorCode = ErrorCode::new(3005, "store.corrupt", false);
    /// The database's schema was written by a newer build; it is left untouched.
    pub const STORE_SCHEMA_TOO_NEW: ErrorCode = ErrorCode::new(3006, "store.schema_too_new", false);
    /// Any other failure reported by the database.
    pub const STORE_FAILED: ErrorCode = ErrorCode::new(3007, "store.failed", false);
    /// A payload is larger than the store's configured limit; nothing was written.
    pub const STORE_PAYLOAD_TOO_LARGE: ErrorCode =
        ErrorCode::new(3008, "store.payload_too_large", false);

    // ---- store; kind 1: task queue ----
    /// The caller no longer holds the task's lease (it expired and the task was handed on, or
    /// the task was cancelled); its heartbeat, completion or failure was not recorded.
    pub const TASK_LEASE_LOST: ErrorCode = ErrorCode::new(3101, "store.task_lease_lost", false);
    /// Another live task already holds the unique key; the context names the existing task.
    pub const TASK_DUPLICATE: ErrorCode = ErrorCode::new(3102, "store.task_duplicate", false);

    // ---- store; kind 2: event store ----
    /// An append's expected stream version did not match; the context holds both versions.
    pub const EVENT_WRONG_EXPECTED_VERSION: ErrorCode =
        ErrorCode::new(3201, "store.event_wrong_expected_version", false);

    // ---- store; kind 3: agent state ----
    /// Another writer saved the key since this one loaded it (optimistic concurrency).
    pub const STATE_VERSION_CONFLICT: ErrorCode =
        ErrorCode::new(3301, "store.state_version_conflict", false);

    // ---- runtime (4xxx); kind 1: agents ----
    /// An agent's mailbox is full and a `cast` was refused.
    pub const AGENT_MAILBOX_FULL: ErrorCode =
        ErrorCode::new(4101, "runtime.agent_mailbox_full", true);
    /// The agent panicked; the context names the agent and the message being handled.
    pub const AGENT_PANICKED: ErrorCode = ErrorCode::new(4102, "runtime.agent_panicked", false);
    /// The agent's start hook failed or panicked; the source is the hook's error.
    pub const AGENT_START_FAILED: ErrorCode =
        ErrorCode::new(4103, "runtime.agent_start_failed", false);
    /// The agent handled a request but dropped its reply without answering.
    pub const AGENT_REPLY_DROPPED: ErrorCode =
        ErrorCode::new(4104, "runtime.agent_reply_dropped", false);

    // ---- runtime; kind 3: supervisors ----
    /// A dynamic supervisor already runs its maximum number of children.
    pub const SUPERVISOR_FULL: ErrorCode = ErrorCode::new(4301, "runtime.supervisor_full", true);
    /// A supervisor exceeded its restart intensity and gave up (escalating to its parent).
    pub const SUPERVISOR_GAVE_UP: ErrorCode =
        ErrorCode::new(4302, "runtime.supervisor_gave_up", false);

    // ---- runtime; kind 4: registry ----
    /// No healthy instance offers the requested capability.
    pub const REGISTRY_NO_INSTANCE: ErrorCode =
        ErrorCode::new(4401, "runtime.registry_no_instance", true);

    // ---- observe; kind 4: memory ----
    /// The process's memory usage or limit could not be read (e.g. `/proc` unreadable); the
    /// message lists what was tried. Retryable: the next sample may succeed.
    pub const MEMORY_READ_FAILED: ErrorCode =
        ErrorCode::new(6401, "observe.memory_read_failed", true);
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name, self.number)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.number)
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name)
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

struct Inner {
    code: ErrorCode,
    message: Cow<'static, str>,
    context: Vec<(Cow<'static, str>, String)>,
    retry_after: Option<Duration>,
    retryable: Option<bool>,
    source: Option<BoxError>,
}

/// Foundation's one error type.
///
/// It is one pointer wide, so `Result<T, Error>` stays small on hot paths.
pub struct Error(Box<Inner>);

impl Error {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Error {
        Error(Box::new(Inner {
            code,
            message: message.into(),
            context: Vec::new(),
            retry_after: None,
            retryable: None,
            source: None,
        }))
    }

    /// An invalid-configuration error naming the field (`section.field`) and the reason.
    pub fn invalid_config(field: impl Into<String>, reason: impl fmt::Display) -> Error {
        let field = field.into();
        Error::new(ErrorCode::INVALID_CONFIG, format!("{field}: {reason}"))
            .with_context("field", field)
    }

    /// An invalid-input error naming the field and the reason.
    pub fn invalid_input(field: impl Into<String>, reason: impl fmt::Display) -> Error {
        let field = field.into();
        Error::new(ErrorCode::INVALID_INPUT, format!("{field}: {reason}"))
            .with_context("field", field)
    }

    /// A not-found error naming what kind of thing was looked up and its name.
    pub fn not_found(what: &'static str, name: impl fmt::Display) -> Error {
        Error::new(ErrorCode::NOT_FOUND, format!("no {what} named \"{name}\""))
            .with_context(what, name.to_string())
    }

    /// Adds a key/value to the context. Later values for the same key are kept too.
    pub fn with_context(
        mut self,
        key: impl Into<Cow<'static, str>>,
        value: impl fmt::Display,
    ) -> Error {
        self.0.context.push((key.into(), value.to_string()));
        self
    }

    /// Says when the caller may try again.
    pub fn with_retry_after(mut self, after: Duration) -> Error {
        self.0.retry_after = Some(after);
        self
    }

    /// Attaches the underlying error.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Error {
        self.0.source = Some(source.into());
        self
    }

    /// Overrides the code's default retryability for this one error.
    pub fn with_retryable(mut self, retryable: bool) -> Error {
        self.0.retryable = Some(retryable);
        self
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.0.code
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The context entries in the order they were added.
    pub fn context(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.context.iter().map(|(k, v)| (k.as_ref(), v.as_str()))
    }

    /// The first context value stored under `key`.
    pub fn context_value(&self, key: &str) -> Option<&str> {
        self.context().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// Every context value stored under `key`, in the order they were added (a validation
    /// error has one `field` per bad field).
    pub fn context_values<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.context()
            .filter(move |(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    /// When the caller may try again, if the refusing component knows.
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }

    /// Whether retrying may succeed: the per-error override, else the code's default.
    pub fn is_retryable(&self) -> bool {
        self.0.retryable.unwrap_or(self.0.code.retryable)
    }

    /// Whether this error has the given code.
    pub fn is(&self, code: ErrorCode) -> bool {
        self.0.code == code
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("code", &self.0.code)
            .field("message", &self.0.message);
        if !self.0.context.is_empty() {
            d.field("context", &self.0.context);
        }
        if let Some(r) = self.0.retry_after {
            d.field("retry_after", &r);
        }
        if let Some(s) = &self.0.source {
            d.field("source", s);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.0.code.name, self.0.message)?;
        for (i, (k, v)) in self.0.context.iter().enumerate() {
            f.write_str(if i == 0 { " (" } else { ", " })?;
            write!(f, "{k}={v}")?;
            if i + 1 == self.0.context.len() {
                f.write_str(")")?;
            }
        }
        if let Some(r) = self.0.retry_after {
            write!(f, "; retry after {r:?}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        use std::io::ErrorKind::*;
        let code = match e.kind() {
            TimedOut => ErrorCode::EXTERNAL_TIMEOUT,
            ConnectionRefused | ConnectionReset | ConnectionAborted | NotConnected | BrokenPipe
            | AddrNotAvailable | HostUnreachable | NetworkUnreachable | NetworkDown => {
                ErrorCode::NETWORK
            }
            NotFound => ErrorCode::NOT_FOUND,
            InvalidInput | InvalidData => ErrorCode::INVALID_INPUT,
            _ => ErrorCode::APPLICATION,
        };
        Error::new(code, e.to_string()).with_source(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_hierarchy_is_derived_from_the_number() {
        let c = ErrorCode::CIRCUIT_OPEN;
        assert_eq!(c.number(), 2101);
        assert_eq!(c.category(), Category::Protect);
        assert_eq!(c.kind(), 1);
        assert_eq!(ErrorCode::INVALID_CONFIG.category(), Category::Core);
        assert_eq!(ErrorCode::POOL_TIMEOUT.kind(), 6);
    }

    #[test]
    fn display_carries_code_context_and_retry_after() {
        let e = Error::new(ErrorCode::BULKHEAD_FULL, "10 in flight, 5 waiting")
            .with_context("bulkhead", "db")
            .with_retry_after(Duration::from_secs(1));
        assert_eq!(
            e.to_string(),
            "[protect.bulkhead_full] 10 in flight, 5 waiting (bulkhead=db); retry after 1s"
        );
        assert_eq!(e.context_value("bulkhead"), Some("db"));
    }

    #[test]
    fn retryability_defaults_to_the_code_and_can_be_overridden() {
        assert!(Error::new(ErrorCode::NETWORK, "reset").is_retryable());
        assert!(!Error::new(ErrorCode::APPLICATION, "bad").is_retryable());
        assert!(
            Error::new(ErrorCode::APPLICATION, "bad")
                .with_retryable(true)
                .is_retryable()
        );
    }

    #[test]
    fn io_errors_are_translated_by_kind() {
        let e: Error = std::io::Error::from(std::io::ErrorKind::ConnectionRefused).into();
        assert!(e.is(ErrorCode::NETWORK));
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn error_is_one_pointer_wide() {
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
    }
}
