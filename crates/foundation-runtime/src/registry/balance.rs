//! Choosing one member of a capability: [`Balance`].
//!
//! Every strategy chooses among the *eligible* members: the healthy ones, or, when none is
//! healthy, the degraded ones. Unhealthy members are never chosen. A pick takes the
//! capability shard's read lock and reads health and load from atomics; it allocates
//! nothing. Health can change while a pick runs; the pick then reflects one of the states.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::entry::Health;
use super::shards::Group;
use super::slot::Slot;

/// How [`Registry::pick`](super::Registry::pick) chooses among a capability's members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Balance<'k> {
    /// Each eligible member in turn (one cursor per capability, shared by all callers).
    RoundRobin,
    /// The eligible member reporting the smallest load (the first registered on a tie).
    LeastLoaded,
    /// A uniformly random eligible member.
    Random,
    /// The same member for the same key while the eligible set is unchanged.
    ///
    /// This is rendezvous (highest-random-weight) hashing: each eligible member gets the
    /// score `hash(key, member name)` and the highest score wins. Chosen over a hash ring
    /// because the eligible set changes with every health change: rendezvous needs no ring
    /// to rebuild and no virtual nodes to balance, costs one hash per member (groups are
    /// small), and moves the fewest keys possible — when a member leaves, only the keys it
    /// had move, and they spread evenly over the rest; when one joins, it takes only the
    /// keys it now wins. The hash (FNV-1a with a 64-bit finaliser) is fixed, so every
    /// process seeing the same members maps a key to the same member.
    ConsistentHash(&'k str),
}

/// Picks from `group` by `strategy`; `None` if no member is healthy or degraded.
pub(crate) fn pick(group: &Group, strategy: Balance<'_>, random: &AtomicU64) -> Option<Arc<Slot>> {
    let tier = eligible_tier(group)?;
    let eligible = || group.members.values().filter(move |m| m.health() == tier);
    let chosen = match strategy {
        Balance::RoundRobin => {
            let turn = group.cursor.fetch_add(1, Ordering::Relaxed);
            nth_eligible(eligible, turn)
        }
        Balance::Random => nth_eligible(eligible, next_random(random) as usize),
        Balance::LeastLoaded => eligible().min_by(|a, b| a.load().total_cmp(&b.load())),
        Balance::ConsistentHash(key) => {
            let key = stable_hash(key);
            eligible().max_by_key(|m| (score(key, &m.name), &*m.name))
        }
    };
    chosen.cloned()
}

/// Healthy if any member is, else degraded if any is.
fn eligible_tier(group: &Group) -> Option<Health> {
    let mut best = None;
    for member in group.members.values() {
        match member.health() {
            Health::Healthy => return Some(Health::Healthy),
            Health::Degraded => best = Some(Health::Degraded),
            Health::Unhealthy => {}
        }
    }
    best
}

/// The `n mod count`-th eligible member. If health changed between the count and the walk,
/// the first eligible member still there.
fn nth_eligible<'g, I>(eligible: impl Fn() -> I, n: usize) -> Option<&'g Arc<Slot>>
where
    I: Iterator<Item = &'g Arc<Slot>>,
{
    let count = eligible().count();
    if count == 0 {
        return None;
    }
    eligible().nth(n % count).or_else(|| eligible().next())
}

/// A splitmix64 step on a shared counter: cheap, lock-free, uniform enough for balancing.
fn next_random(state: &AtomicU64) -> u64 {
    mix(state.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed))
}

/// The rendezvous score of a member for a key.
fn score(key_hash: u64, member: &str) -> u64 {
    mix(key_hash ^ stable_hash(member))
}

/// FNV-1a, finalised: stable across processes and Rust versions.
fn stable_hash(s: &str) -> u64 {
    let fnv = s.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    mix(fnv)
}

/// The splitmix64 / murmur3 64-bit finaliser.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
