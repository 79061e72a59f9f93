//! Property test: random exit sequences against a small model of the restart rules
//! (policy, strategy, removal, sliding-window intensity).

mod supervisor_support;

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use foundation_runtime::agent::ExitReason;
use foundation_runtime::supervisor::{Restart, Strategy as Restarts, SupervisorSpec, start_on};
use proptest::prelude::*;
use supervisor_support::*;

const PERIOD_MS: u64 = 5000;
const MAX_RESTARTS: usize = 3;

#[derive(Debug, Clone)]
enum Op {
    /// Handler panic of the child at this index (modulo the children left).
    Crash(usize),
    /// Normal self-stop.
    Finish(usize),
    /// Abnormal self-stop.
    Fail(usize),
    /// Let this many whole seconds pass.
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..4usize).prop_map(Op::Crash),
        1 => (0..4usize).prop_map(Op::Finish),
        1 => (0..4usize).prop_map(Op::Fail),
        1 => (1..4u64).prop_map(Op::Advance),
    ]
}

fn restart() -> impl Strategy<Value = Restart> {
    prop_oneof![
        Just(Restart::Permanent),
        Just(Restart::Transient),
        Just(Restart::Temporary)
    ]
}

fn strategy() -> impl Strategy<Value = Restarts> {
    prop_oneof![
        Just(Restarts::OneForOne),
        Just(Restarts::OneForAll),
        Just(Restarts::RestForOne)
    ]
}

/// What the supervisor should look like.
struct Model {
    strategy: Restarts,
    children: Vec<(String, Restart)>,
    generations: HashMap<String, u32>,
    restarts_at: VecDeque<u64>,
    now_ms: u64,
    escalated: bool,
}

impl Model {
    fn exit(&mut self, idx: usize, normal: bool) {
        let (_, policy) = self.children[idx].clone();
        let restarts = match policy {
            Restart::Permanent => true,
            Restart::Transient => !normal,
            Restart::Temporary => false,
        };
        if !restarts {
            self.children.remove(idx);
            return;
        }
        while self
            .restarts_at
            .front()
            .is_some_and(|t| self.now_ms - t >= PERIOD_MS)
        {
            self.restarts_at.pop_front();
        }
        if self.restarts_at.len() >= MAX_RESTARTS {
            self.escalated = true;
            self.children.clear();
            return;
        }
        self.restarts_at.push_back(self.now_ms);
        let set = match self.strategy {
            Restarts::OneForOne => idx..idx + 1,
            Restarts::OneForAll => 0..self.children.len(),
            Restarts::RestForOne => idx..self.children.len(),
        };
        let mut kept = Vec::new();
        for (j, (id, policy)) in self.children.drain(..).enumerate() {
            if set.contains(&j) {
                if policy == Restart::Temporary && j != idx {
                    continue;
                }
                *self.generations.get_mut(&id).unwrap() += 1;
            }
            kept.push((id, policy));
        }
        self.children = kept;
    }
}

fn run_case(strategy: Restarts, policies: Vec<Restart>, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async move {
        let fx = Fixture::new();
        let ids: Vec<String> = (0..policies.len()).map(|i| format!("c{i}")).collect();
        let spec = SupervisorSpec::new("model")
            .strategy(strategy)
            .intensity(MAX_RESTARTS as u32, Duration::from_millis(PERIOD_MS))
            .children(
                ids.iter()
                    .zip(&policies)
                    .map(|(id, p)| fx.worker(id).restart(*p)),
            );
        let sup = start_on(spec, fx.bus.clone()).await.unwrap();
        let mut model = Model {
            strategy,
            children: ids.iter().cloned().zip(policies.iter().copied()).collect(),
            generations: ids.iter().map(|id| (id.clone(), 1)).collect(),
            restarts_at: VecDeque::new(),
            now_ms: 0,
            escalated: false,
        };
        for op in ops {
            if model.escalated {
                break;
            }
            if let Op::Advance(secs) = op {
                tokio::time::sleep(Duration::from_secs(secs)).await;
                model.now_ms += secs * 1000;
                continue;
            }
            if model.children.is_empty() {
                break;
            }
            let (i, msg, normal) = match op {
                Op::Crash(i) => (i, Msg::Crash, false),
                Op::Finish(i) => (i, Msg::Finish, true),
                Op::Fail(i) => (i, Msg::Fail, false),
                Op::Advance(_) => unreachable!("handled above"),
            };
            let idx = i % model.children.len();
            let w = worker(&sup, &model.children[idx].0);
            w.cast(msg).unwrap();
            w.wait().await;
            model.exit(idx, normal);
            settle().await;
            model.now_ms += 1;

            let actual: Vec<(String, Restart)> = sup
                .which_children()
                .into_iter()
                .map(|c| (c.id, c.restart))
                .collect();
            prop_assert_eq!(&actual, &model.children);
            prop_assert_eq!(sup.is_alive(), !model.escalated);
            for (id, _) in &model.children {
                prop_assert_eq!(generation(&sup, id).await, model.generations[id], "{}", id);
            }
        }
        if model.escalated {
            prop_assert!(matches!(sup.wait().await, ExitReason::Escalated(_)));
        } else {
            sup.shutdown().await;
        }
        prop_assert_eq!(fx.alive(), 0);
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn restarts_follow_the_model(
        strategy in strategy(),
        policies in prop::collection::vec(restart(), 1..5),
        ops in prop::collection::vec(op(), 1..25),
    ) {
        run_case(strategy, policies, ops)?;
    }
}
