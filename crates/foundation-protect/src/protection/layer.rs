//! The whole [`Protection`] as a tower `Layer`.
//!
//! The wrapped service must be `Clone` (each attempt calls a fresh clone, the tower idiom)
//! and the request `Clone` (a retry sends it again). The service's error becomes a
//! Foundation [`Error`] through `Into`, so the classifier sees it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use foundation_core::Error;
use tower_layer::Layer;
use tower_service::Service;

use super::Protection;

/// A tower layer running each request through a [`Protection`].
#[derive(Debug, Clone)]
pub struct ProtectionLayer {
    protection: Protection,
}

impl ProtectionLayer {
    /// Wraps services with `protection`.
    pub fn new(protection: Protection) -> ProtectionLayer {
        ProtectionLayer { protection }
    }
}

impl<S> Layer<S> for ProtectionLayer {
    type Service = ProtectionService<S>;

    fn layer(&self, inner: S) -> ProtectionService<S> {
        ProtectionService {
            inner,
            protection: self.protection.clone(),
        }
    }
}

/// The service made by [`ProtectionLayer`].
#[derive(Debug, Clone)]
pub struct ProtectionService<S> {
    inner: S,
    protection: Protection,
}

impl<S, Req> Service<Req> for ProtectionService<S>
where
    S: Service<Req> + Clone + Send + 'static,
    S::Error: Into<Error>,
    S::Future: Send,
    S::Response: Send,
    Req: Clone + Send + 'static,
{
    type Response = S::Response;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        // Admission (rate limit, bulkhead) happens per call inside the protection, which
        // answers with a structured refusal instead of back-pressure.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let protection = self.protection.clone();
        let service = self.inner.clone();
        Box::pin(async move {
            protection
                .run(move |_| {
                    let mut service = service.clone();
                    let req = req.clone();
                    async move {
                        futures::future::poll_fn(|cx| service.poll_ready(cx))
                            .await
                            .map_err(Into::into)?;
                        service.call(req).await.map_err(Into::into)
                    }
                })
                .await
        })
    }
}
