//! Provider-neutral streaming chat for the agent: one [`ChatRequest`] in, a stream of
//! [`StreamEvent`]s (text deltas, tool-call fragments, one finish) out, with failover across an
//! ordered list of [`Provider`]s. Requests go through `sba_outbound::http`, so the same code runs in
//! workerd (the runtime's fetch) and natively in tests, and never follows a redirect.
//!
//! What it does: speaks two streaming dialects, chosen per provider by [`Dialect`]: the
//! OpenAI-compatible chat completions (`data: {chunk}` frames ending in `data: [DONE]`) and
//! Anthropic Messages (named SSE events, no `[DONE]`); parses SSE over arbitrary byte chunks; folds
//! tool-call fragments by index ([`ToolCallAccumulator`]); fails over to the next provider on a
//! connect error, 5xx (Anthropic's 529 included), 429 or a missing first token, but never once an answer has started.
//! Errors are values ([`LlmError`]), nothing panics on any input, the clock is never read
//! (timeouts are timers), and API keys never reach `Debug`, errors or logs.
//!
//! Not for: AG-UI framing (the agent maps events to AG-UI), retries of a started answer,
//! token counting, prompt building or running tools.

mod accumulator;
mod anthropic;
mod error;
mod failover;
mod openai;
mod sse;
mod types;

pub use accumulator::{ToolCallAccumulator, ToolCallProgress, ToolCallStart};
pub use anthropic::{anthropic_request_body, messages_url, ANTHROPIC_VERSION, DEFAULT_MAX_TOKENS};
pub use error::LlmError;
pub use failover::{open_stream, ChatStream};
pub use openai::{chat_completions_url, request_body};
pub use sse::{SseDecoder, SseEvent};
pub use types::{
    v1_endpoint, ChatMessage, ChatRequest, Dialect, FinishReason, Provider, StreamEvent, ToolCall, ToolSpec, Usage,
};
