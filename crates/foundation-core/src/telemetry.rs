//! The in-process telemetry bus.
//!
//! Components publish typed [`Event`]s (a breaker's state change, a limiter's denial, a
//! pool's exhaustion); the performance monitor, health aggregator and alerting subscribe.
//!
//! - **Typed**: an event is any `Send + Sync + Debug` type implementing [`Event`];
//!   subscribers downcast with [`downcast_ref`](trait.Event.html#method.downcast_ref).
//! - **Bounded**: each [`Subscription`] has its own bounded buffer.
//! - **Never blocks the emitter**: when a subscriber's buffer is full the event is dropped
//!   *for that subscriber* and counted in [`Subscription::dropped`] and
//!   [`TelemetryBus::dropped`].
//! - **Cheap when nobody listens**: with no subscribers, `emit` loads the subscriber list and
//!   returns (after the `tracing` event below, which formats the event only when a debug
//!   `tracing` subscriber is listening).
//!
//! - **Sheddable**: [`TelemetryBus::shed_stuck`] disconnects every subscription whose buffer
//!   is full (its consumer is not keeping up) and frees the events it held; the memory
//!   manager calls it under pressure. The subscription learns it through
//!   [`Subscription::is_shed`], and `recv` returns `None` from then on.
//!
//! Every emitted event is also a `tracing` event at debug level with the event's name.
//!
//! ```
//! use foundation_core::telemetry::{Event, TelemetryBus};
//!
//! #[derive(Debug)]
//! struct Tripped { breaker: String }
//! impl Event for Tripped {
//!     fn name(&self) -> &'static str { "foundation.breaker.state_change" }
//!     fn source(&self) -> &str { &self.breaker }
//! }
//!
//! let bus = TelemetryBus::new();
//! let mut sub = bus.subscribe(16);
//! bus.emit(Tripped { breaker: "db".into() });
//! let ev = sub.try_recv().unwrap();
//! assert_eq!(ev.name(), "foundation.breaker.state_change");
//! assert_eq!(ev.downcast_ref::<Tripped>().unwrap().breaker, "db");
//! ```

use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use arc_swap::ArcSwap;
use tokio::sync::mpsc;

/// A typed telemetry event.
pub trait Event: Any + Send + Sync + fmt::Debug {
    /// The dotted event name, `foundation.<component>.<action>`.
    fn name(&self) -> &'static str;

    /// The instance that emitted it (breaker name, pool name...), empty if none.
    fn source(&self) -> &str {
        ""
    }
}

impl dyn Event {
    /// The event as its concrete type, if it is a `T`.
    pub fn downcast_ref<T: Event>(&self) -> Option<&T> {
        (self as &dyn Any).downcast_ref::<T>()
    }

    /// Whether the event is a `T`.
    pub fn is<T: Event>(&self) -> bool {
        (self as &dyn Any).is::<T>()
    }
}

/// The receiving end, shared by a [`Subscription`] and the bus so that
/// [`TelemetryBus::shed_stuck`] can free a stuck subscription's buffer. The lock is held only
/// while one poll or one drain runs, never across an `await`.
type SharedReceiver = Arc<Mutex<mpsc::Receiver<Arc<dyn Event>>>>;

struct Subscriber {
    prefix: String,
    tx: mpsc::Sender<Arc<dyn Event>>,
    /// Shared with the [`Subscription`], which holds no sender: the channel closes (and
    /// `recv` returns `None`) once the bus is gone.
    dropped: Arc<AtomicU64>,
    rx: SharedReceiver,
    shed: Arc<AtomicBool>,
}

/// What [`TelemetryBus::shed_stuck`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shed {
    /// Subscriptions disconnected because their buffer was full.
    pub subscriptions: usize,
    /// Buffered events those subscriptions held, now dropped.
    pub events: usize,
}

#[derive(Default)]
struct Inner {
    subscribers: ArcSwap<Vec<Arc<Subscriber>>>,
    emitted: AtomicU64,
    dropped: AtomicU64,
}

/// The bus. Cheap to clone; clones share subscribers.
#[derive(Clone, Default)]
pub struct TelemetryBus {
    inner: Arc<Inner>,
}

impl fmt::Debug for TelemetryBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelemetryBus")
            .field("subscribers", &self.subscriber_count())
            .field("emitted", &self.emitted())
            .field("dropped", &self.dropped())
            .finish()
    }
}

impl TelemetryBus {
    /// A new, empty bus.
    pub fn new() -> TelemetryBus {
        TelemetryBus::default()
    }

