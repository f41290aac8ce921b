use crate::RedisError;
use serde_json::Value;
use std::time::Duration;

/// One Upstash-compatible endpoint: its base URL and bearer token.
#[derive(Debug, Clone)]
pub struct RedisRest {
    base_url: String,
    token: String,
    timeout: Duration,
    http: reqwest::Client,
}

impl RedisRest {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(300);

    pub fn new(base_url: impl Into<String>, token: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            token: token.into(),
            timeout: Self::DEFAULT_TIMEOUT,
            http: reqwest::Client::new(),
        }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// One command, e.g. `["SET", "k", "v"]`; the `result` field of the answer.
    pub async fn command<S: AsRef<str>>(&self, args: &[S]) -> Result<Value, RedisError> {
        let body: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
        let response = self
            .http
            .post(&self.base_url)
            .bearer_auth(&self.token)
            .timeout(self.timeout)
            .json(&body)
            .send()
            .await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        let answer: Value = serde_json::from_str(&text)
            .map_err(|_| RedisError::Http { status, message: text.chars().take(200).collect() })?;
        if let Some(error) = answer.get("error").and_then(Value::as_str) {
            return Err(if status == 400 { RedisError::Redis(error.to_owned()) } else { RedisError::Http { status, message: error.to_owned() } });
        }
        if !(200..300).contains(&status) {
            return Err(RedisError::Http { status, message: text.chars().take(200).collect() });
        }
        answer.get("result").cloned().ok_or_else(|| RedisError::Protocol(format!("no result in {answer}")))
    }

    /// `PING`, for readiness probes.
    pub async fn ping(&self) -> Result<(), RedisError> {
        match self.command(&["PING"]).await? {
            Value::String(s) if s == "PONG" => Ok(()),
            other => Err(RedisError::Protocol(format!("PING answered {other}"))),
        }
    }
}
