//! Subscriptions: catch-up (history, then live) and persistent (with a stored checkpoint).

use std::collections::VecDeque;
use std::time::Duration;

use foundation_core::error::{Error, Result};
use tokio::sync::watch;

use super::{EventStore, MAX_READ_LIMIT, RecordedEvent, TOPIC, check_limit, check_name, to_db};
use crate::error::translate;
use crate::sql::with_pool;

/// Events read per page unless [`CatchUpSubscription::page_size`] says otherwise.
const DEFAULT_PAGE_SIZE: usize = 256;

/// How long a caught-up subscription waits for a wake-up before reading anyway.
const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Every event after a position, history first, then new appends as they commit. Each event is
/// delivered once, in position order.
///
/// A subscription pulls: each [`next`](CatchUpSubscription::next) hands out the next event of
/// a page read from storage by global position, and when the page is used up it reads the next
/// one. Because positions commit in order (see [`EventStore`]), "the events after
/// the last one delivered" can never skip or repeat one, whether they are history or were
/// appended a moment ago. Once caught up, it waits on the store's `events` wake-up signal
/// (every append in this process, and on PostgreSQL every node, bumps it), and polls every
/// second as a fallback. Nothing is pushed to a subscriber, so a slow consumer holds at most
/// one page in memory and never slows down writers: it simply reads later from storage.
#[derive(Debug)]
pub struct CatchUpSubscription {
    events: EventStore,
    after: u64,
    page: VecDeque<RecordedEvent>,
    page_size: usize,
    wake: watch::Receiver<u64>,
}

impl EventStore {
    /// A catch-up subscription to every event with a global position greater than `after`
    /// (0: from the beginning).
    pub fn subscribe(&self, after: u64) -> CatchUpSubscription {
        CatchUpSubscription {
            wake: self.store.wake_on(TOPIC),
            events: self.clone(),
            after,
            page: VecDeque::new(),
            page_size: DEFAULT_PAGE_SIZE,
        }
    }

    /// A persistent subscription for the consumer `name` (1 to
    /// [`MAX_NAME_LEN`](crate::MAX_NAME_LEN) bytes): it resumes after the checkpoint the
    /// consumer last stored with [`PersistentSubscription::ack`] (from the beginning the first
    /// time). Delivery is at least once: events after the last acknowledged one are delivered
    /// again after a restart. Run one consumer per name at a time.
    pub async fn persistent_subscription(&self, name: &str) -> Result<PersistentSubscription> {
        let checkpoint = self.checkpoint(name).await?.unwrap_or(0);
        Ok(PersistentSubscription {
            name: name.to_owned(),
            checkpoint,
            inner: self.subscribe(checkpoint),
        })
    }

    /// The checkpoint stored for the consumer `name`, `None` if it never acknowledged one.
    pub async fn checkpoint(&self, name: &str) -> Result<Option<u64>> {
        check_name("name", name)?;
        let position: Option<i64> = with_pool!(&self.store.backend, |pool, _dialect| {
            sqlx::query_scalar("SELECT position FROM foundation_event_checkpoints WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await
        })
        .map_err(|e| translate(e, "read checkpoint").with_context("name", name))?;
        Ok(position.map(|p| u64::try_from(p).unwrap_or_default()))
    }
}

impl CatchUpSubscription {
    /// Reads `size` events per page (1 to [`MAX_READ_LIMIT`](crate::MAX_READ_LIMIT), default
    /// 256): larger pages mean fewer reads during catch-up, smaller ones less memory.
    pub fn page_size(mut self, size: usize) -> Result<CatchUpSubscription> {
        check_limit(size).map_err(|_| {
            Error::invalid_input(
                "page_size",
                format_args!("must be 1 to {MAX_READ_LIMIT}, got {size}"),
            )
        })?;
        self.page_size = size;
        Ok(self)
    }

    /// The global position of the last event delivered (the starting position before the
    /// first).
    pub fn position(&self) -> u64 {
        self.after
    }

    /// The next event if one is stored, `None` when caught up; never waits for new appends.
    pub async fn try_next(&mut self) -> Result<Option<RecordedEvent>> {
        if self.page.is_empty() {
            self.page = self
                .events
                .read_all(self.after, self.page_size)
                .await?
                .into();
        }
        let next = self.page.pop_front();
        if let Some(event) = &next {
            self.after = event.position;
        }
        Ok(next)
    }

    /// The next event, waiting for one to be appended when caught up. Cancel-safe: dropping
    /// the future loses no event. Fails like [`EventStore::read_all`] (for example
    /// `STORE_UNAVAILABLE` once the store is closed, or an upcaster's error).
    pub async fn next(&mut self) -> Result<RecordedEvent> {
        loop {
            // Mark the signal seen before reading: an append committing after the read bumps
            // it again, so the wait below cannot miss it.
            self.wake.borrow_and_update();
            if let Some(event) = self.try_next().await? {
                return Ok(event);
            }
            match tokio::time::timeout(POLL_INTERVAL, self.wake.changed()).await {
                Ok(Ok(())) | Err(_) => {}
                // The signal is gone (cannot happen while the store is open): poll.
                Ok(Err(_)) => tokio::time::sleep(POLL_INTERVAL).await,
            }
        }
    }
}

/// A catch-up subscription whose consumer stores its progress under a name, to resume there
/// after a restart (see [`EventStore::persistent_subscription`]).
#[derive(Debug)]
pub struct PersistentSubscription {
    name: String,
    checkpoint: u64,
    inner: CatchUpSubscription,
}

impl PersistentSubscription {
    /// The consumer's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The last checkpoint stored (0 if none).
    pub fn checkpoint(&self) -> u64 {
        self.checkpoint
    }

    /// The global position of the last event delivered.
    pub fn position(&self) -> u64 {
        self.inner.position()
    }

    /// The next event if one is stored, `None` when caught up; never waits.
    pub async fn try_next(&mut self) -> Result<Option<RecordedEvent>> {
        self.inner.try_next().await
    }

    /// The next event, waiting for one when caught up (see [`CatchUpSubscription::next`]).
    pub async fn next(&mut self) -> Result<RecordedEvent> {
        self.inner.next().await
    }

    /// Stores `position` as the consumer's checkpoint: every event up to it is processed and
    /// will not be delivered again after a restart. Usually the position of the last event
    /// handled; acknowledging every few events trades redelivery after a crash for fewer
    /// writes.
    ///
    /// `INVALID_INPUT` (field `position`) for a position not yet delivered or behind the
    /// stored checkpoint; nothing is stored then.
    pub async fn ack(&mut self, position: u64) -> Result<()> {
        if position > self.inner.position() || position < self.checkpoint {
            return Err(Error::invalid_input(
                "position",
                format_args!(
                    "must be between the checkpoint ({}) and the last delivered position ({}), \
                     got {position}",
                    self.checkpoint,
                    self.inner.position()
                ),
            ));
        }
        let store = &self.inner.events.store;
        let position_db = to_db("position", position)?;
        let now = store.now_ms();
        let name = self.name.as_str();
        with_pool!(&store.backend, |pool, _dialect| {
            sqlx::query(
                "INSERT INTO foundation_event_checkpoints (name, position, updated_at) \
                 VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE \
                 SET position = excluded.position, updated_at = excluded.updated_at",
            )
            .bind(name)
            .bind(position_db)
            .bind(now)
            .execute(pool)
            .await
            .map(drop)
        })
        .map_err(|e| translate(e, "store checkpoint").with_context("name", name))?;
        self.checkpoint = position;
        Ok(())
    }
}
