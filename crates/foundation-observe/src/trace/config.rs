//! [`OtlpConfig`]: where spans are exported and as which service.

use std::time::Duration;

use foundation_core::millis;
use foundation_core::{Validate, Validator};
use serde::{Deserialize, Serialize};

/// Where and how spans are exported over OTLP/HTTP.
///
/// In TOML: `[otlp]` with `endpoint = "http://collector:4318"`, `service_name = "checkout"`,
/// `timeout_ms = 10000`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtlpConfig {
    /// The collector's OTLP/HTTP base URL (`http` or `https`); spans are posted to
    /// `{endpoint}/v1/traces`. Default `http://127.0.0.1:4318`.
    pub endpoint: String,
    /// The `service.name` resource attribute of every exported span. Default `foundation`.
    pub service_name: String,
    /// How long one export request may take. Default 10 s.
    #[serde(rename = "timeout_ms", with = "millis")]
    pub timeout: Duration,
}

impl Default for OtlpConfig {
    fn default() -> Self {
        OtlpConfig {
            endpoint: "http://127.0.0.1:4318".into(),
            service_name: "foundation".into(),
            timeout: Duration::from_secs(10),
        }
    }
}

impl OtlpConfig {
    /// The URL spans are posted to.
    pub fn traces_url(&self) -> String {
        format!("{}/v1/traces", self.endpoint.trim_end_matches('/'))
    }
}

impl Validate for OtlpConfig {
    fn validate_into(&self, v: &mut Validator) {
        let host = self
            .endpoint
            .strip_prefix("http://")
            .or_else(|| self.endpoint.strip_prefix("https://"));
        match host {
            None => v.check(
                false,
                "endpoint",
                format_args!(
                    "must be an http:// or https:// URL, got {:?}",
                    self.endpoint
                ),
            ),
            Some(rest) => v.check(
                !rest.is_empty()
                    && !rest.starts_with('/')
                    && !rest.contains(|c: char| c.is_whitespace() || c == '?' || c == '#'),
                "endpoint",
                format_args!(
                    "must name a host, with no spaces, query or fragment, got {:?}",
                    self.endpoint
                ),
            ),
        };
        v.non_empty("service_name", &self.service_name);
        v.positive_duration("timeout_ms", self.timeout);
    }
}
