//! [`AlertManagerBuilder`].

use super::*;

/// Builds an [`AlertManager`].
#[derive(Default)]
pub struct AlertManagerBuilder {
    config: AlertConfig,
    clock: Option<Clock>,
    bus: Option<TelemetryBus>,
    monitor: Option<Monitor>,
    health: Option<HealthAggregator>,
    receivers: Vec<Arc<dyn Receiver>>,
}

impl std::fmt::Debug for AlertManagerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertManagerBuilder")
            .field("config", &self.config)
            .field(
                "receivers",
                &self.receivers.iter().map(|r| r.name()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl AlertManagerBuilder {
    /// Sets the configuration.
    pub fn config(mut self, config: AlertConfig) -> Self {
        self.config = config;
        self
    }

    /// Sets the clock (default: tokio's).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Sets the bus events are published on (default: the global bus).
    pub fn bus(mut self, bus: TelemetryBus) -> Self {
        self.bus = Some(bus);
        self
    }

    /// The monitor metric rules read.
    pub fn monitor(mut self, monitor: Monitor) -> Self {
        self.monitor = Some(monitor);
        self
    }

    /// The health aggregator health rules read.
    pub fn health(mut self, health: HealthAggregator) -> Self {
        self.health = Some(health);
        self
    }

    /// Registers a receiver besides those in the config (an in-process channel, your own).
    pub fn receiver(mut self, receiver: impl Receiver) -> Self {
        self.receivers.push(Arc::new(receiver));
        self
    }

    /// Builds the manager. `INVALID_CONFIG` naming every bad field: timings, receivers
    /// (unknown, twice, bad URL), routes, matchers and regexes, inhibition rules, rules (and
    /// a rule whose source, monitor or health, was not given).
    pub fn build(self) -> Result<AlertManager> {
        let config = self.config;
        let mut v = Validator::new("alert");
        let mut extra = BTreeSet::new();
        for (i, r) in self.receivers.iter().enumerate() {
            v.non_empty(&format!("receivers[{i}]"), r.name()).check(
                extra.insert(r.name().to_string()),
                &format!("receivers[{i}]"),
                format_args!("receiver {:?} is registered twice", r.name()),
            );
        }
        for (i, r) in config.receivers.iter().enumerate() {
            v.check(
                !extra.contains(r.name()),
                &format!("receivers[{i}].name"),
                format_args!("receiver {:?} is also registered on the builder", r.name()),
            );
        }
        config.validate_with(&mut v, &extra);
        for (i, rule) in config.rules.iter().enumerate() {
            let (ok, what) = match rule.condition {
                RuleCondition::Metric { .. }
                | RuleCondition::Breach { .. }
                | RuleCondition::Events { .. } => (self.monitor.is_some(), "a monitor"),
                RuleCondition::Health { .. } => (self.health.is_some(), "a health aggregator"),
            };
            v.check(
                ok,
                &format!("rules[{i}].condition"),
                format_args!("this rule needs {what}; give it to the builder"),
            );
        }
        v.finish()?;
        let clock = self.clock.unwrap_or_default();
        let bus = self.bus.unwrap_or_else(|| TelemetryBus::global().clone());
        let mut receivers = self.receivers;
        for r in &config.receivers {
            receivers.push(match r {
                ReceiverConfig::Log { name } => Arc::new(LogReceiver::new(name.clone())),
                ReceiverConfig::Webhook { name, url } => {
                    Arc::new(WebhookReceiver::new(name.clone(), url)?)
                }
            });
        }
        let slots = receivers
            .into_iter()
            .map(|r| {
                let name = r.name().to_string();
                Slot::new(r, &config.delivery, &clock, &bus).map(|s| (name, Arc::new(s)))
            })
            .collect::<Result<BTreeMap<_, _>>>()?;
        let route = Route::compile(&config.route)?;
        let inhibit = config
            .inhibit_rules
            .iter()
            .map(InhibitRule::compile)
            .collect::<Result<Vec<_>>>()?;
        Ok(AlertManager {
            inner: Arc::new(Inner {
                time: Timebase::new(clock),
                bus,
                route,
                inhibit,
                slots,
                monitor: self.monitor,
                health: self.health,
                state: Mutex::new(State::default()),
                windows: Mutex::new(EventWindows::default()),
                refused: AtomicU64::new(0),
                config,
            }),
        })
    }
}
