//! [`RateLimitLayer`]: the limiter as a tower middleware.
//!
//! With [`OnLimit::Reject`] a request over the quota fails at once with `RATE_LIMITED`
//! (converted into the inner service's error type); with [`OnLimit::Wait`] it waits in the
//! limiter's fair line until admitted, then calls the inner service.
//!
//! ```
//! use foundation_core::{Error, ErrorCode};
//! use foundation_protect::limiter::{Quota, RateLimitLayer, RateLimiter};
//! use tower::{Service, ServiceBuilder, ServiceExt};
//!
//! # tokio_test_block_on(async {
//! let limiter = RateLimiter::builder().quota(Quota::per_second(1)).build().unwrap();
//! let mut svc = ServiceBuilder::new()
//!     .layer(RateLimitLayer::new(limiter))
//!     .service_fn(|x: u32| async move { Ok::<_, Error>(x * 2) });
//! assert_eq!(svc.ready().await.unwrap().call(21).await.unwrap(), 42);
//! let refused = svc.ready().await.unwrap().call(1).await.unwrap_err();
//! assert!(refused.is(ErrorCode::RATE_LIMITED));
//! # });
//! # fn tokio_test_block_on(f: impl std::future::Future<Output = ()>) {
//! #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use foundation_core::Error;
use tower_layer::Layer;
use tower_service::Service;

use super::config::OnLimit;
use super::direct::RateLimiter;

/// A tower layer limiting the rate of requests to the wrapped service.
#[derive(Debug, Clone)]
pub struct RateLimitLayer {
    limiter: RateLimiter,
    on_limit: OnLimit,
}

impl RateLimitLayer {
    /// Limits with `limiter`; what happens over the quota is the limiter config's `on_limit`.
    pub fn new(limiter: RateLimiter) -> RateLimitLayer {
        let on_limit = limiter.config().on_limit;
        RateLimitLayer { limiter, on_limit }
    }

    /// Overrides what happens over the quota.
    pub fn on_limit(mut self, on_limit: OnLimit) -> RateLimitLayer {
        self.on_limit = on_limit;
        self
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimitService<S>;

    fn layer(&self, inner: S) -> RateLimitService<S> {
        RateLimitService {
            inner,
            limiter: self.limiter.clone(),
            on_limit: self.on_limit,
        }
    }
}

/// The service [`RateLimitLayer`] produces.
#[derive(Debug, Clone)]
pub struct RateLimitService<S> {
    inner: S,
    limiter: RateLimiter,
    on_limit: OnLimit,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S, Req> Service<Req> for RateLimitService<S>
where
    S: Service<Req> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: From<Error>,
    Req: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        // Take the service that was made ready; leave a clone for the next call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        match self.on_limit {
            OnLimit::Reject => match self.limiter.check() {
                Ok(()) => Box::pin(inner.call(req)),
                Err(e) => Box::pin(async move { Err(S::Error::from(e)) }),
            },
            OnLimit::Wait => {
                let limiter = self.limiter.clone();
                Box::pin(async move {
                    limiter.acquire().await?;
                    inner.call(req).await
                })
            }
        }
    }
}
