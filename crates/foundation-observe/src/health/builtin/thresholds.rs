//! [`ThresholdsCheck`]: the performance monitor's breached thresholds.

use crate::health::check::{HealthCheck, Observation};
use crate::health::status::HealthStatus;
use crate::monitor::Monitor;

/// Most breaches named in the output.
const NAMED: usize = 10;

/// `operations:thresholds`: the thresholds breached at the monitor's last tick; fails if
/// any breached threshold has severity `fail`, warns if only `warn` ones are breached.
/// The monitor's background task must run ([`Monitor::spawn`]) for the breaches to be
/// current.
#[derive(Debug, Clone)]
pub struct ThresholdsCheck {
    monitor: Monitor,
}

impl ThresholdsCheck {
    /// A check of `monitor`'s thresholds.
    pub fn new(monitor: Monitor) -> ThresholdsCheck {
        ThresholdsCheck { monitor }
    }
}

impl HealthCheck for ThresholdsCheck {
    fn component(&self) -> &str {
        "operations"
    }

    fn measurement(&self) -> &str {
        "thresholds"
    }

    async fn check(&self) -> Observation {
        let breaches = self.monitor.active_breaches();
        let status = breaches
            .iter()
            .map(|(_, b)| HealthStatus::from(b.severity))
            .max()
            .unwrap_or_default();
        let named: Vec<String> = breaches
            .iter()
            .take(NAMED)
            .map(|(op, b)| {
                format!(
                    "{op} {} over the {}: {:.3} vs limit {:.3}",
                    b.metric.as_str(),
                    b.window.as_str(),
                    b.observed,
                    b.limit
                )
            })
            .collect();
        let more = breaches.len().saturating_sub(NAMED);
        let output = match (named.is_empty(), more) {
            (true, _) => "no threshold breached".to_string(),
            (false, 0) => named.join("; "),
            (false, more) => format!("{}; and {more} more", named.join("; ")),
        };
        Observation::with_status(status)
            .value(breaches.len())
            .unit("breaches")
            .output(output)
    }
}
