//! The built-in "drop old monitor windows" strategy.

use foundation_core::Result;
use foundation_protect::protection::PressureLevel;

use super::strategy::{CleanupStrategy, Freed};
use crate::monitor::{Monitor, Window};

/// Drops the performance monitor's long windows ([`Monitor::trim_history`]): at high
/// pressure the day windows and the hour and day baselines go (the minute and hour windows
/// stay); at critical only the minute window stays. Freed bytes are the histograms' heap
/// bytes.
#[derive(Debug, Clone)]
pub struct TrimMonitorHistory {
    monitor: Monitor,
}

impl TrimMonitorHistory {
    /// Trims `monitor`, priority 30, from [`PressureLevel::High`] up.
    pub fn new(monitor: Monitor) -> TrimMonitorHistory {
        TrimMonitorHistory { monitor }
    }
}

impl CleanupStrategy for TrimMonitorHistory {
    fn name(&self) -> &str {
        "trim_monitor_history"
    }

    fn priority(&self) -> u32 {
        30
    }

    fn min_level(&self) -> PressureLevel {
        PressureLevel::High
    }

    fn clean(&self, level: PressureLevel) -> Result<Freed> {
        let keep = if level >= PressureLevel::Critical {
            Window::Minute
        } else {
            Window::Hour
        };
        let bytes = self.monitor.trim_history(keep);
        Ok(Freed::bytes(bytes as u64)
            .with_detail(format!("kept the {} window and shorter", keep.as_str())))
    }
}
