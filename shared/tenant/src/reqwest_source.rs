//! The real [`JwksSource`]: an HTTP GET with `reqwest` (fetch in workerd, hyper natively).

use crate::jwks::{JwksError, JwksSource};
use serde_json::Value;
use std::time::Duration;

/// Fetches JWKS documents over HTTP with a short timeout.
#[derive(Debug, Clone)]
pub struct ReqwestJwks {
    http: reqwest::Client,
    timeout: Duration,
    headers: Vec<(String, String)>,
}

impl ReqwestJwks {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

    pub fn new() -> Self {
        Self { http: reqwest::Client::new(), timeout: Self::DEFAULT_TIMEOUT, headers: Vec::new() }
    }

    /// Extra headers for the key fetch (the served request's trace context).
    pub fn with_headers(mut self, headers: Vec<(String, String)>) -> Self {
        self.headers = headers;
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl Default for ReqwestJwks {
    fn default() -> Self {
        Self::new()
    }
}

impl JwksSource for ReqwestJwks {
    async fn fetch(&self, url: &str) -> Result<Value, JwksError> {
        let mut request = self.http.get(url).header("Accept", "application/json");
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let exchange = async {
            let response = request.send().await.map_err(|e| JwksError(format!("request failed: {e}")))?;
            let status = response.status();
            if !status.is_success() {
                return Err(JwksError(format!("status {}", status.as_u16())));
            }
            response.json().await.map_err(|e| JwksError(format!("invalid JSON: {e}")))
        };
        sba_sleep::within(self.timeout, exchange).await.unwrap_or_else(|| Err(JwksError("timed out".into())))
    }
}
