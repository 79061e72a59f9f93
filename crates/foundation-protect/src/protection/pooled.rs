//! A [`Protection`] whose calls each get a pooled connection.

use std::future::Future;
use std::ops::ControlFlow;

use foundation_core::{Error, Result};

use super::call::CallScope;
use super::{CallContext, Protection, Stage};
use crate::pool::{Manager, Pool, Pooled};

/// A protection with a connection-pool stage: each attempt checks out a connection (inside
/// the timeout, after the breaker) and hands it to the call; it returns to the pool when the
/// call's future drops it. Made by [`Protection::with_pool`].
pub struct PooledProtection<M: Manager> {
    protection: Protection,
    pool: Pool<M>,
}

impl<M: Manager> std::fmt::Debug for PooledProtection<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledProtection")
            .field("protection", &self.protection)
            .field("pool", &self.pool)
            .finish()
    }
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
    ///
    /// The pool must not be guarded by this protection's own circuit breaker: one attempt
    /// would then take two permits from it (the attempt's and the pool's create), and in
    /// half-open with one probe the create would always be refused, so the breaker could
    /// never close. Such a pairing is refused with `INVALID_CONFIG`; give the pool a breaker
    /// of its own (it then fails fast on creates), or none (checkout failures still reach
    /// this protection's breaker as the attempt's outcome).
    pub fn with_pool<M: Manager>(self, pool: Pool<M>) -> Result<PooledProtection<M>> {
        if let (Some(ours), Some(pools)) = (self.breaker(), pool.breaker()) {
            if ours.same_as(pools) {
                return Err(Error::invalid_config(
                    format!("protection.{}.pool.breaker", self.name()),
                    format!(
                        "pool {:?} is guarded by the protection's own circuit breaker {:?}; \
                         give the pool its own breaker or none",
                        pool.name(),
                        ours.name()
                    ),
                ));
            }
        }
        Ok(PooledProtection {
            protection: self,
            pool,
        })
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
    pub fn run<T, F, Fut>(&self, call: F) -> impl Future<Output = Result<T>>
    where
        F: FnMut(Pooled<M>, CallContext<'static>) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.execute(None, call)
    }

    /// Like [`run`](Self::run), on behalf of `caller`.
    pub fn run_for<'c, T, F, Fut>(
        &self,
        caller: &'c str,
        call: F,
    ) -> impl Future<Output = Result<T>>
    where
        F: FnMut(Pooled<M>, CallContext<'c>) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.execute(Some(caller), call)
    }

    async fn execute<'c, T, F, Fut>(&self, caller: Option<&'c str>, mut call: F) -> Result<T>
    where
        F: FnMut(Pooled<M>, CallContext<'c>) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        match CallScope::start(&self.protection) {
            None => self.attempts(caller, &mut call, None).await.0,
            Some(scope) => {
                scope
                    .execute(self.attempts(caller, &mut call, Some(&scope)))
                    .await
            }
        }
    }

    /// The stages of one call, attempt after attempt: the result and the attempts made.
    async fn attempts<'c, T, F, Fut>(
        &self,
        caller: Option<&'c str>,
        call: &mut F,
        scope: Option<&CallScope<'_>>,
    ) -> (Result<T>, u32)
    where
        F: FnMut(Pooled<M>, CallContext<'c>) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let p = &self.protection;
        let _bulkhead = match p.admit(caller).await {
            Ok(permit) => permit,
            Err(refused) => return (Err(refused), 0),
        };
        let mut retries = p.start_retries();
        loop {
            let attempt = Protection::attempt_number(&retries);
            let trace = CallScope::attempt(scope, attempt);
            let result = match p.permit(caller) {
                Err(refused) => Err(refused),
                Ok(permit) => {
                    let ctx = p.context(attempt, caller, trace);
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
                return (done, attempt);
            }
        }
    }
}
