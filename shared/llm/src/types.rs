//! The provider-neutral vocabulary: who to call, what to send, what comes back.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// The wire protocol a [`Provider`] speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// OpenAI-compatible chat completions: `POST {base}/v1/chat/completions`, `Authorization:
    /// Bearer …`, `data: {chunk}` … `data: [DONE]`.
    #[default]
    OpenAi,
    /// Anthropic Messages: `POST {base}/v1/messages`, `x-api-key` and `anthropic-version`,
    /// named SSE events (`message_start` … `message_stop`).
    Anthropic,
}

impl Dialect {
    /// A guess from the base URL: host `api.anthropic.com` (or any `*.anthropic.com`), or a
    /// path segment containing `anthropic` (a gateway's `…/anthropic/…` route), is
    /// [`Dialect::Anthropic`]; everything else is [`Dialect::OpenAi`].
    pub fn from_base_url(base_url: &str) -> Self {
        let lower = base_url.trim().to_ascii_lowercase();
        let rest = lower.split_once("://").map_or(lower.as_str(), |(_, r)| r);
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let host = host_port.split(':').next().unwrap_or("");
        let host = host.trim_end_matches('.');
        if host == "anthropic.com" || host.ends_with(".anthropic.com") {
            return Dialect::Anthropic;
        }
        let path = path.split(['?', '#']).next().unwrap_or("");
        if path.split('/').any(|segment| segment.contains("anthropic")) {
            return Dialect::Anthropic;
        }
        Dialect::OpenAi
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Dialect::OpenAi => "openai",
            Dialect::Anthropic => "anthropic",
        }
    }
}

/// `{base_url}/v1/{path}`, without doubling a `/v1` the base already ends with (both
/// dialects accept `https://api.example.com` and `https://api.example.com/v1`).
pub fn v1_endpoint(base_url: &str, path: &str) -> String {
    let base = base_url.trim_end_matches('/');
    if base.ends_with("/v1") {
        format!("{base}/{path}")
    } else {
        format!("{base}/v1/{path}")
    }
}

/// One upstream: a server, the dialect it speaks and the model to ask for.
#[derive(Clone, PartialEq, Eq)]
pub struct Provider {
    /// Ours, for logs and errors (e.g. "primary", "local-llama").
    pub name: String,
    /// `https://api.example.com` or `https://api.example.com/v1` (both work).
    pub base_url: String,
    /// Sent as `Authorization: Bearer …` (OpenAI) or `x-api-key` (Anthropic); never in
    /// `Debug`, errors or logs.
    pub api_key: Option<String>,
    pub model: String,
    /// Natively the TCP connect; in workerd fetch does not expose it (the first-token
    /// timeout bounds it instead).
    pub connect_timeout: Duration,
    /// From sending the request to the first event (headers included).
    pub first_token_timeout: Duration,
    /// The longest silence allowed between two chunks once the answer has started: a
    /// provider that stalls mid-answer ends the stream with [`crate::LlmError::Stalled`].
    pub idle_timeout: Duration,
    /// The wire protocol; [`Provider::new`] sets [`Dialect::OpenAi`] (see
    /// [`Dialect::from_base_url`] to guess it from the URL).
    pub dialect: Dialect,
    /// Sent with every request, e.g. the W3C `traceparent` of the request being served.
    pub extra_headers: Vec<(String, String)>,
}

impl Provider {
    /// An OpenAI-dialect provider with 10 s connect and 30 s first-token timeouts.
    pub fn new(name: impl Into<String>, base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Provider {
            name: name.into(),
            base_url: base_url.into(),
            api_key: None,
            model: model.into(),
            connect_timeout: Duration::from_secs(10),
            first_token_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(30),
            dialect: Dialect::OpenAi,
            extra_headers: Vec::new(),
        }
    }

    /// The same provider speaking `dialect`.
    pub fn with_dialect(mut self, dialect: Dialect) -> Self {
        self.dialect = dialect;
        self
    }
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("model", &self.model)
            .field("connect_timeout", &self.connect_timeout)
            .field("first_token_timeout", &self.first_token_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("dialect", &self.dialect)
            .field("extra_headers", &self.extra_headers)
            .finish()
    }
}

/// A complete tool call the model asked for (`arguments` is the JSON text it produced).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum ChatMessage {
    System {
        content: String,
    },
    User {
        content: String,
    },
    Assistant {
        #[serde(default)]
        content: Option<String>,
        #[serde(default)]
        tool_calls: Vec<ToolCall>,
    },
    Tool {
        tool_call_id: String,
        content: String,
    },
}

/// A function the model may call; `parameters` is a JSON Schema object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub parameters: serde_json::Value,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    #[serde(default)]
    pub tools: Vec<ToolSpec>,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub temperature: Option<f32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FinishReason {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
    Other(String),
}

impl FinishReason {
    pub fn parse(reason: &str) -> Self {
        match reason {
            "stop" => FinishReason::Stop,
            "length" => FinishReason::Length,
            // "function_call": the legacy name of the same thing.
            "tool_calls" | "function_call" => FinishReason::ToolCalls,
            "content_filter" => FinishReason::ContentFilter,
            other => FinishReason::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::ContentFilter => "content_filter",
            FinishReason::Other(other) => other,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// What a [`crate::ChatStream`] yields. `Finish` is always the last event of a good stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamEvent {
    TextDelta(String),
    /// One fragment of tool call `index`; fold them with [`crate::ToolCallAccumulator`].
    ToolCallDelta {
        index: u32,
        id: Option<String>,
        name: Option<String>,
        arguments_delta: String,
    },
    Finish {
        reason: FinishReason,
        usage: Option<Usage>,
    },
}
