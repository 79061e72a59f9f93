//! The OTLP exporter's HTTP client: the workspace's reqwest (rustls), so export needs no
//! other HTTP stack or TLS library.

use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};

/// Sends the exporter's requests with a [`reqwest::Client`].
#[derive(Debug)]
pub(super) struct ReqwestClient(pub(super) reqwest::Client);

#[async_trait::async_trait]
impl HttpClient for ReqwestClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let response = self.0.execute(request.try_into()?).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await?;
        let mut answer = Response::builder().status(status).body(body)?;
        *answer.headers_mut() = headers;
        Ok(answer)
    }
}
