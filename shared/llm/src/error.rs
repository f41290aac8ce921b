//! Errors as values, each with a stable code; none of them carries an API key.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LlmError {
    /// No answer at all: connection refused, DNS, TLS, connect timeout, fetch failure.
    Connect(String),
    /// A non-2xx answer; `body` is an excerpt (≤ 200 chars, the API key redacted).
    Http { status: u16, body: String },
    /// No first event within the provider's `first_token_timeout`.
    Timeout,
    /// The provider reported an error inside the stream (an `error` chunk or event).
    MidStream { message: String },
    /// The body ended without `[DONE]` and without a `finish_reason`.
    Truncated,
    /// Reading the body failed after the answer had started arriving.
    Network(String),
    /// Nothing arrived for the provider's `idle_timeout` (in ms) in the middle of an answer.
    Stalled { idle_ms: u64 },
    /// A frame we cannot understand (not JSON, or an oversized line).
    Protocol(String),
    /// Every provider failed over; `(provider name, error)` in the order tried.
    AllProvidersFailed { attempts: Vec<(String, String)> },
}

impl LlmError {
    /// Stable, machine-readable.
    pub fn code(&self) -> &'static str {
        match self {
            LlmError::Connect(_) => "llm_connect",
            LlmError::Http { .. } => "llm_http",
            LlmError::Timeout => "llm_timeout",
            LlmError::MidStream { .. } => "llm_stream_error",
            LlmError::Truncated => "llm_truncated",
            LlmError::Network(_) => "llm_network",
            LlmError::Stalled { .. } => "llm_stalled",
            LlmError::Protocol(_) => "llm_protocol",
            LlmError::AllProvidersFailed { .. } => "llm_unavailable",
        }
    }

    /// Before the first event: is the next provider worth a try? A 4xx other than 429 means
    /// our request is wrong, and it would be wrong everywhere.
    pub fn fails_over(&self) -> bool {
        match self {
            LlmError::Connect(_)
            | LlmError::Timeout
            | LlmError::Network(_)
            | LlmError::Stalled { .. }
            | LlmError::Truncated => true,
            LlmError::Http { status, .. } => *status == 429 || *status >= 500,
            LlmError::MidStream { .. } | LlmError::Protocol(_) | LlmError::AllProvidersFailed { .. } => false,
        }
    }
}

impl fmt::Display for LlmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LlmError::Connect(e) => write!(f, "could not reach the provider: {e}"),
            LlmError::Http { status, body } => write!(f, "provider answered HTTP {status}: {body}"),
            LlmError::Timeout => f.write_str("no first token within the timeout"),
            LlmError::MidStream { message } => write!(f, "provider error mid-stream: {message}"),
            LlmError::Truncated => f.write_str("stream ended without [DONE] or finish_reason"),
            LlmError::Network(e) => write!(f, "reading the stream failed: {e}"),
            LlmError::Stalled { idle_ms } => {
                write!(f, "the provider sent nothing for {idle_ms} ms in the middle of its answer")
            }
            LlmError::Protocol(e) => write!(f, "unreadable stream: {e}"),
            LlmError::AllProvidersFailed { attempts } => {
                f.write_str("all providers failed")?;
                for (name, error) in attempts {
                    write!(f, "; {name}: {error}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for LlmError {}

/// At most `max` chars of `body`, with `secret` (if any) replaced.
pub(crate) fn excerpt(body: &str, secret: Option<&str>, max: usize) -> String {
    let redacted = match secret {
        Some(s) if !s.is_empty() => body.replace(s, "[redacted]"),
        _ => body.to_owned(),
    };
    let trimmed = redacted.trim();
    if trimmed.chars().nth(max).is_none() {
        return trimmed.to_owned();
    }
    let cut = trimmed.char_indices().nth(max.saturating_sub(1)).map_or(0, |(i, _)| i);
    format!("{}…", &trimmed[..cut])
}
