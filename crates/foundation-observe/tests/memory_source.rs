//! The `/proc` + cgroup source on fake files: what is read, what falls back, and how bad
//! files are reported without a panic or a stuck sampler.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use foundation_core::TelemetryBus;
use foundation_observe::memory::{
    LimitSource, MemoryConfig, MemoryManager, MemorySource, ProcSource, UsageSource,
};
use foundation_protect::protection::PressureLevel;

const MIB: u64 = 1 << 20;

/// A fake `/proc` and `/sys/fs/cgroup` in a temp dir; the process sits in cgroup
/// `/app.slice/svc`.
struct FakeHost {
    _dir: tempfile::TempDir,
    proc_root: PathBuf,
    cgroup_root: PathBuf,
}

impl FakeHost {
    /// A host with 1000 MiB of RAM, a process with `rss_mib` resident and a cgroup line.
    fn new(rss_mib: u64) -> FakeHost {
        let dir = tempfile::tempdir().unwrap();
        let proc_root = dir.path().join("proc");
        let cgroup_root = dir.path().join("cgroup");
        fs::create_dir_all(proc_root.join("self")).unwrap();
        fs::create_dir_all(cgroup_root.join("app.slice/svc")).unwrap();
        let host = FakeHost {
            _dir: dir,
            proc_root,
            cgroup_root,
        };
        host.set_rss_mib(rss_mib);
        host.write_proc(
            "meminfo",
            &format!("MemTotal:       {} kB\nMemFree:  1 kB\n", 1000 * 1024),
        );
        host.write_proc("self/cgroup", "0::/app.slice/svc\n");
        host
    }

    fn source(&self) -> ProcSource {
        ProcSource::with_roots(&self.proc_root, &self.cgroup_root)
    }

    fn write_proc(&self, name: &str, text: &str) {
        fs::write(self.proc_root.join(name), text).unwrap();
    }

    fn set_rss_mib(&self, mib: u64) {
        self.write_proc(
            "self/status",
            &format!(
                "Name:\tsvc\nVmPeak:\t999999 kB\nVmRSS:\t{} kB\n",
                mib * 1024
            ),
        );
    }

    /// Writes `name` in the cgroup directory `rel` (relative to the cgroup root).
    fn write_cgroup(&self, rel: &str, name: &str, text: &str) {
        fs::write(self.cgroup_root.join(rel).join(name), text).unwrap();
    }

    fn proc_path(&self) -> &Path {
        &self.proc_root
    }
}

fn manager(host: &FakeHost, config: MemoryConfig) -> MemoryManager {
    MemoryManager::builder()
        .config(config)
        .source(host.source())
        .bus(TelemetryBus::new())
        .build()
        .unwrap()
}

#[test]
fn reads_rss_meminfo_and_the_cgroup_files() {
    let host = FakeHost::new(300);
    host.write_cgroup("app.slice/svc", "memory.current", "524288000\n");
    host.write_cgroup("app.slice/svc", "memory.max", "1048576000\n");
    let reading = host.source().read().unwrap();
    assert_eq!(reading.rss_bytes, Some(300 * MIB));
    assert_eq!(reading.machine_total_bytes, Some(1000 * MIB));
    assert_eq!(reading.cgroup_path.as_deref(), Some("/app.slice/svc"));
    assert_eq!(reading.cgroup_current_bytes, Some(500 * MIB));
    assert_eq!(reading.cgroup_limit_bytes, Some(1000 * MIB));
    assert!(reading.warnings.is_empty(), "{:?}", reading.warnings);

    let sample = manager(&host, MemoryConfig::default())
        .sample_now()
        .unwrap();
    assert_eq!(sample.usage_bytes, 500 * MIB);
    assert_eq!(sample.usage_source, UsageSource::Cgroup);
    assert_eq!(sample.limit_source, LimitSource::Cgroup);
    assert_eq!(sample.level, PressureLevel::Low);
}

