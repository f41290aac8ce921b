//! [`open_stream`]: try providers in order until one produces a first event, then hand the
//! caller a [`ChatStream`] bound to that provider for the rest of the answer.

use crate::anthropic::{self, AnthropicStream};
use crate::error::{excerpt, LlmError};
use crate::openai::{self, OpenAiStream, Step};
use crate::sse::SseDecoder;
use crate::types::{ChatRequest, Dialect, Provider, StreamEvent};
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use sba_sleep::sleep;
use std::collections::VecDeque;

use sba_outbound::http::{self, BodyStream, Outgoing};

/// Opens a streamed answer, failing over to the next provider on a connect error, a 5xx or
/// 429 (Anthropic's 529 "overloaded" included), a timeout or a broken/empty body — all before the first event, which is awaited here
/// (so a provider that connects but stalls fails over). A 4xx other than 429 is returned
/// as is: our request is wrong. After the first event nothing switches provider silently:
/// errors come out of [`ChatStream::next`].
pub async fn open_stream(providers: &[Provider], request: &ChatRequest) -> Result<ChatStream, LlmError> {
    let mut attempts = Vec::new();
    for provider in providers {
        match open_one(provider, request).await {
            Ok(stream) => return Ok(stream),
            Err(e) if e.fails_over() => attempts.push((provider.name.clone(), e.to_string())),
            Err(e) => return Err(e),
        }
    }
    Err(LlmError::AllProvidersFailed { attempts })
}

/// One provider's answer. Dropping it drops the response body, which aborts the upstream
/// request (in workerd: the fetch's AbortController).
pub struct ChatStream {
    /// The name of the provider that is answering.
    pub provider: String,
    first: Option<StreamEvent>,
    events: EventReader,
}

impl ChatStream {
    /// The next event; `None` after `Finish` or after an error.
    pub async fn next(&mut self) -> Option<Result<StreamEvent, LlmError>> {
        if let Some(first) = self.first.take() {
            return Some(Ok(first));
        }
        self.events.next().await
    }
}

impl std::fmt::Debug for ChatStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatStream").field("provider", &self.provider).finish_non_exhaustive()
    }
}

async fn open_one(provider: &Provider, request: &ChatRequest) -> Result<ChatStream, LlmError> {
    let attempt = async {
        let mut events = EventReader::new(send(provider, request).await?, provider.dialect, provider.idle_timeout);
        match events.next().await {
            Some(Ok(first)) => Ok(ChatStream { provider: provider.name.clone(), first: Some(first), events }),
            Some(Err(e)) => Err(e),
            None => Err(LlmError::Truncated),
        }
    };
    // Dropping the losing attempt drops its request/response: the upstream is aborted.
    match select(Box::pin(attempt), Box::pin(sleep(provider.first_token_timeout))).await {
        Either::Left((result, _)) => result,
        Either::Right(_) => Err(LlmError::Timeout),
    }
}

async fn send(provider: &Provider, request: &ChatRequest) -> Result<BodyStream, LlmError> {
    let (url, body) = match provider.dialect {
        Dialect::OpenAi => (openai::chat_completions_url(&provider.base_url), openai::request_body(provider, request)),
        Dialect::Anthropic => {
            (anthropic::messages_url(&provider.base_url), anthropic::anthropic_request_body(provider, request))
        }
    };
    let body = serde_json::to_vec(&body).map_err(|e| LlmError::Protocol(format!("request body: {e}")))?;
    let mut outgoing = Outgoing::post(url, body)
        .header("content-type", "application/json")
        .header("accept", "text/event-stream")
        .headers(&provider.extra_headers)
        // Natively only: fetch has no connect timeout; the first-token timeout bounds the
        // whole opening.
        .connect_timeout(provider.connect_timeout);
    match provider.dialect {
        Dialect::OpenAi => {
            if let Some(key) = &provider.api_key {
                outgoing = outgoing.header("authorization", format!("Bearer {key}"));
            }
        }
        Dialect::Anthropic => {
            outgoing = outgoing.header("anthropic-version", anthropic::ANTHROPIC_VERSION);
            if let Some(key) = &provider.api_key {
                outgoing = outgoing.header("x-api-key", key);
            }
        }
    }
    // Every failure before an answer is "could not reach": fetch in workerd does not say more.
    // A redirect is one of them: it is never followed, and the next provider is tried.
    let reply = http::send(outgoing)
        .await
        .map_err(|e| LlmError::Connect(excerpt(&e.to_string(), provider.api_key.as_deref(), 200)))?;
    let status = reply.status;
    if !reply.is_success() {
        let text = reply.bytes().await.map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
        return Err(LlmError::Http { status, body: excerpt(&text, provider.api_key.as_deref(), 200) });
    }
    Ok(reply.into_stream())
}

