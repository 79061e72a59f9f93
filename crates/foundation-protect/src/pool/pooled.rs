//! [`Pooled`]: a checked-out connection that goes back to its pool when dropped.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use super::events::ReplaceReason;
use super::inner::{Conn, Inner, Slot};
use super::manager::Manager;

/// A connection checked out of a [`Pool`](super::Pool).
///
/// It dereferences to the manager's connection. Dropping it returns the connection to the
/// pool synchronously (no task is spawned): to the longest-waiting caller, else to the idle
/// queue, else (overflow, expired, broken, pool closed) it is closed. Call
/// [`discard`](Pooled::discard) for a connection you know is broken, or
/// [`detach`](Pooled::detach) to take it out of the pool for good.
pub struct Pooled<M: Manager> {
    conn: Option<Conn<M::Connection>>,
    inner: Arc<Inner<M>>,
}

impl<M: Manager> Pooled<M> {
    pub(crate) fn new(inner: Arc<Inner<M>>, conn: Conn<M::Connection>) -> Self {
        Pooled {
            conn: Some(conn),
            inner,
        }
    }

    pub(crate) fn conn(&self) -> &Conn<M::Connection> {
        self.conn
            .as_ref()
            .expect("a live Pooled always holds its connection")
    }

    pub(crate) fn conn_mut(&mut self) -> &mut Conn<M::Connection> {
        self.conn
            .as_mut()
            .expect("a live Pooled always holds its connection")
    }

    /// Takes the connection out of the pool for good: the pool forgets it and frees its
    /// place (a waiting caller may create a new one).
    pub fn detach(mut self) -> M::Connection {
        let conn = self
            .conn
            .take()
            .expect("a live Pooled always holds its connection");
        self.inner.release_slot(None);
        conn.raw
    }

    /// Closes a connection you know is broken; the maintenance task creates a replacement
    /// (a waiting caller, if any, creates one at once instead).
    pub fn discard(self) {
        self.discard_for(ReplaceReason::Broken);
    }

    pub(crate) fn discard_for(mut self, reason: ReplaceReason) {
        if let Some(conn) = self.conn.take() {
            self.inner.close_conn(conn);
            self.inner.release_slot(Some(reason));
        }
    }

    /// Closes the connection but keeps its place, for the caller to create a replacement in.
    pub(crate) fn into_slot(mut self, inner: &Arc<Inner<M>>) -> Slot<'_, M> {
        if let Some(conn) = self.conn.take() {
            self.inner.close_conn(conn);
        }
        Slot::new(inner)
    }

    /// Hands the connection back to the pool's bookkeeping without the return-path checks.
    pub(crate) fn into_conn(mut self) -> Conn<M::Connection> {
        self.conn
            .take()
            .expect("a live Pooled always holds its connection")
    }
}

impl<M: Manager> Deref for Pooled<M> {
    type Target = M::Connection;
    fn deref(&self) -> &M::Connection {
        &self.conn().raw
    }
}

impl<M: Manager> DerefMut for Pooled<M> {
    fn deref_mut(&mut self) -> &mut M::Connection {
        &mut self.conn_mut().raw
    }
}

impl<M: Manager> Drop for Pooled<M> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.inner.put_back(conn);
        }
    }
}

impl<M: Manager> fmt::Debug for Pooled<M>
where
    M::Connection: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pooled")
            .field("pool", &self.inner.name)
            .field("connection", &self.conn().raw)
            .finish()
    }
}
