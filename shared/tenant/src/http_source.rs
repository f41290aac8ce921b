//! The real [`JwksSource`]: an HTTP GET through `sba_outbound::http` (fetch in workerd, hyper
//! natively; a redirect is an error, never followed).

use crate::jwks::{JwksError, JwksSource};
use serde_json::Value;
use sba_outbound::http::{self, Outgoing};
use std::time::Duration;

/// Fetches JWKS documents over HTTP with a short timeout.
#[derive(Debug, Clone)]
pub struct HttpJwks {
    timeout: Duration,
    headers: Vec<(String, String)>,
}

impl HttpJwks {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

    pub fn new() -> Self {
        Self { timeout: Self::DEFAULT_TIMEOUT, headers: Vec::new() }
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

impl Default for HttpJwks {
    fn default() -> Self {
        Self::new()
    }
}

impl JwksSource for HttpJwks {
    async fn fetch(&self, url: &str) -> Result<Value, JwksError> {
        let request = Outgoing::get(url).header("accept", "application/json").headers(&self.headers);
        let exchange = async {
            let reply = http::send(request).await.map_err(|e| JwksError(e.to_string()))?;
            if !reply.is_success() {
                return Err(JwksError(format!("status {}", reply.status)));
            }
            let body = reply.bytes().await.map_err(|e| JwksError(e.to_string()))?;
            serde_json::from_slice(&body).map_err(|e| JwksError(format!("invalid JSON: {e}")))
        };
        sba_sleep::within(self.timeout, exchange).await.unwrap_or_else(|| Err(JwksError("timed out".into())))
    }
}
