//! W3C trace context: the `traceparent` and `tracestate` headers, and the current context
//! carried through async code.
//!
//! A [`TraceContext`] is one position in a distributed trace: the trace's id, the id of the
//! span that is running (the *parent* of whatever it calls), the trace flags and the vendors'
//! [`TraceState`]. It is parsed from and formatted as the W3C Trace Context headers, so it
//! crosses process boundaries in HTTP headers and in stored task payloads.
//!
//! Within a process, the context in force is a tokio task-local: [`TraceContext::scope`] runs
//! a future with a context, [`TraceContext::current`] reads it anywhere below, so no function
//! has to pass it by hand. The protection facade, the HTTP client manager and the task queue
//! read it; each protected call runs in a [`child`](TraceContext::child) of it.
//!
//! A span exporter (the OTLP export of `foundation-observe`) installs a [`SpanBinder`], so
//! the context of each `foundation.*` span *is* its exported span's: same trace id, same span
//! id, parented on the context it continues ([`TraceContext::for_span`]).
//!
//! ```
//! use foundation_core::trace::TraceContext;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> foundation_core::Result<()> {
//! let incoming = TraceContext::from_headers(
//!     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
//!     Some("congo=t61rcWkgMzE"),
//! )?;
//! assert!(incoming.is_sampled());
//!
//! let seen = incoming
//!     .child()
//!     .scope(async { TraceContext::current() })
//!     .await
//!     .expect("a context is in scope");
//! assert_eq!(seen.trace_id(), incoming.trace_id());
//! assert_ne!(seen.span_id(), incoming.span_id());
//! assert_eq!(seen.tracestate().unwrap().get("congo"), Some("t61rcWkgMzE"));
//! assert!(TraceContext::current().is_none());
//! # Ok(()) }
//! ```

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::task::futures::TaskLocalFuture;

use crate::{Error, Result};

tokio::task_local! {
    static CURRENT: TraceContext;
}

/// Set once any context is put in scope: until then no context can be current, and reading
/// the current one is a single load instead of a task-local lookup (the untraced hot path).
static EVER_SCOPED: AtomicBool = AtomicBool::new(false);

/// Gives a new `tracing` span its trace context from a span exporter: makes the exported
/// span a child of `parent` (when given) and answers with the exported span's own context, or
/// `None` when the span is not exported (disabled, or not seen by the exporter's layer).
pub type SpanBinder =
    fn(span: &tracing::Span, parent: Option<&TraceContext>) -> Option<TraceContext>;

static BINDER: OnceLock<SpanBinder> = OnceLock::new();

/// Installs the process's [`SpanBinder`]. The first one installed stays; `false` when one was
/// already there.
pub fn set_span_binder(binder: SpanBinder) -> bool {
    BINDER.set(binder).is_ok()
}

/// The longest `traceparent` of version `00`, and the shortest of any version.
const TRACEPARENT_LEN: usize = 55;
/// The most list-members a `tracestate` keeps.
pub const MAX_TRACESTATE_MEMBERS: usize = 32;

/// A trace's id: 16 bytes, never all zero. Displays as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId([u8; 16]);

/// A span's id: 8 bytes, never all zero. Displays as 16 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId([u8; 8]);