#[test]
fn the_tightest_ancestor_limit_wins() {
    let host = FakeHost::new(100);
    host.write_cgroup("app.slice/svc", "memory.max", "max\n");
    host.write_cgroup("app.slice", "memory.max", "209715200\n");
    let reading = host.source().read().unwrap();
    assert_eq!(reading.cgroup_limit_bytes, Some(200 * MIB));
    let sample = manager(&host, MemoryConfig::default())
        .sample_now()
        .unwrap();
    assert_eq!(sample.usage_source, UsageSource::Rss, "no memory.current");
    assert_eq!(sample.limit_bytes, 200 * MIB);
    assert_eq!(sample.level, PressureLevel::Low, "100 of 200 MiB");
}

#[test]
fn max_means_no_limit_and_the_configured_one_then_the_machine_applies() {
    let host = FakeHost::new(900);
    host.write_cgroup("app.slice/svc", "memory.max", "max\n");
    let sample = manager(&host, MemoryConfig::default())
        .sample_now()
        .unwrap();
    assert_eq!(sample.limit_source, LimitSource::Machine);
    assert_eq!(sample.limit_bytes, 1000 * MIB);
    assert_eq!(sample.level, PressureLevel::High, "900 of 1000 MiB");

    let configured = MemoryConfig {
        limit_bytes: Some(4000 * MIB),
        ..MemoryConfig::default()
    };
    let sample = manager(&host, configured).sample_now().unwrap();
    assert_eq!(sample.limit_source, LimitSource::Configured);
    assert_eq!(sample.level, PressureLevel::Low);
}

#[test]
fn missing_cgroup_files_fall_back_without_warnings() {
    let host = FakeHost::new(100);
    fs::remove_file(host.proc_path().join("self/cgroup")).unwrap();
    let reading = host.source().read().unwrap();
    assert_eq!(reading.cgroup_path, None);
    assert!(reading.warnings.is_empty(), "{:?}", reading.warnings);

    // A cgroup v1 host: no `0::` line.
    host.write_proc("self/cgroup", "4:memory:/docker/abc\n");
    let reading = host.source().read().unwrap();
    assert_eq!(reading.cgroup_path, None);

    // In a cgroup whose directory has no memory files (no memory controller).
    host.write_proc("self/cgroup", "0::/app.slice/svc\n");
    let reading = host.source().read().unwrap();
    assert_eq!(reading.cgroup_path.as_deref(), Some("/app.slice/svc"));
    assert_eq!(reading.cgroup_current_bytes, None);
    assert_eq!(reading.cgroup_limit_bytes, None);
    assert!(reading.warnings.is_empty(), "{:?}", reading.warnings);
    let sample = manager(&host, MemoryConfig::default())
        .sample_now()
        .unwrap();
    assert_eq!(
        (sample.usage_source, sample.limit_source),
        (UsageSource::Rss, LimitSource::Machine)
    );
}

#[test]
fn malformed_memory_max_is_reported_and_the_level_comes_from_the_rest() {
    for bad in [
        "lots of memory\n",
        "",
        "\n",
        "-5\n",
        "12.5\n",
        "99999999999999999999999\n",
    ] {
        let host = FakeHost::new(960);
        host.write_cgroup("app.slice/svc", "memory.max", bad);
        let m = manager(&host, MemoryConfig::default());
        let sample = m.sample_now().unwrap();
        assert_eq!(sample.limit_source, LimitSource::Machine, "for {bad:?}");
        assert_eq!(sample.level, PressureLevel::Critical, "960 of 1000 MiB");
        let warnings = &sample.reading.warnings;
        assert_eq!(warnings.len(), 1, "for {bad:?}: {warnings:?}");
        assert!(warnings[0].contains("memory.max"), "{warnings:?}");
        let status = serde_json::to_value(m.status()).unwrap();
        assert!(
            status["last_sample"]["reading"]["warnings"][0]
                .as_str()
                .unwrap()
                .contains("memory.max")
        );
    }
}

#[test]
fn malformed_memory_current_falls_back_to_rss() {
    let host = FakeHost::new(100);
    host.write_cgroup("app.slice/svc", "memory.current", "max\n");
    host.write_cgroup("app.slice/svc", "memory.max", "1048576000\n");
    let sample = manager(&host, MemoryConfig::default())
        .sample_now()
        .unwrap();
    assert_eq!(sample.usage_source, UsageSource::Rss);
    assert_eq!(sample.usage_bytes, 100 * MIB);
    assert_eq!(sample.limit_source, LimitSource::Cgroup);
    assert!(sample.reading.warnings[0].contains("memory.current"));
}

