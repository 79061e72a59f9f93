//! Sequence: compensations in reverse order, failures reported, panics caught, bad input.

use std::sync::Arc;

use foundation_core::{Error, ErrorCode};
use foundation_runtime::coordination::Sequence;
use parking_lot::Mutex;

type Log = Arc<Mutex<Vec<String>>>;

fn record(
    log: &Log,
    entry: &str,
    ok: bool,
) -> impl FnOnce() -> futures::future::Ready<Result<(), Error>> + Send + 'static {
    let (log, entry) = (log.clone(), entry.to_owned());
    move || {
        log.lock().push(entry.clone());
        futures::future::ready(if ok {
            Ok(())
        } else {
            Err(Error::new(
                ErrorCode::APPLICATION,
                format!("{entry} failed"),
            ))
        })
    }
}

#[tokio::test]
async fn all_steps_succeed_without_compensation() {
    let log = Log::default();
    Sequence::new("s")
        .unwrap()
        .step("a", record(&log, "a", true), record(&log, "undo a", true))
        .unwrap()
        .step("b", record(&log, "b", true), record(&log, "undo b", true))
        .unwrap()
        .run()
        .await
        .unwrap();
    assert_eq!(*log.lock(), vec!["a", "b"]);
}

#[tokio::test]
async fn failure_compensates_completed_steps_in_reverse_order() {
    let log = Log::default();
    let failure = Sequence::new("s")
        .unwrap()
        .step("a", record(&log, "a", true), record(&log, "undo a", true))
        .unwrap()
        .step("b", record(&log, "b", true), record(&log, "undo b", false))
        .unwrap()
        .step("c", record(&log, "c", false), record(&log, "undo c", true))
        .unwrap()
        .step("d", record(&log, "d", true), record(&log, "undo d", true))
        .unwrap()
        .run()
        .await
        .unwrap_err();
    assert_eq!(*log.lock(), vec!["a", "b", "c", "undo b", "undo a"]);
    assert_eq!(failure.failed_step, "c");
    assert!(failure.error.message().contains("c failed"));
    assert_eq!(failure.compensated, vec!["a"]);
    assert_eq!(failure.compensation_failures.len(), 1);
    assert_eq!(failure.compensation_failures[0].0, "b");
    assert!(!failure.fully_compensated());
}

#[tokio::test]
async fn a_panicking_step_is_a_failure_not_a_panic() {
    let log = Log::default();
    let failure = Sequence::new("s")
        .unwrap()
        .step("a", record(&log, "a", true), record(&log, "undo a", true))
        .unwrap()
        .step(
            "boom",
            || async { panic!("step exploded") },
            || async { Ok(()) },
        )
        .unwrap()
        .run()
        .await
        .unwrap_err();
    assert_eq!(failure.failed_step, "boom");
    assert!(failure.error.is(ErrorCode::APPLICATION));
    assert!(failure.error.message().contains("step exploded"));
    assert_eq!(failure.compensated, vec!["a"]);
    assert!(failure.fully_compensated());
}

#[test]
fn bad_input_names_the_field() {
    let err = Sequence::new("").unwrap_err();
    assert_eq!(err.context_value("field"), Some("name"));
    let noop = || async { Ok(()) };
    let err = Sequence::new("s")
        .unwrap()
        .step("", noop, noop)
        .unwrap_err();
    assert_eq!(err.context_value("field"), Some("step"));
    let err = Sequence::new("s")
        .unwrap()
        .step("a", noop, noop)
        .unwrap()
        .step("a", noop, noop)
        .unwrap_err();
    assert!(err.is(ErrorCode::ALREADY_EXISTS));
}
