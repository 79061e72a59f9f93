//! Heartbeats, TTL expiry and the sweeper.
//!
//! An entry with a TTL ([`Metadata::ttl`](super::Metadata)) is expected to call
//! [`Registry::heartbeat`] at least once per TTL. [`Registry::sweep`] finds entries whose
//! last heartbeat is older than their TTL and marks them `Unhealthy` (a `HealthChanged`
//! event); once it is older than TTL + `expiry_grace` the entry is removed
//! ([`RemovalReason::HeartbeatExpired`]). A heartbeat from an entry marked unhealthy this
//! way makes it `Healthy` again; a health set by hand ([`Registry::set_health`]) is left to
//! the caller. The heartbeat itself is an atomic store under a shard's read lock.

use std::sync::Weak;
use std::sync::atomic::Ordering;
use std::time::Duration;

use foundation_core::error::Error;

use super::entry::{Health, Resources};
use super::events::RemovalReason;
use super::shards::find;
use super::{Inner, Registry};

/// What one [`Registry::sweep`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Entries newly marked unhealthy for a missed heartbeat.
    pub marked_unhealthy: usize,
    /// Entries removed because their heartbeat stayed missing past the grace period.
    pub removed: usize,
}

impl Registry {
    /// Records a heartbeat from `name`. `NOT_FOUND` naming it.
    pub fn heartbeat(&self, name: &str) -> Result<(), Error> {
        self.beat(name, None)
    }

    /// Records a heartbeat from `name` with its current resource usage. Errors:
    /// `NOT_FOUND`, `INVALID_INPUT` naming a bad resource field.
    pub fn heartbeat_with(&self, name: &str, resources: Resources) -> Result<(), Error> {
        resources
            .check()
            .map_err(|e| e.with_context("name", name))?;
        self.beat(name, Some(resources))
    }

    fn beat(&self, name: &str, resources: Option<Resources>) -> Result<(), Error> {
        let now = self.now();
        let expired = self.read(name, |slot| {
            slot.beat(now);
            if let Some(r) = resources {
                slot.set_resources(r);
            }
            slot.expired.load(Ordering::Acquire)
        })?;
        if expired {
            // Rare: back from a missed heartbeat. Health changes happen under the write lock.
            self.write(name, |slot| {
                if slot.expired.swap(false, Ordering::AcqRel) {
                    self.change_health(slot, Health::Healthy);
                }
            })?;
        }
        Ok(())
    }

    /// Marks entries whose heartbeat is older than their TTL unhealthy and removes those
    /// older than TTL + `expiry_grace`. The background sweeper calls this every
    /// `sweep_interval`; tests call it after moving a manual clock.
    pub fn sweep(&self) -> SweepReport {
        let now = self.now();
        let grace = self.inner.expiry_grace_nanos;
        let mut report = SweepReport::default();
        for shard in self.inner.shards.all_names() {
            let overdue: Vec<_> = shard
                .read()
                .iter()
                .filter(|slot| age_past_ttl(slot, now).is_some())
                .cloned()
                .collect();
            if overdue.is_empty() {
                continue;
            }
            let mut removed = Vec::new();
            {
                let mut table = shard.write();
                for slot in overdue {
                    // Re-check under the write lock: it may have been replaced or beaten.
                    let current = find(&table, slot.hash, &slot.name)
                        .is_some_and(|s| s.generation == slot.generation);
                    let Some(past) = age_past_ttl(&slot, now).filter(|_| current) else {
                        continue;
                    };
                    if !slot.expired.swap(true, Ordering::AcqRel) {
                        report.marked_unhealthy += 1;
                        self.change_health(&slot, Health::Unhealthy);
                    }
                    if past > grace {
                        let why = RemovalReason::HeartbeatExpired;
                        removed.extend(self.remove_locked(
                            &mut table,
                            slot.hash,
                            &slot.name,
                            Some(slot.generation),
                            why,
                        ));
                    }
                }
            }
            report.removed += removed.len();
            removed.iter().for_each(|slot| slot.release_hook());
        }
        report
    }
}

/// How far (nanoseconds) the slot's last heartbeat is past its TTL, if it is.
fn age_past_ttl(slot: &super::slot::Slot, now: u64) -> Option<u64> {
    let ttl = slot.ttl_nanos()?;
    let age = now.saturating_sub(slot.heartbeat_at());
    age.checked_sub(ttl).filter(|past| *past > 0)
}

/// The registry's sweeper task: sweeps every `every` until the registry is gone.
pub(crate) async fn sweeper(registry: Weak<Inner>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let Some(inner) = registry.upgrade() else {
            return;
        };
        Registry { inner }.sweep();
    }
}
