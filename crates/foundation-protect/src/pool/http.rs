//! An HTTP client manager (feature `http`): pooled workers, each owning a
//! [`reqwest::Client`] configured for one base URL.
//!
//! A worker is a real pooled resource: created (and, with a health-check path, proven
//! reachable) by the pool, recycled with the same health request, and discarded when
//! [`HttpWorker::mark_broken`] says so. Paths are appended to the base URL:
//! `pool.get().await?.get("/users/7").send().await`. [`HttpWorker::execute`] sends a request
//! and translates failures with [`translate_reqwest_error`]: connect → `NETWORK`, timeout →
//! `EXTERNAL_TIMEOUT`, 5xx → `UNAVAILABLE`, other error statuses → `APPLICATION`.
//!
//! Requests built while a [`TraceContext`] is current (inside a protected call, a task
//! handler, or any [`TraceContext::scope`]) carry it as the W3C `traceparent` and
//! `tracestate` headers, so the dependency continues the caller's trace.
//!
//! ```no_run
//! use foundation_protect::pool::{Pool, http::HttpManager};
//!
//! # async fn demo() -> Result<(), foundation_core::Error> {
//! let manager = HttpManager::new("http://127.0.0.1:8080")?.health_check("/health");
//! let pool = Pool::builder(manager).name("api").build()?;
//! let worker = pool.get().await?;
//! let response = worker.execute(worker.get("/users/7")).await?;
//! assert!(response.status().is_success());
//! # Ok(())
//! # }
//! ```

use std::time::Duration;

use foundation_core::trace::TraceContext;
use foundation_core::{Error, ErrorCode};
use reqwest::{Client, Method, RequestBuilder, Response, Url};

use super::manager::Manager;

/// Makes [`HttpWorker`]s for one base URL.
#[derive(Debug, Clone)]
pub struct HttpManager {
    base: String,
    health_path: Option<String>,
    timeout: Duration,
    connect_timeout: Duration,
}

impl HttpManager {
    /// A manager for `base_url` (`http` or `https`). Defaults: request timeout 30 s, connect
    /// timeout 5 s, no health check. Refuses a malformed URL with `INVALID_CONFIG` naming
    /// `base_url`.
    pub fn new(base_url: impl Into<String>) -> Result<HttpManager, Error> {
        let base = base_url.into();
        let url = Url::parse(&base).map_err(|e| Error::invalid_config("base_url", e))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::invalid_config(
                "base_url",
                format_args!("scheme must be http or https, got {}", url.scheme()),
            ));
        }
        Ok(HttpManager {
            base: base.trim_end_matches('/').to_string(),
            health_path: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
        })
    }

    /// A `GET` path (e.g. `/health`) that must answer with a success status when a worker is
    /// created and whenever it is recycled.
    pub fn health_check(mut self, path: impl Into<String>) -> Self {
        self.health_path = Some(path.into());
        self
    }

    /// The whole-request timeout of every worker's client.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The connect timeout of every worker's client.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    async fn probe(&self, worker: &HttpWorker) -> Result<(), Error> {
        match &self.health_path {
            Some(path) => worker.execute(worker.get(path)).await.map(drop),
            None => Ok(()),
        }
    }
}

impl Manager for HttpManager {
    type Connection = HttpWorker;

    async fn create(&self) -> Result<HttpWorker, Error> {
        let client = Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .build()
            .map_err(translate_reqwest_error)?;
        let worker = HttpWorker {
            client,
            base: self.base.clone(),
            broken: false,
        };
        self.probe(&worker).await?;
        Ok(worker)
    }

    async fn recycle(&self, worker: &mut HttpWorker) -> Result<(), Error> {
        self.probe(worker).await
    }

    fn is_broken(&self, worker: &mut HttpWorker) -> bool {
        worker.broken
    }
}

/// A pooled HTTP worker: a client bound to the manager's base URL.
#[derive(Debug)]
pub struct HttpWorker {
    client: Client,
    base: String,
    broken: bool,
}

impl HttpWorker {
    /// The full URL of `path` under the base URL.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with('/') {
            format!("{}{path}", self.base)
        } else {
            format!("{}/{path}", self.base)
        }
    }

    /// A request with `method` to `path` under the base URL, carrying the current trace
    /// context's `traceparent` and `tracestate` headers when there is one.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.client.request(method, self.url(path));
        TraceContext::with_current(|current| match current {
            Some(trace) => with_trace_headers(request, trace),
            None => request,
        })
    }

    /// A `GET` to `path`.
    pub fn get(&self, path: &str) -> RequestBuilder {
        self.request(Method::GET, path)
    }

    /// A `POST` to `path`.
    pub fn post(&self, path: &str) -> RequestBuilder {
        self.request(Method::POST, path)
    }

    /// A `PUT` to `path`.
    pub fn put(&self, path: &str) -> RequestBuilder {
        self.request(Method::PUT, path)
    }

    /// A `DELETE` to `path`.
    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.request(Method::DELETE, path)
    }

    /// Sends `request`; an error or an error status becomes a Foundation [`Error`] (see
    /// [`translate_reqwest_error`]).
    pub async fn execute(&self, request: RequestBuilder) -> Result<Response, Error> {
        let response = request.send().await.map_err(translate_reqwest_error)?;
        response.error_for_status().map_err(translate_reqwest_error)
    }

    /// The underlying client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Tells the pool to discard this worker when it is returned.
    pub fn mark_broken(&mut self) {
        self.broken = true;
    }
}

/// Adds `trace`'s `traceparent` header, and its `tracestate` header when it has one.
fn with_trace_headers(request: RequestBuilder, trace: &TraceContext) -> RequestBuilder {
    let request = request.header("traceparent", trace.traceparent());
    match trace.tracestate() {
        Some(state) => request.header("tracestate", state.to_string()),
        None => request,
    }
}

/// Translates a reqwest error: timeout → `EXTERNAL_TIMEOUT`, connect → `NETWORK`, 5xx status →
/// `UNAVAILABLE`, other status → `APPLICATION`, request/body I/O → `NETWORK`, decode →
/// `APPLICATION`, builder → `INVALID_INPUT`. The context carries `url` and `status` when
/// known; the reqwest error is the source.
pub fn translate_reqwest_error(e: reqwest::Error) -> Error {
    let code = if e.is_timeout() {
        ErrorCode::EXTERNAL_TIMEOUT
    } else if e.is_connect() {
        ErrorCode::NETWORK
    } else if let Some(status) = e.status() {
        if status.is_server_error() {
            ErrorCode::UNAVAILABLE
        } else {
            ErrorCode::APPLICATION
        }
    } else if e.is_builder() {
        ErrorCode::INVALID_INPUT
    } else if e.is_decode() || e.is_redirect() {
        ErrorCode::APPLICATION
    } else {
        ErrorCode::NETWORK
    };
    let mut err = Error::new(code, format!("http: {e}"));
    if let Some(url) = e.url() {
        err = err.with_context("url", url.as_str());
    }
    if let Some(status) = e.status() {
        err = err.with_context("status", status.as_u16());
    }
    err.with_source(e)
}
