//! Changing a member's health, metadata and labels. Each change takes the name's shard
//! write lock, so a name's events stay in order.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use foundation_core::error::Error;

use super::Registry;
use super::entry::{Health, Metadata};
use super::events::RegistryEvent;
use super::slot::{Profile, Slot};

impl Registry {
    /// Sets the health of `name` and returns the previous one; a change is a
    /// `HealthChanged` event. `NOT_FOUND` naming it.
    pub fn set_health(&self, name: &str, health: Health) -> Result<Health, Error> {
        self.write(name, |slot| {
            slot.expired.store(false, Ordering::Release);
            self.change_health(slot, health)
        })
    }

    /// Stores `health`, sending `HealthChanged` if it changed. Call under the name's write lock.
    pub(super) fn change_health(&self, slot: &Slot, health: Health) -> Health {
        let from = slot.swap_health(health);
        if from != health {
            self.inner.events.send(RegistryEvent::HealthChanged {
                name: slot.name.clone(),
                generation: slot.generation,
                from,
                to: health,
            });
        }
        from
    }

    /// Replaces the metadata of `name` (capabilities re-indexed, a health change is an
    /// event). The address and generation stay. Errors: `NOT_FOUND`, `INVALID_INPUT`.
    pub fn update_metadata(&self, name: &str, metadata: Metadata) -> Result<(), Error> {
        metadata.check().map_err(|e| e.with_context("name", name))?;
        self.write(name, |slot| self.apply(slot, metadata))
    }

    /// Sets (`Some`) or removes (`None`) one label of `name`. Errors: `NOT_FOUND`,
    /// `INVALID_INPUT` for an empty key.
    pub fn set_label(&self, name: &str, key: &str, value: Option<&str>) -> Result<(), Error> {
        if key.trim().is_empty() {
            return Err(
                Error::invalid_input("labels", "a label key must not be empty")
                    .with_context("name", name),
            );
        }
        self.write(name, |slot| {
            let mut profile = Profile::clone(&slot.profile());
            match value {
                Some(value) => profile.labels.insert(key.to_owned(), value.to_owned()),
                None => profile.labels.remove(key),
            };
            *slot.profile.write() = Arc::new(profile);
        })
    }

    /// Stores `metadata` in `slot`. Call under the name's write lock.
    fn apply(&self, slot: &Arc<Slot>, metadata: Metadata) {
        let (profile, health, resources, ttl) = Profile::split(metadata);
        let old = slot.profile();
        let shards = &self.inner.shards;
        shards.index_remove(slot, old.capabilities.difference(&profile.capabilities));
        shards.index_add(slot, profile.capabilities.difference(&old.capabilities));
        *slot.profile.write() = Arc::new(profile);
        slot.set_ttl(ttl);
        slot.set_resources(resources);
        slot.expired.store(false, Ordering::Release);
        self.change_health(slot, health);
    }
}