macro_rules! hex_id {
    ($name:ident, $len:literal, $what:literal) => {
        impl $name {
            /// The id from its bytes; `None` if they are all zero (the invalid id).
            pub fn from_bytes(bytes: [u8; $len]) -> Option<$name> {
                (bytes != [0; $len]).then_some($name(bytes))
            }

            /// A random id (never all zero).
            pub fn random() -> $name {
                loop {
                    if let Some(id) = $name::from_bytes(rand::random()) {
                        return id;
                    }
                }
            }

            /// The id's bytes.
            pub fn to_bytes(self) -> [u8; $len] {
                self.0
            }

            /// Parses exactly
            #[doc = concat!(stringify!($len), " bytes")]
            /// as lowercase hex; `INVALID_INPUT` naming `field` for a wrong length, a character
            /// that is not lowercase hex, or the all-zero id.
            pub fn from_hex(field: &str, hex: &str) -> Result<$name> {
                let mut bytes = [0u8; $len];
                decode_hex(field, hex, &mut bytes)?;
                $name::from_bytes(bytes).ok_or_else(|| {
                    Error::invalid_input(field, concat!("the all-zero ", $what, " is invalid"))
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                for b in self.0 {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self)
            }
        }
    };
}

hex_id!(TraceId, 16, "trace id");
hex_id!(SpanId, 8, "span id");

/// Decodes lowercase hex into `out`, which must be exactly half as long as `hex`.
fn decode_hex(field: &str, hex: &str, out: &mut [u8]) -> Result<()> {
    if hex.len() != out.len() * 2 {
        return Err(Error::invalid_input(
            field,
            format_args!(
                "must be {} lowercase hex digits, got {} characters",
                out.len() * 2,
                hex.len()
            ),
        ));
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        _ => Err(Error::invalid_input(
            field,
            format_args!("{:?} is not a lowercase hex digit", char::from(c)),
        )),
    };
    for (byte, pair) in out.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        *byte = (digit(pair[0])? << 4) | digit(pair[1])?;
    }
    Ok(())
}

/// The trace flags of a `traceparent`: 8 bits, of which W3C defines only `sampled` (bit 0).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TraceFlags(u8);

impl TraceFlags {
    /// The caller may have recorded its span, so this trace is worth recording.
    pub const SAMPLED: TraceFlags = TraceFlags(0x01);

    /// Flags from their byte.
    pub const fn new(bits: u8) -> TraceFlags {
        TraceFlags(bits)
    }

    /// The flags' byte.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether the sampled bit is set.
    pub const fn is_sampled(self) -> bool {
        self.0 & TraceFlags::SAMPLED.0 != 0
    }
}

impl fmt::Debug for TraceFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceFlags({:02x})", self.0)
    }
}

/// The vendors' `tracestate`: at most [`MAX_TRACESTATE_MEMBERS`] `key=value` list-members,
/// most recently updated first. Cheap to clone (shared).
///
/// Parsing is lenient as the W3C spec asks: a list-member that is malformed (bad key or
/// value), repeats an earlier key, or comes after the 32nd is dropped, and the rest are kept.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct TraceState {
    members: Arc<[(Box<str>, Box<str>)]>,
}

impl TraceState {
    /// Parses a `tracestate` header value, dropping what is invalid (see the type's docs).
    pub fn parse(header: &str) -> TraceState {
        let mut members: Vec<(Box<str>, Box<str>)> = Vec::new();
        for member in header.split(',') {
            if members.len() == MAX_TRACESTATE_MEMBERS {
                break;
            }
            let member = member.trim_matches([' ', '\t']);
            let Some((key, value)) = member.split_once('=') else {
                continue;
            };
            if valid_key(key) && valid_value(value) && !members.iter().any(|(k, _)| &**k == key) {
                members.push((key.into(), value.into()));
            }
        }
        TraceState {
            members: members.into(),
        }
    }

    /// The value stored under `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| &**v)
    }

    /// This state with `key` set to `value`, moved to the front (as a vendor updating its
    /// entry must); the oldest entry is dropped past 32. `INVALID_INPUT` names
    /// `tracestate.key` or `tracestate.value` when either breaks the W3C grammar.
    pub fn insert(&self, key: &str, value: &str) -> Result<TraceState> {
        if !valid_key(key) {
            return Err(Error::invalid_input(
                "tracestate.key",
                format_args!(
                    "{key:?} is not a W3C tracestate key (lowercase letter first, then up to \
                     255 of a-z 0-9 _ - * /, or tenant@system)"
                ),
            ));
        }
        if !valid_value(value) {
            return Err(Error::invalid_input(
                "tracestate.value",
                format_args!(
                    "{value:?} is not a W3C tracestate value (1 to 256 printable ASCII \
                     characters other than ',' and '=', not ending in a space)"
                ),
            ));
        }
        let members = std::iter::once((key.into(), value.into()))
            .chain(self.members.iter().filter(|(k, _)| &**k != key).cloned())
            .take(MAX_TRACESTATE_MEMBERS)
            .collect();
        Ok(TraceState { members })
    }

    /// This state without `key`.
    pub fn remove(&self, key: &str) -> TraceState {
        TraceState {
            members: self
                .members
                .iter()
                .filter(|(k, _)| &**k != key)
                .cloned()
                .collect(),
        }
    }

    /// The list-members, most recent first.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.members.iter().map(|(k, v)| (&**k, &**v))
    }

    /// How many list-members it has.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether it has no list-member (then no `tracestate` header is sent).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

impl fmt::Display for TraceState {
    /// The header value: `key=value` list-members joined by `,`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.members.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{k}={v}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for TraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceState({self})")
    }
}

