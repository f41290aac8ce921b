//! The OpenAI-compatible chat-completions dialect: the request body and the streamed chunks
//! (`data: {chunk}` … `data: [DONE]`), read as loose JSON so explicit `null`s, missing
//! fields and extra fields anywhere are all fine.

use crate::error::LlmError;
use crate::types::{ChatMessage, ChatRequest, FinishReason, Provider, StreamEvent, Usage};
use serde_json::{json, Map, Value};

/// `{base_url}/v1/chat/completions`, without doubling a `/v1` the base already ends with.
pub fn chat_completions_url(base_url: &str) -> String {
    crate::types::v1_endpoint(base_url, "chat/completions")
}

/// The streaming request body for `provider`.
pub fn request_body(provider: &Provider, request: &ChatRequest) -> Value {
    let messages: Vec<Value> = request.messages.iter().map(message).collect();
    let mut body = Map::new();
    body.insert("model".into(), json!(provider.model));
    body.insert("messages".into(), Value::Array(messages));
    if !request.tools.is_empty() {
        let tools = request
            .tools
            .iter()
            .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}))
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    body.insert("stream".into(), json!(true));
    body.insert("stream_options".into(), json!({"include_usage": true}));
    if let Some(max) = request.max_tokens {
        body.insert("max_tokens".into(), json!(max));
    }
    if let Some(t) = request.temperature {
        body.insert("temperature".into(), json!(t));
    }
    Value::Object(body)
}

fn message(m: &ChatMessage) -> Value {
    match m {
        ChatMessage::System { content } => json!({"role": "system", "content": content}),
        ChatMessage::User { content } => json!({"role": "user", "content": content}),
        ChatMessage::Assistant { content, tool_calls } => {
            let mut v = json!({"role": "assistant", "content": content});
            if !tool_calls.is_empty() {
                v["tool_calls"] = tool_calls
                    .iter()
                    .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
                    .collect();
            }
            v
        }
        ChatMessage::Tool { tool_call_id, content } => {
            json!({"role": "tool", "tool_call_id": tool_call_id, "content": content})
        }
    }
}

/// What one chunk says.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Chunk {
    pub events: Vec<StreamEvent>,
    pub finish_reason: Option<FinishReason>,
    pub usage: Option<Usage>,
}

/// One `data:` payload (not `[DONE]`). Only choice 0 is read (we never ask for `n > 1`).
pub(crate) fn parse_chunk(data: &str) -> Result<Chunk, LlmError> {
    let v: Value = serde_json::from_str(data).map_err(|e| LlmError::Protocol(format!("chunk is not JSON: {e}")))?;
    if let Some(error) = v.get("error").filter(|e| !e.is_null()) {
        return Err(LlmError::MidStream { message: error_message(error) });
    }
    let mut chunk = Chunk { usage: usage(v.get("usage")), ..Chunk::default() };
    let choice = v
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c.get("index").and_then(Value::as_u64).unwrap_or(0) == 0));
    let Some(choice) = choice else {
        return Ok(chunk);
    };
    chunk.finish_reason = str_of(choice.get("finish_reason")).map(FinishReason::parse);
    let Some(delta) = choice.get("delta").filter(|d| d.is_object()) else {
        return Ok(chunk);
    };
    if let Some(text) = str_of(delta.get("content")) {
        chunk.events.push(StreamEvent::TextDelta(text.to_owned()));
    }
    if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
        for (position, call) in calls.iter().enumerate() {
            let index = call
                .get("index")
                .and_then(Value::as_u64)
                .and_then(|i| u32::try_from(i).ok())
                .unwrap_or(u32::try_from(position).unwrap_or(u32::MAX));
            let function = call.get("function");
            let field = |name: &str| function.and_then(|f| f.get(name));
            let arguments_delta = match field("arguments") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                // A few servers send the arguments as an object.
                Some(other) => other.to_string(),
            };
            chunk.events.push(StreamEvent::ToolCallDelta {
                index,
                id: str_of(call.get("id")).map(str::to_owned),
                name: str_of(field("name")).map(str::to_owned),
                arguments_delta,
            });
        }
    }
    Ok(chunk)
}

