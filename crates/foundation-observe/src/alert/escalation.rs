//! Escalation, which Alertmanager leaves to others: while a firing alert stays
//! unacknowledged, the receivers of its route's chain are notified one after another.
//!
//! A route's receiver is the first in line, notified through the route's group as usual; each
//! [`EscalationStep`] names the next receiver and how long after the alert started firing it
//! is notified (a notification of that one alert). Acknowledging the alert stops the chain;
//! resolving it sends the resolved notice to every receiver the chain reached.

use std::time::{Duration, Instant};

use foundation_core::millis;
use serde::{Deserialize, Serialize};

/// One step of an escalation chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationStep {
    /// The receiver notified at this step.
    pub receiver: String,
    /// How long after the alert started firing, if still unacknowledged.
    #[serde(rename = "after_ms", with = "millis")]
    pub after: Duration,
}

impl EscalationStep {
    /// A step notifying `receiver` `after` the alert started firing.
    pub fn new(receiver: impl Into<String>, after: Duration) -> EscalationStep {
        EscalationStep {
            receiver: receiver.into(),
            after,
        }
    }
}

/// The steps due at `now` for an alert firing since `fired_at` that has reached `done`
/// steps so far: the indexes of the steps to notify now, in order.
pub(crate) fn due(
    steps: &[EscalationStep],
    fired_at: Instant,
    done: usize,
    now: Instant,
) -> std::ops::Range<usize> {
    let elapsed = now.saturating_duration_since(fired_at);
    let reached = steps.iter().take_while(|s| s.after <= elapsed).count();
    done.min(reached)..reached
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_come_due_in_order_and_once() {
        let steps = [
            EscalationStep::new("b", Duration::from_secs(60)),
            EscalationStep::new("c", Duration::from_secs(120)),
        ];
        let t0 = Instant::now();
        assert!(due(&steps, t0, 0, t0 + Duration::from_secs(59)).is_empty());
        assert_eq!(due(&steps, t0, 0, t0 + Duration::from_secs(60)), 0..1);
        assert_eq!(due(&steps, t0, 1, t0 + Duration::from_secs(200)), 1..2);
        assert!(due(&steps, t0, 2, t0 + Duration::from_secs(900)).is_empty());
    }
}
