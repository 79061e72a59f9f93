//! LocalQuorum: accepted, rejected, timed out, vote validation, bad input.

use std::time::Duration;

use foundation_core::ErrorCode;
use foundation_runtime::coordination::{LocalQuorum, Quorum, QuorumDecision};
use foundation_runtime::task::TaskSupervisor;

const SEC: Duration = Duration::from_secs(1);
const VOTERS: [&str; 5] = ["a", "b", "c", "d", "e"];

#[tokio::test(start_paused = true)]
async fn accepted_once_quorum_says_yes() {
    let proposal = LocalQuorum::new()
        .propose("deploy", &VOTERS, 3, SEC)
        .unwrap();
    let tasks = TaskSupervisor::new("t").unwrap();
    for (i, voter) in ["a", "b", "c"].into_iter().enumerate() {
        let ballot = proposal.ballot();
        let _voter = tasks.spawn("voter", async move {
            tokio::time::sleep(Duration::from_millis(10 * i as u64)).await;
            ballot.vote(voter, true).unwrap();
        });
    }
    proposal.ballot().vote("d", false).unwrap();
    let result = proposal.outcome().await;
    assert_eq!(result.decision, QuorumDecision::Accepted);
    assert_eq!(result.yes, vec!["a", "b", "c"]);
    assert_eq!(result.no, vec!["d"]);
}

#[tokio::test(start_paused = true)]
async fn rejected_once_quorum_is_out_of_reach() {
    let proposal = LocalQuorum::new()
        .propose("deploy", &VOTERS, 4, SEC)
        .unwrap();
    let ballot = proposal.ballot();
    ballot.vote("a", false).unwrap();
    ballot.vote("b", false).unwrap();
    let result = proposal.outcome().await;
    assert_eq!(result.decision, QuorumDecision::Rejected);
    let err = ballot.vote("c", true).unwrap_err();
    assert!(err.is(ErrorCode::SHUTDOWN), "the vote is over");
}

#[tokio::test(start_paused = true)]
async fn times_out_without_enough_votes() {
    let proposal = LocalQuorum::new()
        .propose("deploy", &VOTERS, 3, SEC)
        .unwrap();
    proposal.ballot().vote("a", true).unwrap();
    let result = proposal.outcome().await;
    assert_eq!(result.decision, QuorumDecision::TimedOut);
    assert_eq!(result.yes, vec!["a"]);
}

#[tokio::test(start_paused = true)]
async fn unknown_and_repeated_voters_are_refused() {
    let proposal = LocalQuorum::new()
        .propose("deploy", &VOTERS, 3, SEC)
        .unwrap();
    let ballot = proposal.ballot();
    let err = ballot.vote("mallory", true).unwrap_err();
    assert_eq!(err.context_value("field"), Some("voter"));
    ballot.vote("a", true).unwrap();
    assert!(
        ballot
            .vote("a", false)
            .unwrap_err()
            .is(ErrorCode::ALREADY_EXISTS)
    );
}

#[test]
fn bad_proposals_name_the_field() {
    let q = LocalQuorum::new();
    let cases: [(&str, &[&str], usize, Duration, &str); 7] = [
        ("", &VOTERS, 3, SEC, "topic"),
        ("t", &[], 1, SEC, "voters"),
        ("t", &["a", ""], 1, SEC, "voters"),
        ("t", &["a", "a"], 1, SEC, "voters"),
        ("t", &VOTERS, 0, SEC, "quorum"),
        ("t", &VOTERS, 6, SEC, "quorum"),
        ("t", &VOTERS, 3, Duration::ZERO, "timeout"),
    ];
    for (topic, voters, quorum, timeout, field) in cases {
        let err = q.propose(topic, voters, quorum, timeout).unwrap_err();
        assert!(err.is(ErrorCode::INVALID_INPUT), "{field}");
        assert_eq!(err.context_value("field"), Some(field));
    }
}
