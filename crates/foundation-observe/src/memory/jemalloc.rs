//! jemalloc's statistics, read through `tikv-jemalloc-ctl` (feature `jemalloc`).
//!
//! The numbers describe jemalloc's heap, so they mean something only when jemalloc is the
//! process's global allocator: add `tikv-jemallocator` to the binary and declare
//! `#[global_allocator] static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;`.

use super::reading::JemallocStats;

/// Refreshes jemalloc's statistics and reads them; a failure is a warning.
pub(crate) fn read(warnings: &mut Vec<String>) -> Option<JemallocStats> {
    use tikv_jemalloc_ctl::{epoch, stats};
    let read = || -> Result<JemallocStats, tikv_jemalloc_ctl::Error> {
        epoch::advance()?;
        Ok(JemallocStats {
            allocated_bytes: stats::allocated::read()? as u64,
            resident_bytes: stats::resident::read()? as u64,
        })
    };
    read()
        .map_err(|e| warnings.push(format!("jemalloc stats: {e}")))
        .ok()
}