/// `simple-key` or `tenant-id@system-id` of the W3C grammar.
fn valid_key(key: &str) -> bool {
    let rest = |s: &[u8], max: usize| {
        s.len() <= max
            && s.iter().all(|c| {
                c.is_ascii_lowercase()
                    || c.is_ascii_digit()
                    || matches!(c, b'_' | b'-' | b'*' | b'/')
            })
    };
    match key.split_once('@') {
        None => match key.as_bytes() {
            [first, tail @ ..] => first.is_ascii_lowercase() && rest(tail, 255),
            [] => false,
        },
        Some((tenant, system)) => {
            let tenant_ok = match tenant.as_bytes() {
                [first, tail @ ..] => {
                    (first.is_ascii_lowercase() || first.is_ascii_digit()) && rest(tail, 240)
                }
                [] => false,
            };
            let system_ok = match system.as_bytes() {
                [first, tail @ ..] => first.is_ascii_lowercase() && rest(tail, 13),
                [] => false,
            };
            tenant_ok && system_ok
        }
    }
}

/// 1 to 256 of `%x20-2B / %x2D-3C / %x3E-7E`, the last not a space.
fn valid_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 256
        && bytes.last() != Some(&b' ')
        && bytes
            .iter()
            .all(|&c| (0x20..=0x7e).contains(&c) && c != b',' && c != b'=')
}

/// A position in a distributed trace (see the [module docs](self)). Cheap to clone: the ids
/// are inline and the trace state is shared.
#[derive(Clone, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: TraceId,
    span_id: SpanId,
    flags: TraceFlags,
    state: Option<TraceState>,
}

impl TraceContext {
    /// A context from its parts, without trace state.
    pub fn new(trace_id: TraceId, span_id: SpanId, flags: TraceFlags) -> TraceContext {
        TraceContext {
            trace_id,
            span_id,
            flags,
            state: None,
        }
    }

    /// The start of a new trace: random trace and span ids, sampled.
    pub fn new_root() -> TraceContext {
        TraceContext::new(TraceId::random(), SpanId::random(), TraceFlags::SAMPLED)
    }

    /// A span called from this one: the same trace id, flags and state, a new span id.
    pub fn child(&self) -> TraceContext {
        TraceContext {
            span_id: SpanId::random(),
            ..self.clone()
        }
    }

    /// The trace context of a new `tracing` span that continues `parent`: with a
    /// [`SpanBinder`] installed and the span exported, the exported span's own context
    /// (parented on `parent`); otherwise a [`child`](Self::child) of `parent`, or `None`
    /// without one. The parent's trace state carries over. Costs one atomic load when there
    /// is neither a parent nor a binder.
    pub fn for_span(span: &tracing::Span, parent: Option<&TraceContext>) -> Option<TraceContext> {
        let bound = match BINDER.get() {
            Some(bind) if !span.is_disabled() => bind(span, parent),
            _ => None,
        };
        match (bound, parent) {
            (Some(bound), Some(parent)) => Some(TraceContext {
                state: parent.state.clone(),
                ..bound
            }),
            (Some(bound), None) => Some(bound),
            (None, parent) => parent.map(TraceContext::child),
        }
    }

    /// Parses a `traceparent` header value. `INVALID_INPUT` naming `traceparent` (or its
    /// part: `traceparent.version`, `.trace_id`, `.parent_id`, `.flags`) when it breaks the
    /// W3C rules: wrong length, a character that is not lowercase hex, version `ff`, or an
    /// all-zero id. A version above `00` is read as the spec asks of a newer version: its
    /// first four fields, only the sampled flag, and anything after a further `-` ignored.
    pub fn parse_traceparent(header: &str) -> Result<TraceContext> {
        let header = header.trim_matches([' ', '\t']);
        let version = header.get(..2).unwrap_or(header);
        let mut v = [0u8; 1];
        decode_hex("traceparent.version", version, &mut v)?;
        if v[0] == 0xff {
            return Err(Error::invalid_input(
                "traceparent.version",
                "version ff is forbidden",
            ));
        }
        let wrong_length = || {
            Error::invalid_input(
                "traceparent",
                format_args!(
                    "version {version} must be {TRACEPARENT_LEN} characters{}, got {}",
                    if v[0] == 0 { "" } else { " or more" },
                    header.len()
                ),
            )
        };
        if header.len() < TRACEPARENT_LEN
            || (v[0] == 0 && header.len() != TRACEPARENT_LEN)
            || (header.len() > TRACEPARENT_LEN && header.as_bytes()[TRACEPARENT_LEN] != b'-')
        {
            return Err(wrong_length());
        }
        if !header.as_bytes()[..TRACEPARENT_LEN].is_ascii() {
            return Err(Error::invalid_input(
                "traceparent",
                "must be lowercase hex digits and '-' only",
            ));
        }
        let fields = &header.as_bytes()[..TRACEPARENT_LEN];
        if fields[2] != b'-' || fields[35] != b'-' || fields[52] != b'-' {
            return Err(Error::invalid_input(
                "traceparent",
                "fields must be separated by '-' as version-traceid-parentid-flags",
            ));
        }
        let trace_id = TraceId::from_hex("traceparent.trace_id", &header[3..35])?;
        let span_id = SpanId::from_hex("traceparent.parent_id", &header[36..52])?;
        let mut flags = [0u8; 1];
        decode_hex("traceparent.flags", &header[53..55], &mut flags)?;
        // A newer version's other flag bits may mean something this version does not know.
        let flags = if v[0] == 0 {
            flags[0]
        } else {
            flags[0] & TraceFlags::SAMPLED.0
        };
        Ok(TraceContext::new(trace_id, span_id, TraceFlags(flags)))
    }

