//! From a usage fraction to a [`PressureLevel`], with hysteresis.

use foundation_protect::protection::PressureLevel;

use super::MemoryConfig;

/// The thresholds of the levels above low, and the hysteresis margin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Thresholds {
    medium: f64,
    high: f64,
    critical: f64,
    hysteresis: f64,
}

impl Thresholds {
    pub(crate) fn new(config: &MemoryConfig) -> Thresholds {
        Thresholds {
            medium: config.medium,
            high: config.high,
            critical: config.critical,
            hysteresis: config.hysteresis,
        }
    }

    fn threshold(&self, level: PressureLevel) -> f64 {
        match level {
            PressureLevel::Low => 0.0,
            PressureLevel::Medium => self.medium,
            PressureLevel::High => self.high,
            PressureLevel::Critical => self.critical,
        }
    }

    /// The level after `current` given usage at `fraction` of the limit: the highest level
    /// whose threshold is reached, or, going down, the highest level not below which usage
    /// has fallen by more than the margin.
    pub(crate) fn next(&self, current: PressureLevel, fraction: f64) -> PressureLevel {
        const ORDER: [PressureLevel; 3] = [
            PressureLevel::Critical,
            PressureLevel::High,
            PressureLevel::Medium,
        ];
        let reached = ORDER
            .into_iter()
            .find(|&l| fraction >= self.threshold(l))
            .unwrap_or(PressureLevel::Low);
        if reached >= current {
            return reached;
        }
        ORDER
            .into_iter()
            .filter(|&l| l <= current)
            .find(|&l| fraction >= self.threshold(l) - self.hysteresis)
            .unwrap_or(PressureLevel::Low)
    }
}

pub(crate) fn to_u8(level: PressureLevel) -> u8 {
    level as u8
}

pub(crate) fn from_u8(v: u8) -> PressureLevel {
    match v {
        0 => PressureLevel::Low,
        1 => PressureLevel::Medium,
        2 => PressureLevel::High,
        _ => PressureLevel::Critical,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PressureLevel::*;

    fn defaults() -> Thresholds {
        Thresholds::new(&MemoryConfig::default())
    }

    #[test]
    fn rising_usage_enters_the_highest_reached_level() {
        let t = defaults();
        assert_eq!(t.next(Low, 0.10), Low);
        assert_eq!(t.next(Low, 0.70), Medium);
        assert_eq!(t.next(Low, 0.90), High);
        assert_eq!(t.next(Medium, 0.99), Critical);
        assert_eq!(t.next(Low, 1.50), Critical);
    }

    #[test]
    fn a_level_is_left_only_below_its_threshold_minus_the_margin() {
        let t = defaults();
        assert_eq!(t.next(Critical, 0.93), Critical, "within the margin");
        assert_eq!(t.next(Critical, 0.89), High);
        assert_eq!(t.next(Critical, 0.81), High, "high keeps its own margin");
        assert_eq!(t.next(Critical, 0.79), Medium);
        assert_eq!(t.next(Medium, 0.66), Medium);
        assert_eq!(t.next(Medium, 0.64), Low);
        assert_eq!(t.next(High, 0.0), Low);
    }

    #[test]
    fn levels_round_trip_through_u8() {
        for l in [Low, Medium, High, Critical] {
            assert_eq!(from_u8(to_u8(l)), l);
        }
    }
}
