//! The breaker as tower middleware: [`CircuitBreakerLayer`] wraps a service in a
//! [`CircuitBreakerService`].
//!
//! The wrapped service's error must convert into Foundation's [`Error`]
//! (`S::Error: Into<Error>`), which is also the wrapped service's error type: a refusal and a
//! failure of the inner service are told apart by [`Error::code`]. For a service whose error
//! does not convert, map it first (e.g. `tower::ServiceBuilder::map_err`). Each request takes
//! a permit in `call`; a refused request never reaches the inner service, and the future's
//! result (classified by the breaker's classifier) is recorded when it completes. Dropping the
//! response future counts nothing.
//!
//! ```
//! use foundation_core::{Error, ErrorCode};
//! use foundation_protect::breaker::{BreakerConfig, CircuitBreaker, CircuitBreakerLayer};
//! use tower::{Service, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Error> {
//! let breaker = CircuitBreaker::new("echo", BreakerConfig::default())?;
//! let mut svc = ServiceBuilder::new()
//!     .layer(CircuitBreakerLayer::new(breaker.clone()))
//!     .service_fn(|req: u32| async move { Ok::<_, Error>(req * 2) });
//! assert_eq!(svc.ready().await?.call(21).await?, 42);
//!
//! breaker.force_open();
//! let refused = svc.ready().await?.call(1).await.unwrap_err();
//! assert!(refused.is(ErrorCode::CIRCUIT_FORCED_OPEN));
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use foundation_core::{Error, ErrorCode};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::circuit::CircuitBreaker;
use super::permit::Permit;

/// A tower layer putting a [`CircuitBreaker`] in front of a service.
#[derive(Clone, Debug)]
pub struct CircuitBreakerLayer {
    breaker: CircuitBreaker,
}

impl CircuitBreakerLayer {
    /// A layer for `breaker`; every service it wraps shares the breaker.
    pub fn new(breaker: CircuitBreaker) -> Self {
        CircuitBreakerLayer { breaker }
    }

    /// The breaker.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }
}

impl<S> Layer<S> for CircuitBreakerLayer {
    type Service = CircuitBreakerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreakerService {
            inner,
            breaker: self.breaker.clone(),
        }
    }
}

/// A service guarded by a [`CircuitBreaker`]; see [`CircuitBreakerLayer`].
#[derive(Clone, Debug)]
pub struct CircuitBreakerService<S> {
    inner: S,
    breaker: CircuitBreaker,
}

impl<S> CircuitBreakerService<S> {
    /// The breaker.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, Req> Service<Req> for CircuitBreakerService<S>
where
    S: Service<Req>,
    S::Error: Into<Error>,
{
    type Response = S::Response;
    type Error = Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        match self.breaker.try_acquire() {
            Ok(permit) => ResponseFuture {
                inner: Some(self.inner.call(req)),
                permit: Some(permit),
                refusal: None,
            },
            Err(refusal) => ResponseFuture {
                inner: None,
                permit: None,
                refusal: Some(refusal),
            },
        }
    }
}

pin_project! {
    /// The response future of [`CircuitBreakerService`]: the inner call, or the refusal.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Option<F>,
        permit: Option<Permit>,
        refusal: Option<Error>,
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("refused", &self.refusal.is_some())
            .finish()
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<Error>,
{
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Some(refusal) = this.refusal.take() {
            return Poll::Ready(Err(refusal));
        }
        let Some(inner) = this.inner.as_mut().as_pin_mut() else {
            return Poll::Ready(Err(Error::new(
                ErrorCode::INTERNAL,
                "breaker response future polled after completion",
            )));
        };
        let result = std::task::ready!(inner.poll(cx)).map_err(Into::into);
        this.inner.set(None);
        if let Some(permit) = this.permit.take() {
            permit.record_result(&result);
        }
        Poll::Ready(result)
    }
}
