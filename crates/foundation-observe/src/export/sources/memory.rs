//! The memory manager's last sample.

use super::protect::pressure_level;
use crate::export::{MetricSource, TextEncoder};
use crate::memory::MemoryManager;

impl MetricSource for MemoryManager {
    fn collect(&self, out: &mut TextEncoder) {
        pressure_level(out, self.level());
        let Some(sample) = self.last_sample() else {
            return;
        };
        out.gauge(
            "foundation_memory_usage_bytes",
            "Memory in use at the last sample (cgroup memory.current, else RSS).",
            &[],
            sample.usage_bytes as f64,
        );
        out.gauge(
            "foundation_memory_limit_bytes",
            "The memory limit pressure is measured against (cgroup memory.max, else configured, else machine total).",
            &[],
            sample.limit_bytes as f64,
        );
    }
}
