//! The real [`JwksSource`]: an HTTP GET through `sba_outbound::http` (fetch in workerd, hyper
//! natively; a redirect is an error, never followed).

use crate::jwks::{JwksError, JwksSource};
use sba_outbound::http::{self, Outgoing};
use serde_json::Value;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The check every URL passes before it is fetched; `Err` says why not (for the log).
type Allow = Arc<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// Fetches JWKS and discovery documents over HTTP with a short timeout.
#[derive(Clone)]
pub struct HttpJwks {
    timeout: Duration,
    headers: Vec<(String, String)>,
    allow: Option<Allow>,
}

impl fmt::Debug for HttpJwks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpJwks")
            .field("timeout", &self.timeout)
            .field("headers", &self.headers)
            .field("allow", &self.allow.is_some())
            .finish()
    }
}

impl HttpJwks {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

    pub fn new() -> Self {
        Self { timeout: Self::DEFAULT_TIMEOUT, headers: Vec::new(), allow: None }
    }

    /// Extra headers for the key fetch (the served request's trace context).
    pub fn with_headers(mut self, headers: Vec<(String, String)>) -> Self {
        self.headers = headers;
        self
    }

    /// Refuses, without a request, every URL `allow` rejects: the Worker's outbound
    /// allowlist. Needed because a discovered `jwks_uri` is only known here; it turns into a
    /// 503 `auth_unavailable` with the `Err` text in the log. Without it every URL is fetched.
    pub fn with_allow(mut self, allow: impl Fn(&str) -> Result<(), String> + Send + Sync + 'static) -> Self {
        self.allow = Some(Arc::new(allow));
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
        if let Some(allow) = &self.allow {
            allow(url).map_err(|why| JwksError(format!("{url} not fetched: {why}")))?;
        }
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
