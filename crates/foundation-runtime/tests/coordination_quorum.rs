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

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// The decision follows the first moment the yes votes reach quorum or the no votes put it
    /// out of reach; votes after that are refused; otherwise the vote times out.
    #[test]
    fn decision_matches_the_vote_count(
        n in 1usize..8,
        quorum_seed in 0usize..8,
        votes in proptest::collection::vec(proptest::bool::ANY, 0..8),
    ) {
        let quorum = quorum_seed % n + 1;
        let names: Vec<String> = (0..n).map(|i| format!("v{i}")).collect();
        let voters: Vec<&str> = names.iter().map(String::as_str).collect();
        let proposal = LocalQuorum::new().propose("p", &voters, quorum, SEC).unwrap();
        let ballot = proposal.ballot();
        let (mut yes, mut no, mut expected) = (0, 0, QuorumDecision::TimedOut);
        for (voter, approve) in voters.iter().zip(&votes) {
            let decided = expected != QuorumDecision::TimedOut;
            let cast = ballot.vote(voter, *approve);
            proptest::prop_assert_eq!(cast.is_ok(), !decided);
            if decided {
                continue;
            }
            if *approve { yes += 1 } else { no += 1 }
            if yes >= quorum {
                expected = QuorumDecision::Accepted;
            } else if no > n - quorum {
                expected = QuorumDecision::Rejected;
            }
        }
        let result = paused_runtime().block_on(proposal.outcome());
        proptest::prop_assert_eq!(result.decision, expected);
        proptest::prop_assert_eq!(result.yes.len(), yes);
        proptest::prop_assert_eq!(result.no.len(), no);
    }
}
