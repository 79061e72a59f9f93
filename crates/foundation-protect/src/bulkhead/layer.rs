//! [`BulkheadLayer`]: the bulkhead as a tower middleware.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::{Bulkhead, BulkheadPermit};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Wraps a service so that each request holds a bulkhead slot until its response is ready.
///
/// Refusals (`BULKHEAD_FULL`, `BULKHEAD_WAIT_TIMEOUT`) are returned by the response future as
/// a boxed [`foundation_core::Error`]; `poll_ready` is the inner service's, so a refusal
/// never marks the service as failed.
///
/// ```
/// use foundation_protect::bulkhead::{Bulkhead, BulkheadConfig, BulkheadLayer};
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let bulkhead = Bulkhead::new(BulkheadConfig::default()).unwrap();
/// let svc = ServiceBuilder::new()
///     .layer(BulkheadLayer::new(bulkhead))
///     .service(service_fn(|x: u32| async move { Ok::<_, std::io::Error>(x * 2) }));
/// assert_eq!(svc.oneshot(21).await.unwrap(), 42);
/// # }
/// ```
#[derive(Clone)]
pub struct BulkheadLayer {
    bulkhead: Bulkhead,
}

impl fmt::Debug for BulkheadLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BulkheadLayer")
            .field("bulkhead", &self.bulkhead.name())
            .finish()
    }
}

impl BulkheadLayer {
    /// A layer sharing `bulkhead`'s slots between every service it wraps.
    pub fn new(bulkhead: Bulkhead) -> BulkheadLayer {
        BulkheadLayer { bulkhead }
    }
}

impl<S> Layer<S> for BulkheadLayer {
    type Service = BulkheadService<S>;

    fn layer(&self, inner: S) -> BulkheadService<S> {
        BulkheadService {
            inner,
            bulkhead: self.bulkhead.clone(),
        }
    }
}

/// The service made by [`BulkheadLayer`].
#[derive(Clone)]
pub struct BulkheadService<S> {
    inner: S,
    bulkhead: Bulkhead,
}

impl<S: fmt::Debug> fmt::Debug for BulkheadService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BulkheadService")
            .field("inner", &self.inner)
            .field("bulkhead", &self.bulkhead.name())
            .finish()
    }
}

impl<S, Req> Service<Req> for BulkheadService<S>
where
    S: Service<Req> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    Req: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, S::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let state = match self.bulkhead.inner.semaphore.try_acquire() {
            Ok(p) => {
                p.forget();
                State::Called {
                    fut: self.inner.call(req),
                    permit: Some(self.bulkhead.permit()),
                }
            }
            Err(_) => {
                // Take the instance that is ready; the caller readies the clone next time.
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                let bulkhead = self.bulkhead.clone();
                State::Waiting {
                    fut: Box::pin(async move {
                        let _permit = bulkhead.wait_in_line().await?;
                        inner.call(req).await.map_err(Into::into)
                    }),
                }
            }
        };
        ResponseFuture { state }
    }
}

type Waiting<R> = Pin<Box<dyn Future<Output = Result<R, BoxError>> + Send>>;

pin_project! {
    #[project = StateProj]
    enum State<F, R> {
        Called { #[pin] fut: F, permit: Option<BulkheadPermit> },
        Waiting { fut: Waiting<R> },
    }
}

pin_project! {
    /// The response future of [`BulkheadService`]: holds the slot until the response is
    /// ready. Allocates only when the request has to wait for a slot.
    pub struct ResponseFuture<F, R> {
        #[pin]
        state: State<F, R>,
    }
}

impl<F, R> fmt::Debug for ResponseFuture<F, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bulkhead::ResponseFuture")
    }
}

impl<F, R, E> Future for ResponseFuture<F, R>
where
    F: Future<Output = Result<R, E>>,
    E: Into<BoxError>,
{
    type Output = Result<R, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Called { fut, permit } => {
                let out = ready!(fut.poll(cx));
                permit.take();
                Poll::Ready(out.map_err(Into::into))
            }
            StateProj::Waiting { fut } => fut.as_mut().poll(cx),
        }
    }
}
