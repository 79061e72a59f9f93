//! [`TimeoutLayer`]: the timeout as a tower middleware.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::{Deadline, Timeout};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Gives every request the [`Timeout`]'s deadline; an overrun drops the inner future and
/// fails with a boxed `TIMEOUT` [`foundation_core::Error`]. No allocation per request.
///
/// ```
/// use foundation_protect::timeout::{Timeout, TimeoutConfig, TimeoutLayer};
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let timeout = Timeout::new(TimeoutConfig::default()).unwrap();
/// let svc = ServiceBuilder::new()
///     .layer(TimeoutLayer::new(timeout))
///     .service(service_fn(|x: u32| async move { Ok::<_, std::io::Error>(x + 1) }));
/// assert_eq!(svc.oneshot(1).await.unwrap(), 2);
/// # }
/// ```
#[derive(Clone)]
pub struct TimeoutLayer {
    timeout: Timeout,
}

impl fmt::Debug for TimeoutLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TimeoutLayer").field(&self.timeout).finish()
    }
}

impl TimeoutLayer {
    /// A layer applying `timeout`.
    pub fn new(timeout: Timeout) -> TimeoutLayer {
        TimeoutLayer { timeout }
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = TimeoutService<S>;

    fn layer(&self, inner: S) -> TimeoutService<S> {
        TimeoutService {
            inner,
            timeout: self.timeout.clone(),
        }
    }
}

/// The service made by [`TimeoutLayer`].
#[derive(Clone, Debug)]
pub struct TimeoutService<S> {
    inner: S,
    timeout: Timeout,
}

impl<S, Req> Service<Req> for TimeoutService<S>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let duration = self.timeout.duration();
        ResponseFuture {
            inner: Deadline::new(self.timeout.clone(), duration, self.inner.call(req)),
            duration,
        }
    }
}

pin_project! {
    /// The response future of [`TimeoutService`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Deadline<Timeout, F>,
        duration: std::time::Duration,
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("timeout::ResponseFuture")
            .field("duration", &self.duration)
            .finish()
    }
}

impl<F, R, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<R, E>>,
    E: Into<BoxError>,
{
    type Output = Result<R, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match ready!(this.inner.poll(cx)) {
            Ok(result) => Poll::Ready(result.map_err(Into::into)),
            Err(elapsed) => Poll::Ready(Err(elapsed.into())),
        }
    }
}