    /// Parses the two headers. A bad `traceparent` is an error (see
    /// [`parse_traceparent`](Self::parse_traceparent)); a bad `tracestate` never is: its
    /// invalid list-members are dropped ([`TraceState::parse`]).
    pub fn from_headers(traceparent: &str, tracestate: Option<&str>) -> Result<TraceContext> {
        let ctx = TraceContext::parse_traceparent(traceparent)?;
        Ok(match tracestate.map(TraceState::parse) {
            Some(state) => ctx.with_tracestate(state),
            None => ctx,
        })
    }

    /// This context with `state` as its trace state (an empty one is the same as none).
    pub fn with_tracestate(mut self, state: TraceState) -> TraceContext {
        self.state = (!state.is_empty()).then_some(state);
        self
    }

    /// The trace's id.
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// This span's id: the parent id of whatever it calls.
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The trace flags.
    pub fn flags(&self) -> TraceFlags {
        self.flags
    }

    /// Whether the trace is sampled.
    pub fn is_sampled(&self) -> bool {
        self.flags.is_sampled()
    }

    /// The vendors' trace state, if it has any list-member.
    pub fn tracestate(&self) -> Option<&TraceState> {
        self.state.as_ref()
    }

    /// The `traceparent` header value (version `00`). [`Display`](fmt::Display) writes the
    /// same without allocating.
    pub fn traceparent(&self) -> String {
        self.to_string()
    }

    /// The context in force in the current task, if any (see [`scope`](Self::scope)).
    pub fn current() -> Option<TraceContext> {
        if !EVER_SCOPED.load(Ordering::Relaxed) {
            return None;
        }
        CURRENT.try_with(TraceContext::clone).ok()
    }

    /// Calls `f` with the context in force, without cloning it.
    pub fn with_current<R>(f: impl FnOnce(Option<&TraceContext>) -> R) -> R {
        if EVER_SCOPED.load(Ordering::Relaxed) && CURRENT.try_with(|_| ()).is_ok() {
            CURRENT.with(|ctx| f(Some(ctx)))
        } else {
            f(None)
        }
    }

    /// Runs `fut` with this context in force: [`current`](Self::current) returns it anywhere
    /// inside `fut` (including nested calls), and the previous one again after it. Tasks
    /// spawned inside do not inherit it; scope their futures too.
    pub fn scope<F: Future>(self, fut: F) -> TaskLocalFuture<TraceContext, F> {
        EVER_SCOPED.store(true, Ordering::Relaxed);
        CURRENT.scope(self, fut)
    }

    /// Runs the synchronous `f` with this context in force.
    pub fn in_scope<R>(self, f: impl FnOnce() -> R) -> R {
        EVER_SCOPED.store(true, Ordering::Relaxed);
        CURRENT.sync_scope(self, f)
    }
}

impl fmt::Display for TraceContext {
    /// The `traceparent` header value: `00-{trace id}-{span id}-{flags}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            self.trace_id, self.span_id, self.flags.0
        )
    }
}

impl fmt::Debug for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TraceContext");
        d.field("traceparent", &format_args!("{self}"));
        if let Some(state) = &self.state {
            d.field("tracestate", &format_args!("{state}"));
        }
        d.finish()
    }
}
