//! A [`Protection`] whose calls each get a pooled connection.

use std::future::Future;
use std::ops::ControlFlow;

use foundation_core::Result;

use super::{CallContext, Protection, Stage};
use crate::pool::{Manager, Pool, Pooled};

/// A protection with a connection-pool stage: each attempt checks out a connection (inside
/// the timeout, after the breaker) and hands it to the call; it returns to the pool when the
/// call's future drops it. Made by [`Protection::with_pool`].
pub struct PooledProtection<M: Manager> {
    protection: Protection,
    pool: Pool<M>,
}

impl<M: Manager> Clone for PooledProtection<M> {
    fn clone(&self) -> Self {
        PooledProtection {
            protection: self.protection.clone(),
            pool: self.pool.clone(),
        }
    }
}

impl Protection {
    /// Adds a pool checkout to every attempt.
    pub fn with_pool<M: Manager>(self, pool: Pool<M>) -> PooledProtection<M> {
        PooledProtection {
            protection: self,
            pool,
        }
    }
}

impl<M: Manager> PooledProtection<M> {
    /// The protection without the pool.
    pub fn protection(&self) -> &Protection {
        &self.protection
    }

    /// The pool.
    pub fn pool(&self) -> &Pool<M> {
        &self.pool
    }

    /// Runs `call` with a checked-out connection through every stage.
    pub async fn run<T, F, Fut>(&self, call: F) -> Result<T>
    where
        F: FnMut(Pooled<M>, CallContext<'static>) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.execute(None, call).await
    }

    /// Like [`run`](Self::run), on behalf of `caller`.
    pub async fn run_for<'c, T, F, Fut>(&self, caller: &'c str, call: F) -> Result<T>
    where
        F: FnMut(Pooled<M>, CallContext<'c>) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.execute(Some(caller), call).await
    }

    async fn execute<'c, T, F, Fut>(&self, caller: Option<&'c str>, mut call: F) -> Result<T>
    where
        F: FnMut(Pooled<M>, CallContext<'c>) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let p = &self.protection;
        let _bulkhead = p.admit(caller).await?;
        let mut retries = p.start_retries();
        loop {
            let attempt = Protection::attempt_number(&retries);
            let result = match p.permit(caller) {
                Err(refused) => Err(refused),
                Ok(permit) => {
                    let ctx = p.context(attempt, caller);
                    let result = p
                        .timed(async {
                            let conn = self
                                .pool
                                .get()
                                .await
                                .map_err(|e| p.refused(e, Stage::Pool))?;
                            call(conn, ctx).await
                        })
                        .await;
                    if let Some(permit) = permit {
                        permit.record_result(&result);
                    }
                    result
                }
            };
            if let ControlFlow::Break(done) = p.after_attempt(&mut retries, result).await {
                return done;
            }
        }
    }
}
