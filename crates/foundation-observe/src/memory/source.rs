//! Where the numbers come from: the [`MemorySource`] trait and [`ProcSource`], which reads
//! `/proc` and the cgroup v2 hierarchy under configurable roots.

use std::io;
use std::path::{Path, PathBuf};

use foundation_core::Result;

use super::parse::{self, CgroupValue};
use super::reading::MemoryReading;

/// Reads the process's memory. Implement it to feed the manager from elsewhere (tests, a
/// sidecar, another OS); [`ProcSource`] is the Linux implementation.
///
/// A read should be quick and must not block on the network: the sampler calls it from its
/// task. A number that cannot be had is left `None`, with the reason in
/// [`warnings`](MemoryReading::warnings); `Err` is for a source that could read nothing.
pub trait MemorySource: Send + Sync + 'static {
    /// Reads the current numbers.
    fn read(&self) -> Result<MemoryReading>;
}

/// Reads Linux's `/proc` and cgroup v2 files:
///
/// - RSS: `VmRSS` of `<proc>/self/status`;
/// - the machine's total: `MemTotal` of `<proc>/meminfo`;
/// - the cgroup: the `0::/path` line of `<proc>/self/cgroup`, then under
///   `<cgroup>/path`: `memory.current`, and `memory.max` of that cgroup and of each ancestor
///   (the tightest wins; `max` means no limit);
/// - with the `jemalloc` feature, jemalloc's `stats.allocated` and `stats.resident`.
///
/// A missing cgroup file is normal (cgroup v1, the root cgroup, no memory controller) and
/// silently left out; a present but unreadable or malformed one is left out with a warning.
#[derive(Debug, Clone)]
pub struct ProcSource {
    proc_root: PathBuf,
    cgroup_root: PathBuf,
}

impl Default for ProcSource {
    fn default() -> ProcSource {
        ProcSource::with_roots("/proc", "/sys/fs/cgroup")
    }
}

impl ProcSource {
    /// Reads `/proc` and `/sys/fs/cgroup`.
    pub fn new() -> ProcSource {
        ProcSource::default()
    }

    /// Reads `proc_root` in place of `/proc` and `cgroup_root` in place of `/sys/fs/cgroup`
    /// (tests point them at fake files).
    pub fn with_roots(proc_root: impl Into<PathBuf>, cgroup_root: impl Into<PathBuf>) -> Self {
        ProcSource {
            proc_root: proc_root.into(),
            cgroup_root: cgroup_root.into(),
        }
    }

    fn read_cgroup(&self, out: &mut MemoryReading) {
        let Some(text) = read_optional(&self.proc_root.join("self/cgroup"), &mut out.warnings)
        else {
            return;
        };
        let Some(path) = parse::cgroup_v2_path(&text) else {
            return;
        };
        let relative = Path::new(path.trim_start_matches('/'));
        if relative
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            out.warnings
                .push(format!("cgroup path {path:?} is not a plain path; ignored"));
            return;
        }
        let dir = self.cgroup_root.join(relative);
        out.cgroup_path = Some(path.to_string());
        out.cgroup_current_bytes =
            match read_cgroup_value(&dir.join("memory.current"), &mut out.warnings) {
                Some(CgroupValue::Bytes(b)) => Some(b),
                Some(CgroupValue::Max) => {
                    out.warnings.push(format!(
                        "{}: \"max\" is not a usage",
                        dir.join("memory.current").display()
                    ));
                    None
                }
                None => None,
            };
        out.cgroup_limit_bytes = dir
            .ancestors()
            .take_while(|d| d.starts_with(&self.cgroup_root))
            .filter_map(
                |d| match read_cgroup_value(&d.join("memory.max"), &mut out.warnings) {
                    Some(CgroupValue::Bytes(b)) => Some(b),
                    _ => None,
                },
            )
            .min();
    }
}

impl MemorySource for ProcSource {
    fn read(&self) -> Result<MemoryReading> {
        let mut out = MemoryReading::default();
        let status = self.proc_root.join("self/status");
        out.rss_bytes = read_kib(&status, "VmRSS", &mut out.warnings);
        out.machine_total_bytes = read_kib(
            &self.proc_root.join("meminfo"),
            "MemTotal",
            &mut out.warnings,
        );
        self.read_cgroup(&mut out);
        #[cfg(feature = "jemalloc")]
        {
            out.jemalloc = super::jemalloc::read(&mut out.warnings);
        }
        Ok(out)
    }
}

/// The file's text; `None` and no warning if it does not exist, `None` and a warning if it
/// cannot be read.
fn read_optional(path: &Path, warnings: &mut Vec<String>) -> Option<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => {
            warnings.push(format!("{}: {e}", path.display()));
            None
        }
    }
}

fn read_cgroup_value(path: &Path, warnings: &mut Vec<String>) -> Option<CgroupValue> {
    let text = read_optional(path, warnings)?;
    parse::cgroup_value(&text)
        .map_err(|why| warnings.push(format!("{}: {why}", path.display())))
        .ok()
}

/// A `/proc` size field; unlike cgroup files, a missing `/proc` file is worth a warning.
fn read_kib(path: &Path, key: &str, warnings: &mut Vec<String>) -> Option<u64> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| warnings.push(format!("{}: {e}", path.display())))
        .ok()?;
    parse::kib_field(&text, key)
        .map_err(|why| warnings.push(format!("{}: {why}", path.display())))
        .ok()
}