    /// The process-wide bus that components use when none is injected.
    pub fn global() -> &'static TelemetryBus {
        static GLOBAL: OnceLock<TelemetryBus> = OnceLock::new();
        GLOBAL.get_or_init(TelemetryBus::new)
    }

    /// Publishes an event to every matching subscriber without waiting.
    pub fn emit<E: Event>(&self, event: E) {
        tracing::debug!(event = event.name(), source = event.source(), detail = ?event, "foundation.telemetry");
        let subs = self.inner.subscribers.load();
        if subs.is_empty() {
            return;
        }
        self.inner.emitted.fetch_add(1, Ordering::Relaxed);
        let name = event.name();
        let event: Arc<dyn Event> = Arc::new(event);
        for sub in subs.iter().filter(|s| name.starts_with(s.prefix.as_str())) {
            if sub.tx.try_send(event.clone()).is_err() {
                sub.dropped.fetch_add(1, Ordering::Relaxed);
                self.inner.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Subscribes to every event, buffering up to `capacity` (at least 1, at most
    /// [`tokio::sync::Semaphore::MAX_PERMITS`]).
    pub fn subscribe(&self, capacity: usize) -> Subscription {
        self.subscribe_prefix("", capacity)
    }

    /// Subscribes to events whose name starts with `prefix` (e.g. `foundation.breaker.`),
    /// buffering up to `capacity` as [`subscribe`](TelemetryBus::subscribe) does.
    pub fn subscribe_prefix(&self, prefix: impl Into<String>, capacity: usize) -> Subscription {
        // tokio refuses (panics on) a buffer above its semaphore's limit.
        let (tx, rx) = mpsc::channel(capacity.clamp(1, tokio::sync::Semaphore::MAX_PERMITS));
        let prefix = prefix.into();
        let dropped = Arc::new(AtomicU64::new(0));
        let rx = Arc::new(Mutex::new(rx));
        let shed = Arc::new(AtomicBool::new(false));
        let sub = Arc::new(Subscriber {
            prefix: prefix.clone(),
            tx,
            dropped: dropped.clone(),
            rx: rx.clone(),
            shed: shed.clone(),
        });
        self.inner.subscribers.rcu(|subs| {
            let mut next = Vec::with_capacity(subs.len() + 1);
            next.extend(subs.iter().cloned());
            next.push(sub.clone());
            next
        });
        Subscription {
            rx,
            prefix,
            dropped,
            shed,
            bus: Arc::downgrade(&self.inner),
        }
    }

    /// Disconnects every subscription whose buffer is full — its consumer is stuck or too
    /// slow — and drops the events it buffered. Those subscriptions see
    /// [`Subscription::is_shed`] and their `recv` returns `None` from then on.
    ///
    /// A subscription whose consumer is receiving at this very moment is not stuck and is kept.
    pub fn shed_stuck(&self) -> Shed {
        let mut shed = Shed::default();
        let mut gone = Vec::new();
        for sub in self.inner.subscribers.load().iter() {
            if sub.tx.capacity() > 0 {
                continue;
            }
            let Ok(mut rx) = sub.rx.try_lock() else {
                continue;
            };
            sub.shed.store(true, Ordering::Release);
            rx.close();
            while rx.try_recv().is_ok() {
                shed.events += 1;
            }
            shed.subscriptions += 1;
            gone.push(sub.clone());
        }
        if !gone.is_empty() {
            self.inner.subscribers.rcu(|subs| {
                subs.iter()
                    .filter(|s| !gone.iter().any(|g| Arc::ptr_eq(g, s)))
                    .cloned()
                    .collect::<Vec<_>>()
            });
        }
        shed
    }

    /// How many subscriptions are live.
    pub fn subscriber_count(&self) -> usize {
        self.inner.subscribers.load().len()
    }

    /// Events emitted while at least one subscriber was listening.
    pub fn emitted(&self) -> u64 {
        self.inner.emitted.load(Ordering::Relaxed)
    }

    /// Deliveries dropped because a subscriber's buffer was full, over all subscribers.
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }
}

/// A live subscription. Dropping it unsubscribes.
pub struct Subscription {
    rx: SharedReceiver,
    prefix: String,
    dropped: Arc<AtomicU64>,
    shed: Arc<AtomicBool>,
    bus: Weak<Inner>,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("prefix", &self.prefix)
            .field("dropped", &self.dropped())
            .field("shed", &self.is_shed())
            .finish()
    }
}

impl Subscription {
    /// Waits for the next event. Returns `None` only if the bus is gone or this subscription
    /// was [shed](TelemetryBus::shed_stuck).
    pub async fn recv(&mut self) -> Option<Arc<dyn Event>> {
        std::future::poll_fn(|cx| {
            self.rx
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .poll_recv(cx)
        })
        .await
    }

    /// The next buffered event, if any.
    pub fn try_recv(&mut self) -> Option<Arc<dyn Event>> {
        self.rx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .try_recv()
            .ok()
    }

    /// Drains every buffered event.
    pub fn drain(&mut self) -> Vec<Arc<dyn Event>> {
        std::iter::from_fn(|| self.try_recv()).collect()
    }

    /// Events this subscription missed because its buffer was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Whether the bus disconnected this subscription because its buffer was full
    /// ([`TelemetryBus::shed_stuck`]).
    pub fn is_shed(&self) -> bool {
        self.shed.load(Ordering::Acquire)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(inner) = self.bus.upgrade() {
            inner.subscribers.rcu(|subs| {
                subs.iter()
                    .filter(|s| !Arc::ptr_eq(&s.dropped, &self.dropped))
                    .cloned()
                    .collect::<Vec<_>>()
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Ping(u32);
    impl Event for Ping {
        fn name(&self) -> &'static str {
            "foundation.test.ping"
        }
    }

    #[derive(Debug)]
    struct Other;
    impl Event for Other {
        fn name(&self) -> &'static str {
            "foundation.other.thing"
        }
    }

    #[test]
    fn full_subscriber_drops_and_counts_without_blocking() {
        let bus = TelemetryBus::new();
        let mut sub = bus.subscribe(2);
        for i in 0..5 {
            bus.emit(Ping(i));
        }
        assert_eq!(sub.dropped(), 3);
        assert_eq!(bus.dropped(), 3);
        let got: Vec<u32> = sub
            .drain()
            .iter()
            .map(|e| e.downcast_ref::<Ping>().unwrap().0)
            .collect();
        assert_eq!(got, vec![0, 1]);
    }

    #[test]
    fn prefix_filters_and_drop_unsubscribes() {
        let bus = TelemetryBus::new();
        let mut pings = bus.subscribe_prefix("foundation.test.", 8);
        let all = bus.subscribe(8);
        assert_eq!(bus.subscriber_count(), 2);
        bus.emit(Other);
        bus.emit(Ping(7));
        let got = pings.drain();
        assert_eq!(got.len(), 1);
        assert!(got[0].is::<Ping>());
        drop(all);
        assert_eq!(bus.subscriber_count(), 1);
    }

    #[tokio::test]
    async fn recv_waits_for_the_next_event() {
        let bus = TelemetryBus::new();
        let mut sub = bus.subscribe(1);
        let b = bus.clone();
        let emitter = tokio::spawn(async move { b.emit(Ping(1)) });
        let ev = sub.recv().await.unwrap();
        emitter.await.unwrap();
        assert_eq!(ev.downcast_ref::<Ping>().unwrap().0, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn shed_stuck_disconnects_full_subscriptions_and_frees_their_buffer() {
        let bus = TelemetryBus::new();
        let mut stuck = bus.subscribe(2);
        let mut healthy = bus.subscribe(8);
        for i in 0..3 {
            bus.emit(Ping(i));
        }
        let shed = bus.shed_stuck();
        assert_eq!(
            shed,
            Shed {
                subscriptions: 1,
                events: 2
            }
        );
        assert!(stuck.is_shed());
        assert!(!healthy.is_shed());
        assert_eq!(bus.subscriber_count(), 1);
        bus.emit(Ping(9));
        assert!(stuck.try_recv().is_none(), "the shed buffer is gone");
        let next = tokio::time::timeout(std::time::Duration::from_secs(60), stuck.recv()).await;
        assert!(matches!(next, Ok(None)), "recv must end, got {next:?}");
        assert_eq!(healthy.drain().len(), 4);
        assert_eq!(bus.shed_stuck(), Shed::default(), "nothing else is stuck");
        drop(stuck);
        assert_eq!(bus.subscriber_count(), 1);
    }

    #[test]
    fn any_capacity_is_accepted() {
        let bus = TelemetryBus::new();
        let mut sub = bus.subscribe(usize::MAX);
        bus.emit(Ping(3));
        assert_eq!(sub.drain().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn recv_returns_none_once_the_bus_is_gone() {
        let bus = TelemetryBus::new();
        let mut sub = bus.subscribe(4);
        bus.emit(Ping(1));
        drop(bus);
        assert!(
            sub.recv().await.is_some(),
            "buffered events are still delivered"
        );
        let next = tokio::time::timeout(std::time::Duration::from_secs(60), sub.recv()).await;
        assert!(matches!(next, Ok(None)), "recv must end, got {next:?}");
    }
}
