//! LocalElection: first candidate leads, re-election in join order when the leader stops.

use std::time::Duration;

use foundation_core::ErrorCode;
use foundation_runtime::coordination::{Election, LocalElection};
use foundation_runtime::task::TaskSupervisor;

#[tokio::test(start_paused = true)]
async fn leader_is_re_elected_in_join_order_and_watchers_see_it() {
    let election = LocalElection::new();
    let mut watch = election.watch();
    assert_eq!(election.leader(), None);
    let a = election.join("a").unwrap();
    let b = election.join("b").unwrap();
    let c = election.join("c").unwrap();
    assert!(a.is_leader() && !b.is_leader());
    assert_eq!(*watch.borrow_and_update(), Some("a".to_owned()));
    drop(a);
    watch.changed().await.unwrap();
    assert_eq!(*watch.borrow_and_update(), Some("b".to_owned()));
    assert!(b.is_leader());
    drop(c); // a follower leaving changes nothing
    assert!(!watch.has_changed().unwrap());
    drop(b);
    watch.changed().await.unwrap();
    assert_eq!(*watch.borrow(), None);
    assert!(election.candidates().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_leader_task_that_panics_hands_over_leadership() {
    let election = LocalElection::new();
    let tasks = TaskSupervisor::new("t").unwrap();
    let leader = {
        let candidacy = election.join("leader").unwrap();
        tasks.spawn("leader", async move {
            let _candidacy = candidacy;
            tokio::time::sleep(Duration::from_millis(5)).await;
            panic!("leader crashed");
        })
    };
    let mut next = election.join("next").unwrap();
    assert!(!next.is_leader());
    next.wait_leadership().await;
    assert!(next.is_leader());
    assert_eq!(election.leader().as_deref(), Some("next"));
    assert!(leader.await.is_err());
}

#[tokio::test(start_paused = true)]
async fn bad_input_and_duplicates_are_refused() {
    let election = LocalElection::new();
    let err = election.join("").unwrap_err();
    assert!(err.is(ErrorCode::INVALID_INPUT));
    assert_eq!(err.context_value("field"), Some("candidate"));
    let _a = election.join("a").unwrap();
    assert!(
        election
            .join("a")
            .unwrap_err()
            .is(ErrorCode::ALREADY_EXISTS)
    );
}
