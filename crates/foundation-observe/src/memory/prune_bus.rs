//! The built-in "prune the event-bus buffers" strategy.

use foundation_core::Result;
use foundation_core::telemetry::TelemetryBus;
use foundation_protect::protection::PressureLevel;

use super::strategy::{CleanupStrategy, Freed};

/// Disconnects every telemetry subscription whose buffer is full — its consumer is stuck —
/// and frees the events it held ([`TelemetryBus::shed_stuck`]). Freed items are events.
#[derive(Debug, Clone)]
pub struct PruneBusBuffers {
    bus: TelemetryBus,
    priority: u32,
    min_level: PressureLevel,
}

impl PruneBusBuffers {
    /// Prunes `bus`, priority 20, from [`PressureLevel::High`] up.
    pub fn new(bus: TelemetryBus) -> PruneBusBuffers {
        PruneBusBuffers {
            bus,
            priority: 20,
            min_level: PressureLevel::High,
        }
    }

    /// Runs from `level` up instead.
    pub fn from_level(mut self, level: PressureLevel) -> PruneBusBuffers {
        self.min_level = level;
        self
    }

    /// Sets the priority (lower runs first).
    pub fn with_priority(mut self, priority: u32) -> PruneBusBuffers {
        self.priority = priority;
        self
    }
}

impl CleanupStrategy for PruneBusBuffers {
    fn name(&self) -> &str {
        "prune_bus_buffers"
    }

    fn priority(&self) -> u32 {
        self.priority
    }

    fn min_level(&self) -> PressureLevel {
        self.min_level
    }

    fn clean(&self, _level: PressureLevel) -> Result<Freed> {
        let shed = self.bus.shed_stuck();
        if shed.subscriptions > 0 {
            tracing::warn!(
                subscriptions = shed.subscriptions,
                events = shed.events,
                "foundation.memory.bus_pruned"
            );
        }
        Ok(Freed::items(shed.events as u64)
            .with_detail(format!("{} stuck subscription(s) shed", shed.subscriptions)))
    }
}
