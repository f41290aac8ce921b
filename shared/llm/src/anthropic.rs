//! The Anthropic Messages streaming dialect: the request body and the named SSE events
//! (`message_start`, `content_block_start/delta/stop`, `message_delta`, `message_stop`, `ping`,
//! `error`), read as loose JSON so nulls, missing and extra fields anywhere are all fine.

use crate::error::LlmError;
use crate::openai::{error_message, Step};
use crate::types::{ChatMessage, ChatRequest, FinishReason, Provider, StreamEvent, Usage};
use serde_json::{json, Map, Value};

/// Sent as `anthropic-version`.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// `max_tokens` is required by the Messages API; this is used when the request has none.
pub const DEFAULT_MAX_TOKENS: u32 = 1024;

/// `{base_url}/v1/messages`, without doubling a `/v1` the base already ends with.
pub fn messages_url(base_url: &str) -> String {
    crate::types::v1_endpoint(base_url, "messages")
}

/// The streaming Messages request body for `provider`: system messages joined into `system`,
/// tool calls as `tool_use` blocks, tool results as `tool_result` blocks of a user message,
/// consecutive messages of the same role merged (the API wants alternating turns).
pub fn anthropic_request_body(provider: &Provider, request: &ChatRequest) -> Value {
    let mut system = Vec::new();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for m in &request.messages {
        let (role, blocks) = match m {
            ChatMessage::System { content } => {
                if !content.is_empty() {
                    system.push(content.as_str());
                }
                continue;
            }
            ChatMessage::User { content } => ("user", vec![text_block(content)]),
            ChatMessage::Assistant { content, tool_calls } => {
                let mut blocks = Vec::new();
                // Empty text blocks are rejected by the API.
                if let Some(text) = content.as_deref().filter(|t| !t.is_empty()) {
                    blocks.push(text_block(text));
                }
                for call in tool_calls {
                    let input = serde_json::from_str::<Value>(&call.arguments)
                        .ok()
                        .filter(Value::is_object)
                        .unwrap_or_else(|| json!({}));
                    blocks.push(json!({"type": "tool_use", "id": call.id, "name": call.name, "input": input}));
                }
                if blocks.is_empty() {
                    continue;
                }
                ("assistant", blocks)
            }
            ChatMessage::Tool { tool_call_id, content } => {
                ("user", vec![json!({"type": "tool_result", "tool_use_id": tool_call_id, "content": content})])
            }
        };
        match turns.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    let messages: Vec<Value> =
        turns.into_iter().map(|(role, content)| json!({"role": role, "content": content})).collect();

    let mut body = Map::new();
    body.insert("model".into(), json!(provider.model));
    body.insert("max_tokens".into(), json!(request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)));
    if !system.is_empty() {
        body.insert("system".into(), json!(system.join("\n\n")));
    }
    body.insert("messages".into(), Value::Array(messages));
    if !request.tools.is_empty() {
        let tools = request
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(t) = request.temperature {
        body.insert("temperature".into(), json!(t));
    }
    body.insert("stream".into(), json!(true));
    Value::Object(body)
}

fn text_block(text: &str) -> Value {
    json!({"type": "text", "text": text})
}

/// `end_turn`/`stop_sequence` → Stop, `tool_use` → ToolCalls, `max_tokens` → Length,
/// `refusal` → ContentFilter, anything else as is.
pub fn finish_reason(stop_reason: &str) -> FinishReason {
    match stop_reason {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "tool_use" => FinishReason::ToolCalls,
        "max_tokens" => FinishReason::Length,
        "refusal" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

/// The stream's state across events: input tokens from `message_start`, the stop reason and
/// output tokens from `message_delta`; the finish is reported at `message_stop`.
#[derive(Debug, Default)]
pub(crate) struct AnthropicStream {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    finish_reason: Option<FinishReason>,
}

impl AnthropicStream {
    pub fn on_event(&mut self, event: &str, data: &str) -> Result<Step, LlmError> {
        let data = data.trim();
        if event == "ping" {
            return Ok(Step::Events(Vec::new()));
        }
        if data.is_empty() {
            if event == "error" {
                return Err(LlmError::MidStream { message: "error event without details".into() });
            }
            if event == "message_stop" {
                return Ok(Step::Done(self.finish(FinishReason::Stop)));
            }
            return Ok(Step::Events(Vec::new()));
        }
        let v: Value = match serde_json::from_str(data) {
            Ok(v) => v,
            Err(_) if event == "error" => {
                return Err(LlmError::MidStream { message: crate::error::excerpt(data, None, 200) })
            }
            Err(e) => return Err(LlmError::Protocol(format!("event is not JSON: {e}"))),
        };
        // The event name, or the payload's `type` when a server leaves `event:` out.
        let kind = if event.is_empty() || event == "message" {
            v.get("type").and_then(Value::as_str).unwrap_or("")
        } else {
            event
        };
        match kind {
            "error" => Err(LlmError::MidStream {
                message: error_message(v.get("error").filter(|e| !e.is_null()).unwrap_or(&v)),
            }),
            "message_start" => {
                let usage = v.get("message").and_then(|m| m.get("usage"));
                self.read_usage(usage);
                Ok(Step::Events(Vec::new()))
            }
            "content_block_start" => {
                let index = block_index(&v);
                let Some(block) = v.get("content_block").filter(|b| b.is_object()) else {
                    return Ok(Step::Events(Vec::new()));
                };
                let mut events = Vec::new();
                match block.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        if let Some(text) = str_of(block.get("text")) {
                            events.push(StreamEvent::TextDelta(text.to_owned()));
                        }
                    }
                    Some("tool_use") => {
                        // `input` is `{}` here; the arguments come as `input_json_delta`s.
                        let arguments_delta = match block.get("input") {
                            Some(Value::Object(o)) if !o.is_empty() => Value::Object(o.clone()).to_string(),
                            _ => String::new(),
                        };
                        events.push(StreamEvent::ToolCallDelta {
                            index,
                            id: str_of(block.get("id")).map(str::to_owned),
                            name: str_of(block.get("name")).map(str::to_owned),
                            arguments_delta,
                        });
                    }
                    // thinking, redacted_thinking, server tools…: not ours to report.
                    _ => {}
                }
                Ok(Step::Events(events))
            }
            "content_block_delta" => {
                let index = block_index(&v);
                let Some(delta) = v.get("delta").filter(|d| d.is_object()) else {
                    return Ok(Step::Events(Vec::new()));
                };
                let mut events = Vec::new();
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        if let Some(text) = str_of(delta.get("text")) {
                            events.push(StreamEvent::TextDelta(text.to_owned()));
                        }
                    }
                    Some("input_json_delta") => {
                        if let Some(part) = str_of(delta.get("partial_json")) {
                            events.push(StreamEvent::ToolCallDelta {
                                index,
                                id: None,
                                name: None,
                                arguments_delta: part.to_owned(),
                            });
                        }
                    }
                    // thinking_delta, signature_delta, citations_delta…
                    _ => {}
                }
                Ok(Step::Events(events))
            }
            "message_delta" => {
                if let Some(reason) = v.get("delta").and_then(|d| str_of(d.get("stop_reason"))) {
                    self.finish_reason = Some(finish_reason(reason));
                }
                self.read_usage(v.get("usage"));
                Ok(Step::Events(Vec::new()))
            }
            "message_stop" => Ok(Step::Done(self.finish(FinishReason::Stop))),
            // content_block_stop, ping, unknown future events.
            _ => Ok(Step::Events(Vec::new())),
        }
    }

    /// The body ended without `message_stop`.
    pub fn on_eof(&mut self) -> Result<StreamEvent, LlmError> {
        if self.finish_reason.is_none() {
            return Err(LlmError::Truncated);
        }
        Ok(self.finish(FinishReason::Stop))
    }

    /// `input_tokens` and `output_tokens` where present (counts are cumulative).
    fn read_usage(&mut self, usage: Option<&Value>) {
        let Some(u) = usage.filter(|u| u.is_object()) else {
            return;
        };
        if let Some(n) = u.get("input_tokens").and_then(Value::as_u64) {
            self.input_tokens = Some(n);
        }
        if let Some(n) = u.get("output_tokens").and_then(Value::as_u64) {
            self.output_tokens = Some(n);
        }
    }

    fn finish(&mut self, fallback: FinishReason) -> StreamEvent {
        let usage = if self.input_tokens.is_some() || self.output_tokens.is_some() {
            Some(Usage {
                prompt_tokens: self.input_tokens.unwrap_or(0),
                completion_tokens: self.output_tokens.unwrap_or(0),
            })
        } else {
            None
        };
        StreamEvent::Finish { reason: self.finish_reason.take().unwrap_or(fallback), usage }
    }
}

