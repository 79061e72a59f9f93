//! [`RetryLayer`]: retry as a tower middleware.

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll};

use foundation_core::{Error, ErrorCode};
use tower_layer::Layer;
use tower_service::Service;

use super::{Retry, RetryDecision};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Retries requests through a [`Retry`]; requests must be `Clone` (one clone per attempt).
///
/// The inner service's errors are read as Foundation [`Error`]s: a boxed `Error` is used as
/// is (so `TimeoutLayer`, `BulkheadLayer` and breaker refusals inside are understood), a
/// `std::io::Error` is translated by kind, anything else becomes a non-retryable
/// `core.application` error whose source is the original. Errors come out boxed.
///
/// ```
/// use foundation_core::{Error, ErrorCode};
/// use foundation_protect::retry::{Retry, RetryConfig, RetryLayer};
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::sync::Arc;
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let calls = Arc::new(AtomicU32::new(0));
/// let seen = calls.clone();
/// let svc = ServiceBuilder::new()
///     .layer(RetryLayer::new(Retry::new(RetryConfig::default()).unwrap()))
///     .service(service_fn(move |x: u32| {
///         let n = seen.fetch_add(1, Ordering::SeqCst);
///         async move {
///             if n == 0 { Err(Error::new(ErrorCode::NETWORK, "reset")) } else { Ok(x) }
///         }
///     }));
/// assert_eq!(svc.oneshot(7).await.unwrap(), 7);
/// assert_eq!(calls.load(Ordering::SeqCst), 2);
/// # }
/// ```
#[derive(Clone)]
pub struct RetryLayer {
    retry: Retry,
}

impl fmt::Debug for RetryLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RetryLayer").field(&self.retry).finish()
    }
}

impl RetryLayer {
    /// A layer retrying through `retry` (its budget and dead-letter sink are shared).
    pub fn new(retry: Retry) -> RetryLayer {
        RetryLayer { retry }
    }
}

impl<S> Layer<S> for RetryLayer {
    type Service = RetryService<S>;

    fn layer(&self, inner: S) -> RetryService<S> {
        RetryService {
            inner,
            retry: self.retry.clone(),
        }
    }
}

/// The service made by [`RetryLayer`].
#[derive(Clone, Debug)]
pub struct RetryService<S> {
    inner: S,
    retry: Retry,
}

/// Reads an inner service's error as a Foundation [`Error`].
fn into_error(err: BoxError) -> Error {
    match err.downcast::<Error>() {
        Ok(e) => *e,
        Err(err) => match err.downcast::<std::io::Error>() {
            Ok(io) => Error::from(*io),
            Err(other) => Error::new(ErrorCode::APPLICATION, other.to_string()).with_source(other),
        },
    }
}

/// The response future of [`RetryService`] (boxed: it owns the whole retry loop).
pub type ResponseFuture<R> = Pin<Box<dyn Future<Output = Result<R, BoxError>> + Send>>;

impl<S, Req> Service<Req> for RetryService<S>
where
    S: Service<Req> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    S::Response: Send,
    Req: Clone + Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        // Take the instance that is ready for the first attempt; the caller readies the clone.
        let clone = self.inner.clone();
        let mut svc = std::mem::replace(&mut self.inner, clone);
        let retry = self.retry.clone();
        Box::pin(async move {
            let mut state = retry.start();
            let mut ready = true;
            loop {
                let result: Result<S::Response, BoxError> = if ready {
                    svc.call(req.clone()).await.map_err(Into::into)
                } else {
                    let readiness: Result<(), BoxError> =
                        poll_fn(|cx| svc.poll_ready(cx)).await.map_err(Into::into);
                    match readiness {
                        Ok(()) => svc.call(req.clone()).await.map_err(Into::into),
                        Err(e) => Err(e),
                    }
                };
                match result {
                    Ok(response) => {
                        state.on_success();
                        return Ok(response);
                    }
                    Err(e) => match state.on_failure(into_error(e)) {
                        RetryDecision::RetryAfter(delay) => {
                            ready = false;
                            tokio::time::sleep(delay).await;
                        }
                        RetryDecision::GiveUp(e) => {
                            state.send_dead_letter().await;
                            return Err(e.into());
                        }
                    },
                }
            }
        })
    }
}
