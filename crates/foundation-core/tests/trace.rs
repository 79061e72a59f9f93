//! W3C trace context: parsing and formatting `traceparent`/`tracestate`, roots and children,
//! and the current context carried through async code.

use foundation_core::ErrorCode;
use foundation_core::trace::{
    MAX_TRACESTATE_MEMBERS, SpanId, TraceContext, TraceFlags, TraceId, TraceState,
};
use proptest::prelude::*;

const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn field_of(header: &str) -> String {
    let err = TraceContext::parse_traceparent(header).expect_err(header);
    assert!(err.is(ErrorCode::INVALID_INPUT), "{err}");
    err.context_value("field").unwrap().to_string()
}

#[test]
fn a_valid_traceparent_is_parsed_into_its_parts() {
    let ctx = TraceContext::parse_traceparent(VALID).unwrap();
    assert_eq!(
        ctx.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(ctx.span_id().to_string(), "00f067aa0ba902b7");
    assert_eq!(ctx.flags().bits(), 0x01);
    assert!(ctx.is_sampled());
    assert_eq!(ctx.traceparent(), VALID);
    assert!(ctx.tracestate().is_none());

    let unsampled =
        TraceContext::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
            .unwrap();
    assert!(!unsampled.is_sampled());
}

#[test]
fn bad_traceparents_are_refused_naming_the_part() {
    // All-zero ids.
    assert_eq!(
        field_of("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
        "traceparent.trace_id"
    );
    assert_eq!(
        field_of("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"),
        "traceparent.parent_id"
    );
    // Bad hex, uppercase hex.
    assert_eq!(
        field_of("00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01"),
        "traceparent.trace_id"
    );
    assert_eq!(
        field_of("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"),
        "traceparent.trace_id"
    );
    assert_eq!(
        field_of("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x"),
        "traceparent.flags"
    );
    assert_eq!(
        field_of("zz-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        "traceparent.version"
    );
    // Version ff is forbidden.
    assert_eq!(
        field_of("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        "traceparent.version"
    );
    // Wrong lengths: short, long for version 00, an id one digit short.
    assert_eq!(field_of(""), "traceparent.version");
    assert_eq!(field_of("00-4bf92f3577b34da6"), "traceparent");
    assert_eq!(field_of(&format!("{VALID}-extra")), "traceparent");
    assert_eq!(
        field_of("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01a"),
        "traceparent"
    );
    // Wrong separators, non-ASCII.
    assert_eq!(
        field_of("00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01"),
        "traceparent"
    );
    assert_eq!(
        field_of("00-4bf92f3577b34da6a3ce929d0e0e47é-00f067aa0ba902b7-01"),
        "traceparent"
    );
}

#[test]
fn a_future_version_is_read_by_its_first_four_fields() {
    let ctx = TraceContext::parse_traceparent(
        "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-what-the-future-holds",
    )
    .unwrap();
    assert_eq!(
        ctx.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    // Only the sampled bit of an unknown version's flags is kept.
    assert_eq!(ctx.flags(), TraceFlags::SAMPLED);
    // Re-emitted as version 00.
    assert_eq!(ctx.traceparent(), VALID);
    // Exactly 55 characters is fine for a future version too.
    assert!(
        TraceContext::parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            .is_ok()
    );
    // But what follows the flags must start with '-'.
    assert_eq!(
        field_of("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x"),
        "traceparent"
    );
}

#[test]
fn tracestate_keeps_valid_members_and_drops_the_rest() {
    let state = TraceState::parse(
        "rojo=00f067aa0ba902b7, congo=t61rcWkgMzE,,BAD=1,novalue=,sp ace=x,rojo=dup,\
         tenant1@sys=ok, 1leading=digit, t=ta\tb",
    );
    let members: Vec<_> = state.iter().collect();
    assert_eq!(
        members,
        vec![
            ("rojo", "00f067aa0ba902b7"),
            ("congo", "t61rcWkgMzE"),
            ("tenant1@sys", "ok"),
        ]
    );
    assert_eq!(
        state.to_string(),
        "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE,tenant1@sys=ok"
    );
    assert!(TraceState::parse("").is_empty());
    assert!(TraceState::parse("=,=x,a=b=c").is_empty());
}

#[test]
fn tracestate_keeps_at_most_32_members() {
    let header: Vec<String> = (0..40).map(|i| format!("k{i}=v{i}")).collect();
    let state = TraceState::parse(&header.join(","));
    assert_eq!(state.len(), MAX_TRACESTATE_MEMBERS);
    assert_eq!(state.get("k31"), Some("v31"));
    assert_eq!(state.get("k32"), None);

    // Inserting moves the key to the front and drops the oldest past 32.
    let updated = state.insert("fresh", "1").unwrap();
    assert_eq!(updated.len(), MAX_TRACESTATE_MEMBERS);
    assert_eq!(updated.iter().next(), Some(("fresh", "1")));
    assert_eq!(updated.get("k31"), None);
    let moved = updated.insert("k5", "new").unwrap();
    assert_eq!(moved.iter().next(), Some(("k5", "new")));
    assert_eq!(moved.iter().filter(|(k, _)| *k == "k5").count(), 1);
    assert_eq!(moved.remove("k5").get("k5"), None);
}

#[test]
fn tracestate_insert_refuses_a_bad_key_or_value() {
    let state = TraceState::default();
    let err = state.insert("Upper", "v").unwrap_err();
    assert_eq!(err.context_value("field"), Some("tracestate.key"));
    let err = state.insert("ok", "a,b").unwrap_err();
    assert_eq!(err.context_value("field"), Some("tracestate.value"));
    let err = state.insert("ok", &"x".repeat(257)).unwrap_err();
    assert_eq!(err.context_value("field"), Some("tracestate.value"));
}

#[test]
fn headers_with_a_bad_tracestate_still_parse() {
    let ctx = TraceContext::from_headers(VALID, Some("BAD KEY=1,good=2")).unwrap();
    assert_eq!(ctx.tracestate().unwrap().to_string(), "good=2");
    let ctx = TraceContext::from_headers(VALID, Some("nothing valid")).unwrap();
    assert!(ctx.tracestate().is_none());
    assert!(TraceContext::from_headers("garbage", Some("good=2")).is_err());
}

#[test]
fn a_child_keeps_the_trace_and_gets_a_new_span() {
    let root = TraceContext::new_root();
    assert!(root.is_sampled());
    let child = root
        .clone()
        .with_tracestate(TraceState::parse("v=1"))
        .child();
    assert_eq!(child.trace_id(), root.trace_id());
    assert_ne!(child.span_id(), root.span_id());
    assert_eq!(child.flags(), root.flags());
    assert_eq!(child.tracestate().unwrap().get("v"), Some("1"));
    assert_ne!(TraceContext::new_root().trace_id(), root.trace_id());
}

#[test]
fn without_a_span_binder_a_span_gets_a_child_of_its_parent() {
    let span = tracing::Span::none();
    assert!(TraceContext::for_span(&span, None).is_none());
    let parent = TraceContext::new_root().with_tracestate(TraceState::parse("a=1"));
    let ctx = TraceContext::for_span(&span, Some(&parent)).unwrap();
    assert_eq!(ctx.trace_id(), parent.trace_id());
    assert_ne!(ctx.span_id(), parent.span_id());
    assert_eq!(ctx.tracestate(), parent.tracestate());
}

#[test]
fn ids_reject_all_zero_bytes() {
    assert!(TraceId::from_bytes([0; 16]).is_none());
    assert!(SpanId::from_bytes([0; 8]).is_none());
    let id = SpanId::from_bytes([1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
    assert_eq!(id.to_string(), "0102030405060708");
    assert_eq!(SpanId::from_hex("s", "0102030405060708").unwrap(), id);
}

#[tokio::test]
async fn the_current_context_follows_scopes() {
    assert!(TraceContext::current().is_none());
    let outer = TraceContext::new_root();
    let inner = outer.child();
    let (seen_outer, seen_inner, after_inner) = outer
        .clone()
        .scope(async {
            let before = TraceContext::current();
            let during = inner
                .clone()
                .scope(async {
                    tokio::task::yield_now().await;
                    TraceContext::current()
                })
                .await;
            (before, during, TraceContext::current())
        })
        .await;
    assert_eq!(seen_outer.as_ref(), Some(&outer));
    assert_eq!(seen_inner.as_ref(), Some(&inner));
    assert_eq!(after_inner.as_ref(), Some(&outer));
    assert!(TraceContext::current().is_none());

    let in_sync = outer
        .clone()
        .in_scope(|| TraceContext::with_current(|ctx| ctx.map(TraceContext::trace_id)));
    assert_eq!(in_sync, Some(outer.trace_id()));
    assert!(!TraceContext::with_current(|ctx| ctx.is_some()));
}

fn any_context() -> impl Strategy<Value = TraceContext> {
    (
        any::<[u8; 16]>().prop_filter_map("zero", TraceId::from_bytes),
        any::<[u8; 8]>().prop_filter_map("zero", SpanId::from_bytes),
        any::<u8>(),
        proptest::collection::vec(("[a-z][a-z0-9_*/-]{0,8}", "[!-+\\--<>-~]{1,12}"), 0..40),
    )
        .prop_map(|(trace, span, flags, members)| {
            let header: Vec<String> = members.iter().map(|(k, v)| format!("{k}={v}")).collect();
            TraceContext::new(trace, span, TraceFlags::new(flags))
                .with_tracestate(TraceState::parse(&header.join(",")))
        })
}

proptest! {
    #[test]
    fn format_then_parse_is_the_identity(ctx in any_context()) {
        let state = ctx.tracestate().map(ToString::to_string);
        let parsed = TraceContext::from_headers(&ctx.traceparent(), state.as_deref()).unwrap();
        prop_assert_eq!(parsed, ctx);
    }

    #[test]
    fn parsing_any_string_never_panics(header in ".{0,80}", state in ".{0,80}") {
        let _ = TraceContext::from_headers(&header, Some(&state));
    }
}