/// One dialect's per-stream state.
enum DialectStream {
    OpenAi(OpenAiStream),
    Anthropic(AnthropicStream),
}

impl DialectStream {
    fn new(dialect: Dialect) -> Self {
        match dialect {
            Dialect::OpenAi => DialectStream::OpenAi(OpenAiStream::default()),
            Dialect::Anthropic => DialectStream::Anthropic(AnthropicStream::default()),
        }
    }

    fn on_event(&mut self, event: &str, data: &str) -> Result<Step, LlmError> {
        match self {
            DialectStream::OpenAi(s) => s.on_event(event, data),
            DialectStream::Anthropic(s) => s.on_event(event, data),
        }
    }

    fn on_eof(&mut self) -> Result<StreamEvent, LlmError> {
        match self {
            DialectStream::OpenAi(s) => s.on_eof(),
            DialectStream::Anthropic(s) => s.on_eof(),
        }
    }
}

/// Bytes → SSE events → dialect events, one at a time.
struct EventReader {
    body: Option<BodyStream>,
    /// The longest wait for the next chunk.
    idle: std::time::Duration,
    sse: SseDecoder,
    dialect: DialectStream,
    ready: VecDeque<Result<StreamEvent, LlmError>>,
    over: bool,
}

impl EventReader {
    fn new(body: BodyStream, dialect: Dialect, idle: std::time::Duration) -> Self {
        EventReader {
            body: Some(body),
            idle,
            sse: SseDecoder::new(),
            dialect: DialectStream::new(dialect),
            ready: VecDeque::new(),
            over: false,
        }
    }

    async fn next(&mut self) -> Option<Result<StreamEvent, LlmError>> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(item);
            }
            if self.over {
                return None;
            }
            let body = self.body.as_mut()?;
            let Some(chunk) = sba_sleep::within(self.idle, body.next()).await else {
                // Dropping the body aborts the upstream request.
                self.end(Err(LlmError::Stalled { idle_ms: self.idle.as_millis() as u64 }));
                continue;
            };
            match chunk {
                Some(Ok(bytes)) => {
                    if let Err(e) = self.sse.feed(&bytes) {
                        self.end(Err(e));
                        continue;
                    }
                    self.drain_sse();
                }
                Some(Err(e)) => self.end(Err(LlmError::Network(e.to_string()))),
                None => {
                    self.sse.finish();
                    self.drain_sse();
                    if !self.over {
                        let last = self.dialect.on_eof();
                        self.end(last);
                    }
                }
            }
        }
    }

    fn drain_sse(&mut self) {
        while !self.over {
            let Some(event) = self.sse.next_event() else {
                break;
            };
            match self.dialect.on_event(&event.event, &event.data) {
                Ok(Step::Events(events)) => self.ready.extend(events.into_iter().map(Ok)),
                Ok(Step::Done(last)) => self.end(Ok(last)),
                Err(e) => self.end(Err(e)),
            }
        }
    }

    /// The last item; the body is dropped (closing/aborting the upstream) right away.
    fn end(&mut self, last: Result<StreamEvent, LlmError>) {
        self.ready.push_back(last);
        self.over = true;
        self.body = None;
    }
}

#[cfg(test)]
#[path = "failover_tests.rs"]
mod tests;