fn block_index(v: &Value) -> u32 {
    v.get("index").and_then(Value::as_u64).and_then(|i| u32::try_from(i).ok()).unwrap_or(0)
}

/// A non-empty string, or nothing.
fn str_of(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Dialect, ToolCall, ToolSpec};

    fn events(s: &mut AnthropicStream, event: &str, data: &str) -> Vec<StreamEvent> {
        match s.on_event(event, data) {
            Ok(Step::Events(e)) => e,
            Ok(Step::Done(e)) => panic!("unexpected Done({e:?})"),
            Err(e) => panic!("unexpected {e:?}"),
        }
    }

    #[test]
    fn url_with_or_without_v1() {
        assert_eq!(messages_url("https://api.anthropic.com"), "https://api.anthropic.com/v1/messages");
        assert_eq!(messages_url("https://api.anthropic.com/"), "https://api.anthropic.com/v1/messages");
        assert_eq!(messages_url("https://api.anthropic.com/v1/"), "https://api.anthropic.com/v1/messages");
        assert_eq!(messages_url("http://gw/anthropic"), "http://gw/anthropic/v1/messages");
    }

    #[test]
    fn dialect_from_base_url() {
        for url in [
            "https://api.anthropic.com",
            "https://API.Anthropic.com/v1",
            "https://api.anthropic.com:443/",
            "https://gateway.ai.cloudflare.com/v1/acct/gw/anthropic",
            "http://127.0.0.1:8080/anthropic/v1",
        ] {
            assert_eq!(Dialect::from_base_url(url), Dialect::Anthropic, "{url}");
        }
        for url in [
            "https://api.openai.com/v1",
            "http://127.0.0.1:8080",
            "https://anthropic.com.evil.example/v1",
            "https://x.example/v1?q=anthropic",
            "",
        ] {
            assert_eq!(Dialect::from_base_url(url), Dialect::OpenAi, "{url}");
        }
        assert_eq!(Dialect::default(), Dialect::OpenAi);
        assert_eq!(Provider::new("p", "https://api.anthropic.com", "m").dialect, Dialect::OpenAi);
    }

    #[test]
    fn body_shapes() {
        let provider = Provider::new("p", "http://h", "claude-x").with_dialect(Dialect::Anthropic);
        let request = ChatRequest {
            messages: vec![
                ChatMessage::System { content: "be brief".into() },
                ChatMessage::System { content: "be kind".into() },
                ChatMessage::User { content: "hi".into() },
                ChatMessage::Assistant {
                    content: Some("let me look".into()),
                    tool_calls: vec![
                        ToolCall { id: "t1".into(), name: "f".into(), arguments: r#"{"a":1}"#.into() },
                        ToolCall { id: "t2".into(), name: "g".into(), arguments: "not json".into() },
                    ],
                },
                ChatMessage::Tool { tool_call_id: "t1".into(), content: "42".into() },
                ChatMessage::Tool { tool_call_id: "t2".into(), content: "43".into() },
                ChatMessage::Assistant { content: Some("done".into()), tool_calls: vec![] },
                ChatMessage::Assistant { content: None, tool_calls: vec![] },
            ],
            tools: vec![ToolSpec { name: "f".into(), description: "d".into(), parameters: json!({"type": "object"}) }],
            max_tokens: None,
            temperature: Some(0.5),
        };
        assert_eq!(
            anthropic_request_body(&provider, &request),
            json!({
                "model": "claude-x",
                "max_tokens": 1024,
                "system": "be brief\n\nbe kind",
                "messages": [
                    {"role": "user", "content": [{"type": "text", "text": "hi"}]},
                    {"role": "assistant", "content": [
                        {"type": "text", "text": "let me look"},
                        {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
                        {"type": "tool_use", "id": "t2", "name": "g", "input": {}}
                    ]},
                    {"role": "user", "content": [
                        {"type": "tool_result", "tool_use_id": "t1", "content": "42"},
                        {"type": "tool_result", "tool_use_id": "t2", "content": "43"}
                    ]},
                    {"role": "assistant", "content": [{"type": "text", "text": "done"}]}
                ],
                "tools": [{"name": "f", "description": "d", "input_schema": {"type": "object"}}],
                "temperature": 0.5,
                "stream": true
            })
        );
        let plain = anthropic_request_body(&provider, &ChatRequest { max_tokens: Some(64), ..ChatRequest::default() });
        assert_eq!(plain["max_tokens"], json!(64));
        assert!(plain.get("system").is_none() && plain.get("tools").is_none());
        assert!(plain.get("temperature").is_none());
    }

    #[test]
    fn text_tool_use_and_finish() {
        let mut s = AnthropicStream::default();
        assert!(events(&mut s, "message_start", r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"m","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"output_tokens":1}}}"#).is_empty());
        assert!(events(
            &mut s,
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#
        )
        .is_empty());
        assert!(events(&mut s, "ping", r#"{"type": "ping"}"#).is_empty());
        assert_eq!(
            events(
                &mut s,
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#
            ),
            vec![StreamEvent::TextDelta("Hi".into())]
        );
        assert!(events(&mut s, "content_block_stop", r#"{"type":"content_block_stop","index":0}"#).is_empty());
        assert_eq!(
            events(
                &mut s,
                "content_block_start",
                r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"get","input":{}}}"#
            ),
            vec![StreamEvent::ToolCallDelta {
                index: 1,
                id: Some("toolu_1".into()),
                name: Some("get".into()),
                arguments_delta: String::new()
            }]
        );
        assert!(events(
            &mut s,
            "content_block_delta",
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}"#
        )
        .is_empty());
        assert_eq!(
            events(
                &mut s,
                "content_block_delta",
                r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a\":"}}"#
            ),
            vec![StreamEvent::ToolCallDelta { index: 1, id: None, name: None, arguments_delta: "{\"a\":".into() }]
        );
        assert!(events(
            &mut s,
            "content_block_delta",
            r#"{"type":"content_block_delta","index":2,"delta":{"type":"thinking_delta","thinking":"hm"}}"#
        )
        .is_empty());
        assert!(events(&mut s, "message_delta", r#"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":15}}"#).is_empty());
        assert!(events(&mut s, "some_future_event", r#"{"x":1}"#).is_empty());
        match s.on_event("message_stop", r#"{"type":"message_stop"}"#) {
            Ok(Step::Done(e)) => assert_eq!(
                e,
                StreamEvent::Finish {
                    reason: FinishReason::ToolCalls,
                    usage: Some(Usage { prompt_tokens: 25, completion_tokens: 15 })
                }
            ),
            _ => panic!("expected Done"),
        }
    }

    #[test]
    fn unnamed_events_use_the_payload_type() {
        let mut s = AnthropicStream::default();
        assert_eq!(
            events(&mut s, "", r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}"#),
            vec![StreamEvent::TextDelta("x".into())]
        );
        assert!(matches!(s.on_event("", r#"{"type":"message_stop"}"#), Ok(Step::Done(_))));
    }

    #[test]
    fn stop_reasons() {
        assert_eq!(finish_reason("end_turn"), FinishReason::Stop);
        assert_eq!(finish_reason("stop_sequence"), FinishReason::Stop);
        assert_eq!(finish_reason("tool_use"), FinishReason::ToolCalls);
        assert_eq!(finish_reason("max_tokens"), FinishReason::Length);
        assert_eq!(finish_reason("pause_turn"), FinishReason::Other("pause_turn".into()));
    }

    #[test]
    fn errors_and_eof() {
        let mut s = AnthropicStream::default();
        assert_eq!(
            s.on_event("error", r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#).err(),
            Some(LlmError::MidStream { message: "Overloaded".into() })
        );
        assert!(matches!(s.on_event("error", "boom"), Err(LlmError::MidStream { message }) if message == "boom"));
        assert!(matches!(s.on_event("content_block_delta", "nope"), Err(LlmError::Protocol(_))));
        assert_eq!(AnthropicStream::default().on_eof(), Err(LlmError::Truncated));
        let mut s = AnthropicStream::default();
        let _ = s.on_event("message_delta", r#"{"delta":{"stop_reason":"max_tokens"},"usage":null}"#);
        assert_eq!(s.on_eof(), Ok(StreamEvent::Finish { reason: FinishReason::Length, usage: None }));
        // Explicit nulls everywhere.
        let mut s = AnthropicStream::default();
        assert!(events(&mut s, "message_start", r#"{"message":null}"#).is_empty());
        assert!(events(&mut s, "content_block_start", r#"{"index":null,"content_block":null}"#).is_empty());
        assert!(events(&mut s, "content_block_delta", r#"{"index":0,"delta":{"type":"text_delta","text":null}}"#)
            .is_empty());
        assert!(events(&mut s, "message_delta", r#"{"delta":null,"usage":{"output_tokens":null}}"#).is_empty());
    }
}
