//! The [`Manager`] trait: how a pool makes, checks and recycles its connections.

use std::future::Future;

use foundation_core::Error;

/// Creates and checks the connections of a [`Pool`](super::Pool).
///
/// The pool calls these methods from the task that checks a connection out (create, recycle
/// on checkout), from the synchronous return path ([`is_broken`](Manager::is_broken) only) and
/// from its maintenance task (create replacements and `min_idle` connections, recycle idle
/// connections). It never calls them while holding its lock.
pub trait Manager: Send + Sync + 'static {
    /// The pooled resource: a database connection, an HTTP worker, a socket...
    type Connection: Send + 'static;

    /// Opens a new connection. An error becomes
    /// [`POOL_CONNECT_FAILED`](foundation_core::ErrorCode::POOL_CONNECT_FAILED) with this error
    /// as its source.
    fn create(&self) -> impl Future<Output = Result<Self::Connection, Error>> + Send;

    /// Checks (and resets) a connection before it is used again, e.g. a `SELECT 1` or a
    /// health request. An error discards the connection. When this runs is set by
    /// [`RecyclePolicy`](super::RecyclePolicy). The default does nothing.
    fn recycle(
        &self,
        _conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        async { Ok(()) }
    }

    /// A cheap, synchronous check run on every checkout and every return: `true` discards the
    /// connection at once (the maintenance task replaces it). It must not block.
    fn is_broken(&self, _conn: &mut Self::Connection) -> bool {
        false
    }
}
