//! The partitioned maps: names → slots, and the capability index (capability → members).
//!
//! A name is hashed once ([`Shards::hash`]); the hash picks the shard and is stored in the
//! slot, so the shard's `hashbrown` table never rehashes a key (the layout `DashMap` uses).
//! Each shard sits behind its own `parking_lot` read-write lock: lookups of different names
//! rarely meet on one lock, and lookups of one name share it. The capability index is
//! sharded (and hashed once) the same way by capability name.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use hashbrown::HashTable;
use parking_lot::RwLock;

use super::slot::Slot;

/// One name shard.
pub(crate) type NameTable = HashTable<Arc<Slot>>;

/// One capability shard.
type CapabilityTable = HashTable<Group>;

/// The members offering one capability by generation (registration order), and the
/// round-robin cursor. A member joins and leaves in `O(log n)`.
pub(crate) struct Group {
    capability: String,
    hash: u64,
    pub(crate) members: BTreeMap<u64, Arc<Slot>>,
    pub(crate) cursor: AtomicUsize,
}

/// A lock on its own cache line, so neighbouring shards' lock words do not false-share.
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

pub(crate) struct Shards {
    hasher: RandomState,
    mask: u64,
    names: Box<[Padded<RwLock<NameTable>>]>,
    capabilities: Box<[Padded<RwLock<CapabilityTable>>]>,
}

impl Shards {
    /// `count` must be a power of two.
    pub(crate) fn new(count: usize) -> Shards {
        Shards {
            hasher: RandomState::new(),
            mask: count as u64 - 1,
            names: (0..count)
                .map(|_| Padded(RwLock::new(HashTable::new())))
                .collect(),
            capabilities: (0..count)
                .map(|_| Padded(RwLock::new(HashTable::new())))
                .collect(),
        }
    }

    pub(crate) fn hash(&self, name: &str) -> u64 {
        self.hasher.hash_one(name)
    }

    fn index(&self, hash: u64) -> usize {
        // The table uses the low bits (bucket) and the top 7 (tag); shard by the middle.
        ((hash >> 32) & self.mask) as usize
    }

    /// The lock of the shard holding names with this hash.
    pub(crate) fn names(&self, hash: u64) -> &RwLock<NameTable> {
        &self.names[self.index(hash)].0
    }

    /// Every name shard, for scans.
    pub(crate) fn all_names(&self) -> impl Iterator<Item = &RwLock<NameTable>> {
        self.names.iter().map(|p| &p.0)
    }

    fn capability_shard(&self, hash: u64) -> &RwLock<CapabilityTable> {
        &self.capabilities[self.index(hash)].0
    }

    /// Adds `slot` to the group of each capability.
    pub(crate) fn index_add<'a>(
        &self,
        slot: &Arc<Slot>,
        capabilities: impl IntoIterator<Item = &'a String>,
    ) {
        for capability in capabilities {
            let hash = self.hash(capability);
            let mut shard = self.capability_shard(hash).write();
            match shard.find_mut(hash, |g| g.capability == *capability) {
                Some(group) => {
                    group.members.insert(slot.generation, slot.clone());
                }
                None => {
                    let group = Group {
                        capability: capability.clone(),
                        hash,
                        members: BTreeMap::from([(slot.generation, slot.clone())]),
                        cursor: AtomicUsize::new(0),
                    };
                    shard.insert_unique(hash, group, |g| g.hash);
                }
            }
        }
    }

    /// Removes `slot` from the group of each capability, dropping groups left empty.
    pub(crate) fn index_remove<'a>(
        &self,
        slot: &Arc<Slot>,
        capabilities: impl IntoIterator<Item = &'a String>,
    ) {
        for capability in capabilities {
            let hash = self.hash(capability);
            let mut shard = self.capability_shard(hash).write();
            if let Ok(mut found) = shard.find_entry(hash, |g| g.capability == *capability) {
                let group = found.get_mut();
                group.members.remove(&slot.generation);
                if group.members.is_empty() {
                    found.remove();
                }
            }
        }
    }

    /// Runs `f` on the group of `capability` under its shard's read lock (`None` if no
    /// member offers it). `f` must be registry code: it runs under the lock.
    pub(crate) fn with_group<R>(&self, capability: &str, f: impl FnOnce(&Group) -> R) -> Option<R> {
        let hash = self.hash(capability);
        self.capability_shard(hash)
            .read()
            .find(hash, |g| g.capability == capability)
            .map(f)
    }

    /// Number of capability groups and of memberships over all of them.
    pub(crate) fn index_size(&self) -> (usize, usize) {
        self.capabilities
            .iter()
            .fold((0, 0), |(groups, members), shard| {
                let shard = shard.0.read();
                (
                    groups + shard.len(),
                    members + shard.iter().map(|g| g.members.len()).sum::<usize>(),
                )
            })
    }
}

/// The slot named `name` (with hash `hash`) in `table`.
pub(crate) fn find<'t>(table: &'t NameTable, hash: u64, name: &str) -> Option<&'t Arc<Slot>> {
    table.find(hash, |s| &*s.name == name)
}
