//! Finding members: by name (typed or not), by capability, by predicate, and by load
//! balancing ([`Balance`]).

use std::sync::Arc;

use foundation_core::error::{Error, ErrorCode};

use super::entry::{Entry, downcast};
use super::slot::Slot;
use super::{Balance, Registry, balance};
use crate::agent::{Agent, AgentRef};

impl Registry {
    /// The agent registered under `name`, typed.
    ///
    /// Errors: `NOT_FOUND` naming it; `INVALID_INPUT` (field `name`) if the entry is a
    /// service or an agent of another type.
    pub fn lookup<A: Agent>(&self, name: &str) -> Result<AgentRef<A>, Error> {
        self.read(name, |slot| downcast(name, slot.address.as_deref()))?
    }

    /// The entry under `name`, untyped. `NOT_FOUND` naming it.
    pub fn entry(&self, name: &str) -> Result<Entry, Error> {
        let now = self.now();
        self.read(name, |slot| slot.clone())
            .map(|slot| slot.entry(now))
    }

    /// Whether `name` is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.read(name, |_| ()).is_ok()
    }

    /// Every entry offering `capability`, in registration order, whatever its health.
    pub fn by_capability(&self, capability: &str) -> Vec<Entry> {
        let members = self
            .inner
            .shards
            .with_group(capability, |g| {
                g.members.values().cloned().collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let now = self.now();
        members.iter().map(|slot| slot.entry(now)).collect()
    }

    /// Every entry for which `predicate` holds. The predicate runs on copies, outside the
    /// registry's locks; the scan is one read lock per shard at a time, so it sees each
    /// shard at one moment but not the registry as a whole at one moment.
    pub fn find(&self, mut predicate: impl FnMut(&Entry) -> bool) -> Vec<Entry> {
        self.entries()
            .into_iter()
            .filter(|e| predicate(e))
            .collect()
    }

    /// Every entry, shard by shard (see [`find`](Self::find)).
    pub fn entries(&self) -> Vec<Entry> {
        let mut slots = Vec::new();
        for shard in self.inner.shards.all_names() {
            slots.extend(shard.read().iter().cloned());
        }
        let now = self.now();
        slots.iter().map(|slot| slot.entry(now)).collect()
    }

    /// Picks one member offering `capability` by `strategy` (see [`Balance`]).
    /// `REGISTRY_NO_INSTANCE` naming the capability if no member is healthy or degraded.
    pub fn pick(&self, capability: &str, strategy: Balance<'_>) -> Result<Entry, Error> {
        let picked = self.pick_slot(capability, strategy)?;
        Ok(picked.entry(self.now()))
    }

    /// [`pick`](Self::pick), returning the member's agent address. `INVALID_INPUT` if the
    /// picked member is not an agent of type `A`.
    pub fn pick_agent<A: Agent>(
        &self,
        capability: &str,
        strategy: Balance<'_>,
    ) -> Result<AgentRef<A>, Error> {
        let picked = self.pick_slot(capability, strategy)?;
        downcast(&picked.name, picked.address.as_deref())
    }

    fn pick_slot(&self, capability: &str, strategy: Balance<'_>) -> Result<Arc<Slot>, Error> {
        let random = &self.inner.random;
        self.inner
            .shards
            .with_group(capability, |group| balance::pick(group, strategy, random))
            .flatten()
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::REGISTRY_NO_INSTANCE,
                    format!("no healthy or degraded instance offers `{capability}`"),
                )
                .with_context("capability", capability)
            })
    }
}
