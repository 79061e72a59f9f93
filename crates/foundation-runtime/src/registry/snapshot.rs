//! Backup: [`Snapshot`] of names and metadata, and restoring one.
//!
//! A snapshot is plain serde data (JSON, TOML, a database row). What it carries and what
//! restoring does with it:
//!
//! - **Services** (entries without an agent address) come back as they were: name and full
//!   metadata, health included. Their heartbeat clock restarts at the restore, so an entry
//!   with a TTL gets one full TTL to check in before it is marked unhealthy.
//! - **Agents** are recorded with their metadata, but an agent's address is a live channel
//!   into this process and cannot be serialised. Restoring does not recreate them: they are
//!   listed in [`RestoreReport::awaiting_agents`], and the agent, once respawned, registers
//!   itself again (its name is left free for that). Use the snapshot's metadata to respawn.
//! - Names already present in the registry are left untouched and listed in
//!   [`RestoreReport::already_present`].
//! - Generations are not carried: a restored entry gets a new one.

use foundation_core::error::Error;
use serde::{Deserialize, Serialize};

use super::entry::Metadata;
use super::{Registry, check_name};

/// The snapshot format version [`Registry::snapshot`] writes and [`Registry::restore`] reads.
pub const SNAPSHOT_VERSION: u32 = 1;

/// The registry's contents at one time (shard by shard), sorted by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// The format version, [`SNAPSHOT_VERSION`].
    pub version: u32,
    /// The entries.
    pub entries: Vec<SnapshotEntry>,
}

/// One entry of a [`Snapshot`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotEntry {
    /// The registered name.
    pub name: String,
    /// Whether an agent was registered under it (its address is not in the snapshot).
    pub agent: bool,
    /// Its metadata at the snapshot.
    pub metadata: Metadata,
}

/// What [`Registry::restore`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreReport {
    /// Services registered again.
    pub restored: Vec<String>,
    /// Agents in the snapshot, not restored: each registers itself when respawned.
    pub awaiting_agents: Vec<String>,
    /// Names skipped because they were registered already.
    pub already_present: Vec<String>,
}

impl Registry {
    /// The registry's names and metadata, sorted by name.
    pub fn snapshot(&self) -> Snapshot {
        let mut entries: Vec<SnapshotEntry> = self
            .entries()
            .into_iter()
            .map(|e| SnapshotEntry {
                name: e.name().to_owned(),
                agent: e.has_agent(),
                metadata: e.metadata,
            })
            .collect();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Snapshot {
            version: SNAPSHOT_VERSION,
            entries,
        }
    }

    /// Registers the snapshot's services again (see the module docs for agents and names
    /// already present).
    ///
    /// The whole snapshot is checked before anything is registered: a wrong `version`, an
    /// empty name or bad metadata is `INVALID_INPUT` naming the field (and the entry's
    /// `index` and `name`), and then nothing is restored.
    pub fn restore(&self, snapshot: &Snapshot) -> Result<RestoreReport, Error> {
        if snapshot.version != SNAPSHOT_VERSION {
            return Err(Error::invalid_input(
                "version",
                format_args!(
                    "snapshot version {} is not the supported {SNAPSHOT_VERSION}",
                    snapshot.version
                ),
            ));
        }
        for (index, e) in snapshot.entries.iter().enumerate() {
            check_name(&e.name)
                .and_then(|()| e.metadata.check())
                .map_err(|err| {
                    err.with_context("index", index)
                        .with_context("name", &e.name)
                })?;
        }
        let mut report = RestoreReport::default();
        for e in &snapshot.entries {
            if e.agent {
                report.awaiting_agents.push(e.name.clone());
            } else if self.register(&e.name, e.metadata.clone()).is_ok() {
                report.restored.push(e.name.clone());
            } else {
                report.already_present.push(e.name.clone());
            }
        }
        Ok(report)
    }
}
