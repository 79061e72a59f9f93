//! The maintenance task: reaps expired and idle connections, health-checks idle ones,
//! replaces discarded ones and keeps `min_idle` connections ready.
//!
//! The task is owned by the pool: it holds a `Weak` reference (so it never keeps a dropped
//! pool alive), and the pool aborts it on [`close`](super::Pool::close) or when its last
//! handle drops.

use std::sync::{Arc, Weak};

use tokio::task::JoinHandle;

use super::config::RecyclePolicy;
use super::events::ReplaceReason;
use super::inner::{Conn, Inner, Slot};
use super::manager::Manager;
use super::pooled::Pooled;
use foundation_core::{Error, ErrorCode};

/// Spawns the maintenance task on the current tokio runtime, if there is one.
pub(crate) fn spawn<M: Manager>(inner: &Arc<Inner<M>>) -> Option<JoinHandle<()>> {
    let runtime = tokio::runtime::Handle::try_current().ok()?;
    Some(runtime.spawn(run(Arc::downgrade(inner))))
}

async fn run<M: Manager>(pool: Weak<Inner<M>>) {
    while let Some(inner) = pool.upgrade() {
        if inner.state.lock().closed {
            return;
        }
        inner.maintain().await;
        let interval = inner.state.lock().config.maintenance_interval;
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = inner.wake.notified() => {}
        }
    }
}

impl<M: Manager> Inner<M> {
    /// One maintenance round.
    pub(crate) async fn maintain(self: &Arc<Self>) {
        self.reap();
        self.health_check().await;
        // Failures were counted and published by `connect`; the next round tries again.
        let _ = self.refill().await;
    }

    /// Closes idle connections past `max_lifetime` (asking for replacements), and those idle
    /// longer than `idle_timeout` while more than `min_idle` are idle.
    fn reap(&self) {
        let now = self.clock.now();
        let (expired, idled_out) = {
            let mut s = self.state.lock();
            let (min_idle, idle_timeout, max_lifetime) = (
                s.config.min_idle,
                s.config.idle_timeout,
                s.config.max_lifetime,
            );
            let (mut expired, mut idled_out) = (Vec::new(), Vec::new());
            let mut i = 0;
            while i < s.idle.len() {
                let conn = &s.idle[i];
                let too_old =
                    max_lifetime.is_some_and(|m| now.saturating_duration_since(conn.created) >= m);
                let idle_too_long = s.idle.len() > min_idle
                    && idle_timeout
                        .is_some_and(|t| now.saturating_duration_since(conn.idle_since) >= t);
                match (too_old || idle_too_long)
                    .then(|| s.idle.remove(i))
                    .flatten()
                {
                    Some(conn) if too_old => expired.push(conn),
                    Some(conn) => {
                        s.live -= 1;
                        idled_out.push(conn);
                    }
                    None => i += 1,
                }
            }
            (expired, idled_out)
        };
        for conn in idled_out {
            self.close_conn(conn);
        }
        for conn in expired {
            self.close_conn(conn);
            self.release_slot(Some(ReplaceReason::Expired));
        }
    }

    /// Recycles idle connections due for a check (per the recycle policy), one at a time so
    /// the others stay available; replaces the ones that fail.
    async fn health_check(self: &Arc<Self>) {
        let now = self.clock.now();
        let mut budget = self.state.lock().idle.len();
        while budget > 0 {
            budget -= 1;
            let due = {
                let mut s = self.state.lock();
                let interval = s.config.maintenance_interval;
                let at = match s.config.recycle {
                    RecyclePolicy::OnCheckout => None,
                    RecyclePolicy::Background => s
                        .idle
                        .iter()
                        .position(|c| now.saturating_duration_since(c.checked) >= interval),
                    RecyclePolicy::OnReturn => s.idle.iter().position(|c| c.dirty),
                };
                match at.and_then(|i| s.idle.remove(i)) {
                    Some(conn) => conn,
                    None => return,
                }
            };
            // Wrapped at once, so an abort mid-check returns (or closes) it.
            let mut pooled = Pooled::new(self.clone(), Conn { dirty: true, ..due });
            // A check that never answers would wedge this task and hold the connection.
            let checked = tokio::time::timeout(self.checkout_timeout(), self.prepare(&mut pooled))
                .await
                .unwrap_or(Some(ReplaceReason::RecycleFailed));
            match checked {
                Some(reason) => pooled.discard_for(reason),
                None => self.settle(pooled.into_conn(), self.clock.now(), false),
            }
        }
    }

    /// Replaces discarded connections and creates connections until `min_idle` are idle,
    /// never beyond `max_size`. Stops at the first failure; a create that takes longer than
    /// `checkout_timeout` is abandoned (`POOL_TIMEOUT`).
    pub(crate) async fn refill(self: &Arc<Self>) -> Result<(), Error> {
        loop {
            let replacing: Option<ReplaceReason> = {
                let mut s = self.state.lock();
                if s.closed {
                    return Ok(());
                }
                if s.live >= s.config.max_size {
                    s.to_replace.clear();
                    return Ok(());
                }
                let replacing = s.to_replace.pop();
                if replacing.is_none() && s.idle.len() >= s.config.min_idle {
                    return Ok(());
                }
                s.live += 1;
                replacing
            };
            let slot = Slot::new(self);
            // A create that never answers would wedge this task and hold the slot.
            let timeout = self.checkout_timeout();
            let created = match tokio::time::timeout(timeout, self.connect()).await {
                Ok(created) => created,
                Err(_) => Err(Error::new(
                    ErrorCode::POOL_TIMEOUT,
                    format!(
                        "pool \"{}\" could not create a connection within {timeout:?}",
                        self.name
                    ),
                )
                .with_context("pool", &self.name)),
            };
            match created {
                Ok(raw) => {
                    let conn = slot.fill(raw);
                    let now = conn.created;
                    self.settle(conn, now, false);
                    if let Some(reason) = replacing {
                        self.note_replaced(reason);
                    }
                }
                Err(e) => {
                    drop(slot);
                    if let Some(reason) = replacing {
                        self.state.lock().to_replace.push(reason);
                    }
                    return Err(e);
                }
            }
        }
    }
}
