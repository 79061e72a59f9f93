//! [`WebhookReceiver`]: notifications POSTed as JSON.

use std::time::Duration;

use futures::future::BoxFuture;
use reqwest::{Client, Url};

use foundation_core::{Error, Result};
use foundation_protect::pool::http::translate_reqwest_error;

use crate::alert::receiver::{Notification, Receiver};

/// POSTs each notification as JSON (Alertmanager's webhook format) to a URL. A 2xx answer is
/// a delivery; a 5xx, a connection failure or no answer is a retryable failure; another
/// status is a failure that is not retried. The manager runs every delivery through the
/// receiver's `Protection`, whose timeout bounds a hung endpoint.
#[derive(Debug, Clone)]
pub struct WebhookReceiver {
    name: String,
    url: Url,
    client: Client,
}

impl WebhookReceiver {
    /// A receiver called `name` posting to `url` (`http` or `https`); `INVALID_CONFIG` naming
    /// `url` when it is malformed.
    pub fn new(name: impl Into<String>, url: &str) -> Result<WebhookReceiver> {
        let url = parse_url(url).map_err(|reason| Error::invalid_config("url", reason))?;
        let client = Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(translate_reqwest_error)?;
        Ok(WebhookReceiver {
            name: name.into(),
            url,
            client,
        })
    }

    /// The URL posted to.
    pub fn url(&self) -> &str {
        self.url.as_str()
    }
}

/// Parses an `http` or `https` URL; the reason it is not one otherwise.
pub(crate) fn parse_url(text: &str) -> std::result::Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    if matches!(url.scheme(), "http" | "https") {
        Ok(url)
    } else {
        Err(format!(
            "scheme must be http or https, got {}",
            url.scheme()
        ))
    }
}

impl Receiver for WebhookReceiver {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "webhook"
    }

    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let body = serde_json::to_vec(n).map_err(|e| {
                Error::new(foundation_core::ErrorCode::INTERNAL, format!("json: {e}"))
            })?;
            let response = self
                .client
                .post(self.url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body)
                .send()
                .await
                .map_err(translate_reqwest_error)?;
            response
                .error_for_status()
                .map(drop)
                .map_err(|e| translate_reqwest_error(e).with_context("receiver", &self.name))
        })
    }
}