#[test]
fn a_cgroup_path_escaping_the_root_is_ignored() {
    let host = FakeHost::new(100);
    host.write_proc("self/cgroup", "0::/../../etc\n");
    let reading = host.source().read().unwrap();
    assert_eq!(reading.cgroup_path, None);
    assert!(reading.warnings[0].contains("not a plain path"));
}

#[test]
fn unreadable_proc_is_a_clear_error_and_the_level_stays() {
    let host = FakeHost::new(960);
    let m = manager(&host, MemoryConfig::default());
    assert_eq!(m.sample_now().unwrap().level, PressureLevel::Critical);

    fs::remove_dir_all(host.proc_path()).unwrap();
    let err = m.sample_now().unwrap_err();
    assert!(err.is(foundation_core::ErrorCode::MEMORY_READ_FAILED));
    assert!(err.is_retryable());
    assert!(err.message().contains("memory usage"), "{err}");
    assert!(
        err.message().contains("self/status"),
        "names the file: {err}"
    );
    assert_eq!(
        m.level(),
        PressureLevel::Critical,
        "an unreadable sample moves nothing"
    );
    let status = m.status();
    assert_eq!((status.samples, status.failed_samples), (2, 1));
    assert!(
        status
            .last_error
            .unwrap()
            .contains("observe.memory_read_failed")
    );
}

#[test]
fn no_limit_anywhere_is_a_clear_error() {
    let host = FakeHost::new(100);
    host.write_proc("meminfo", "MemTotal: plenty\n");
    let err = manager(&host, MemoryConfig::default())
        .sample_now()
        .unwrap_err();
    assert!(err.is(foundation_core::ErrorCode::MEMORY_READ_FAILED));
    assert!(err.message().contains("memory limit"), "{err}");
    assert!(err.message().contains("MemTotal"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn the_sampler_keeps_going_through_unreadable_samples() {
    let host = FakeHost::new(100);
    let config = MemoryConfig {
        interval: Duration::from_secs(1),
        ..MemoryConfig::default()
    };
    let m = manager(&host, config);
    let sampler = m.start();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(m.status().samples, 2, "one at start, one a second later");

    let status = host.proc_path().join("self/status");
    fs::rename(&status, host.proc_path().join("status.bak")).unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let s = m.status();
    assert_eq!((s.samples, s.failed_samples), (4, 2));
    assert!(s.last_error.is_some());

    fs::rename(host.proc_path().join("status.bak"), &status).unwrap();
    host.set_rss_mib(960);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let s = m.status();
    assert_eq!((s.samples, s.failed_samples), (5, 2));
    assert_eq!(s.last_error, None, "a good sample clears the error");
    assert_eq!(m.level(), PressureLevel::Critical);

    sampler.stop().await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(m.status().samples, 5, "a stopped sampler samples no more");
}

#[tokio::test(start_paused = true)]
async fn dropping_the_sampler_stops_it() {
    let host = FakeHost::new(100);
    let m = manager(&host, MemoryConfig::default());
    let sampler = m.start();
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(m.status().samples, 1);
    drop(sampler);
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(m.status().samples, 1);
}

#[cfg(feature = "jemalloc")]
#[test]
fn jemalloc_statistics_are_read_with_the_feature() {
    let host = FakeHost::new(100);
    let reading = host.source().read().unwrap();
    let stats = reading
        .jemalloc
        .expect("jemalloc stats with the feature on");
    assert!(stats.resident_bytes > 0, "{stats:?}");
    assert!(reading.warnings.is_empty(), "{:?}", reading.warnings);
}

#[test]
fn reads_this_process_on_linux() {
    if !Path::new("/proc/self/status").exists() {
        eprintln!("skipped: no /proc on this system");
        return;
    }
    let reading = ProcSource::new().read().unwrap();
    assert!(reading.rss_bytes.unwrap() > 0);
    assert!(reading.machine_total_bytes.unwrap() > 0);
    let m = MemoryManager::builder()
        .bus(TelemetryBus::new())
        .build()
        .unwrap();
    let sample = m.sample_now().unwrap();
    assert!(sample.usage_bytes > 0 && sample.limit_bytes > 0);
}
