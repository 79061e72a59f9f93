//! What a memory source reads, and the usage and limit the manager derives from it.

use foundation_core::{Error, ErrorCode, Result};
use foundation_protect::protection::PressureLevel;
use serde::{Deserialize, Serialize};

/// jemalloc's own statistics (feature `jemalloc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct JemallocStats {
    /// Bytes allocated by the application (`stats.allocated`).
    pub allocated_bytes: u64,
    /// Bytes in physically resident pages mapped by jemalloc (`stats.resident`).
    pub resident_bytes: u64,
}

/// The raw numbers one read found. Any of them may be missing; a file that was present but
/// could not be understood leaves its number out and says why in `warnings`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryReading {
    /// Resident set size of the process (`VmRSS` in `/proc/self/status`).
    pub rss_bytes: Option<u64>,
    /// The process's cgroup v2 path (from `/proc/self/cgroup`), if it has one.
    pub cgroup_path: Option<String>,
    /// The cgroup's `memory.current`.
    pub cgroup_current_bytes: Option<u64>,
    /// The tightest `memory.max` of the cgroup and its ancestors; `None` when every one is
    /// `max` (no limit) or absent.
    pub cgroup_limit_bytes: Option<u64>,
    /// The machine's total memory (`MemTotal` in `/proc/meminfo`).
    pub machine_total_bytes: Option<u64>,
    /// jemalloc's statistics, read only with the `jemalloc` feature.
    pub jemalloc: Option<JemallocStats>,
    /// Every file that was present but unreadable or malformed, and why.
    pub warnings: Vec<String>,
}

/// Where the usage figure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageSource {
    /// The cgroup's `memory.current` (what the kernel charges against `memory.max`).
    Cgroup,
    /// The process's resident set size.
    Rss,
}

/// Where the limit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitSource {
    /// The cgroup's `memory.max`.
    Cgroup,
    /// [`MemoryConfig::limit_bytes`](super::MemoryConfig::limit_bytes).
    Configured,
    /// The machine's total memory.
    Machine,
}

/// One sample: usage against the limit, the level it put the manager at, and the reading
/// behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemorySample {
    /// Bytes in use.
    pub usage_bytes: u64,
    /// Where `usage_bytes` came from.
    pub usage_source: UsageSource,
    /// The limit usage is measured against.
    pub limit_bytes: u64,
    /// Where `limit_bytes` came from.
    pub limit_source: LimitSource,
    /// `usage_bytes / limit_bytes`.
    pub fraction: f64,
    /// The pressure level after this sample.
    pub level: PressureLevel,
    /// The raw numbers and any warnings.
    pub reading: MemoryReading,
}

/// Usage and limit chosen from a reading: usage is the cgroup's `memory.current`, else RSS;
/// the limit is the cgroup's `memory.max`, else `configured`, else the machine's total.
pub(crate) struct Measured {
    pub(crate) usage_bytes: u64,
    pub(crate) usage_source: UsageSource,
    pub(crate) limit_bytes: u64,
    pub(crate) limit_source: LimitSource,
}

impl Measured {
    pub(crate) fn from_reading(reading: &MemoryReading, configured: Option<u64>) -> Result<Self> {
        let usage = match (reading.cgroup_current_bytes, reading.rss_bytes) {
            (Some(b), _) => Some((b, UsageSource::Cgroup)),
            (None, Some(b)) => Some((b, UsageSource::Rss)),
            (None, None) => None,
        };
        let limit = match (reading.cgroup_limit_bytes, configured) {
            (Some(b), _) => Some((b, LimitSource::Cgroup)),
            (None, Some(b)) => Some((b, LimitSource::Configured)),
            (None, None) => reading
                .machine_total_bytes
                .map(|b| (b, LimitSource::Machine)),
        };
        match (usage, limit) {
            (Some((usage_bytes, usage_source)), Some((limit_bytes, limit_source))) => {
                Ok(Measured {
                    usage_bytes,
                    usage_source,
                    limit_bytes,
                    limit_source,
                })
            }
            (usage, _) => {
                let missing = if usage.is_none() {
                    "memory usage (no cgroup memory.current, no VmRSS)"
                } else {
                    "a memory limit (no cgroup memory.max, no configured limit_bytes, no MemTotal)"
                };
                let mut message = format!("could not determine {missing}");
                if !reading.warnings.is_empty() {
                    message.push_str(": ");
                    message.push_str(&reading.warnings.join("; "));
                }
                Err(Error::new(ErrorCode::MEMORY_READ_FAILED, message))
            }
        }
    }

    /// Usage as a fraction of the limit; a zero limit counts as one byte.
    pub(crate) fn fraction(&self) -> f64 {
        self.usage_bytes as f64 / self.limit_bytes.max(1) as f64
    }
}