/// A non-empty string, or nothing (`null`, missing, `""`, another type).
fn str_of(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn usage(v: Option<&Value>) -> Option<Usage> {
    let u = v.filter(|u| u.is_object())?;
    let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
    Some(Usage { prompt_tokens: n("prompt_tokens"), completion_tokens: n("completion_tokens") })
}

/// `{"message": …}`, a bare string, or whatever JSON it is (capped).
pub(crate) fn error_message(error: &Value) -> String {
    let text = match error {
        Value::String(s) => s.clone(),
        Value::Object(o) => match o.get("message").and_then(Value::as_str) {
            Some(m) => m.to_owned(),
            None => error.to_string(),
        },
        other => other.to_string(),
    };
    crate::error::excerpt(&text, None, 200)
}

/// The stream's state across chunks: the finish is reported once, at `[DONE]` (or at the end
/// of a body that had a `finish_reason`), so the usage chunk that follows it is included.
#[derive(Debug, Default)]
pub(crate) struct OpenAiStream {
    finish_reason: Option<FinishReason>,
    usage: Option<Usage>,
}

pub(crate) enum Step {
    Events(Vec<StreamEvent>),
    /// The stream is over; this is its last event.
    Done(StreamEvent),
}

impl OpenAiStream {
    pub fn on_event(&mut self, event: &str, data: &str) -> Result<Step, LlmError> {
        let data = data.trim();
        if event == "error" {
            let message = serde_json::from_str::<Value>(data)
                .map(|v| error_message(v.get("error").unwrap_or(&v)))
                .unwrap_or_else(|_| crate::error::excerpt(data, None, 200));
            return Err(LlmError::MidStream { message });
        }
        if data == "[DONE]" {
            return Ok(Step::Done(self.finish(FinishReason::Other("unspecified".into()))));
        }
        if data.is_empty() {
            return Ok(Step::Events(Vec::new()));
        }
        let chunk = parse_chunk(data)?;
        if chunk.finish_reason.is_some() {
            self.finish_reason = chunk.finish_reason;
        }
        if chunk.usage.is_some() {
            self.usage = chunk.usage;
        }
        Ok(Step::Events(chunk.events))
    }

    /// The body ended without `[DONE]`.
    pub fn on_eof(&mut self) -> Result<StreamEvent, LlmError> {
        if self.finish_reason.is_none() {
            return Err(LlmError::Truncated);
        }
        Ok(self.finish(FinishReason::Stop))
    }

    fn finish(&mut self, fallback: FinishReason) -> StreamEvent {
        StreamEvent::Finish { reason: self.finish_reason.take().unwrap_or(fallback), usage: self.usage.take() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ToolCall, ToolSpec};

    #[test]
    fn url_with_or_without_v1() {
        assert_eq!(chat_completions_url("http://h:1"), "http://h:1/v1/chat/completions");
        assert_eq!(chat_completions_url("http://h:1/"), "http://h:1/v1/chat/completions");
        assert_eq!(chat_completions_url("https://api.x.com/v1"), "https://api.x.com/v1/chat/completions");
        assert_eq!(chat_completions_url("https://api.x.com/v1/"), "https://api.x.com/v1/chat/completions");
        assert_eq!(chat_completions_url("https://x.com/openai/v1"), "https://x.com/openai/v1/chat/completions");
    }

    #[test]
    fn body_shapes() {
        let provider = Provider::new("p", "http://h", "m1");
        let request = ChatRequest {
            messages: vec![
                ChatMessage::System { content: "be brief".into() },
                ChatMessage::User { content: "hi".into() },
                ChatMessage::Assistant {
                    content: None,
                    tool_calls: vec![ToolCall { id: "c1".into(), name: "f".into(), arguments: "{}".into() }],
                },
                ChatMessage::Tool { tool_call_id: "c1".into(), content: "42".into() },
            ],
            tools: vec![ToolSpec { name: "f".into(), description: "d".into(), parameters: json!({"type": "object"}) }],
            max_tokens: Some(64),
            temperature: None,
        };
        let body = request_body(&provider, &request);
        assert_eq!(
            body,
            json!({
                "model": "m1",
                "messages": [
                    {"role": "system", "content": "be brief"},
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                    {"role": "tool", "tool_call_id": "c1", "content": "42"}
                ],
                "tools": [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object"}}}],
                "stream": true,
                "stream_options": {"include_usage": true},
                "max_tokens": 64
            })
        );
        let no_tools = request_body(&provider, &ChatRequest { temperature: Some(0.5), ..ChatRequest::default() });
        assert!(no_tools.get("tools").is_none());
        assert_eq!(no_tools["temperature"], json!(0.5));
    }

    #[test]
    fn explicit_nulls_everywhere() {
        let c = parse_chunk(r#"{"id":null,"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":null,"refusal":null},"finish_reason":null,"logprobs":null}],"usage":null}"#).unwrap();
        assert_eq!(c, Chunk::default());
        let c = parse_chunk(r#"{"choices":[{"index":0,"delta":{"content":"Hé"},"finish_reason":null}]}"#).unwrap();
        assert_eq!(c.events, vec![StreamEvent::TextDelta("Hé".into())]);
        let c = parse_chunk(r#"{"choices":[{"delta":null,"finish_reason":"length"}]}"#).unwrap();
        assert_eq!(c.finish_reason, Some(FinishReason::Length));
        assert_eq!(parse_chunk(r#"{"choices":null}"#).unwrap(), Chunk::default());
        assert_eq!(parse_chunk("{}").unwrap(), Chunk::default());
        assert_eq!(parse_chunk("[1,2]").unwrap(), Chunk::default());
    }

    #[test]
    fn usage_only_chunk() {
        for choices in ["[]", "null"] {
            let c = parse_chunk(&format!(
                r#"{{"choices":{choices},"usage":{{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}}}"#
            ))
            .unwrap();
            assert_eq!(c.usage, Some(Usage { prompt_tokens: 9, completion_tokens: 3 }));
            assert!(c.events.is_empty());
        }
    }

    #[test]
    fn error_chunks() {
        assert_eq!(
            parse_chunk(r#"{"error":{"message":"overloaded","type":"server_error"}}"#),
            Err(LlmError::MidStream { message: "overloaded".into() })
        );
        assert_eq!(parse_chunk(r#"{"error":"boom"}"#), Err(LlmError::MidStream { message: "boom".into() }));
        assert!(matches!(parse_chunk("not json"), Err(LlmError::Protocol(_))));
        let mut s = OpenAiStream::default();
        assert!(
            matches!(s.on_event("error", r#"{"error":{"message":"x"}}"#), Err(LlmError::MidStream { message }) if message == "x")
        );
    }

    #[test]
    fn tool_call_fragments_with_repeated_ids_and_names() {
        let c = parse_chunk(r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}},{"index":1,"id":"call_2","function":{"name":"g","arguments":null}}]},"finish_reason":null}]}"#).unwrap();
        assert_eq!(
            c.events,
            vec![
                StreamEvent::ToolCallDelta {
                    index: 0,
                    id: Some("call_1".into()),
                    name: Some("f".into()),
                    arguments_delta: String::new()
                },
                StreamEvent::ToolCallDelta {
                    index: 1,
                    id: Some("call_2".into()),
                    name: Some("g".into()),
                    arguments_delta: String::new()
                },
            ]
        );
        let c = parse_chunk(r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":"}}]}}]}"#).unwrap();
        let c2 = parse_chunk(r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":null,"type":null,"function":{"name":null,"arguments":"1}"}}]},"finish_reason":"tool_calls"}]}"#).unwrap();
        let mut acc = crate::ToolCallAccumulator::new();
        for e in c.events.iter().chain(&c2.events) {
            acc.push_event(e);
        }
        assert_eq!(c2.finish_reason, Some(FinishReason::ToolCalls));
        assert_eq!(
            acc.into_calls(),
            vec![ToolCall { id: "call_1".into(), name: "f".into(), arguments: "{\"a\":1}".into() }]
        );
    }

    #[test]
    fn finish_waits_for_usage_and_eof_rules() {
        let mut s = OpenAiStream::default();
        assert!(
            matches!(s.on_event("", r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#), Ok(Step::Events(e)) if e.is_empty())
        );
        assert!(matches!(
            s.on_event("", r#"{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}"#),
            Ok(Step::Events(_))
        ));
        match s.on_event("", "[DONE]") {
            Ok(Step::Done(e)) => assert_eq!(
                e,
                StreamEvent::Finish {
                    reason: FinishReason::Stop,
                    usage: Some(Usage { prompt_tokens: 1, completion_tokens: 2 })
                }
            ),
            _ => panic!("expected Done"),
        }
        assert_eq!(OpenAiStream::default().on_eof(), Err(LlmError::Truncated));
        let mut s = OpenAiStream::default();
        let _ = s.on_event("", r#"{"choices":[{"delta":{},"finish_reason":"content_filter"}]}"#);
        assert_eq!(s.on_eof(), Ok(StreamEvent::Finish { reason: FinishReason::ContentFilter, usage: None }));
    }
}
