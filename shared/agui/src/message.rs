//! The conversation an AG-UI client sends: messages tagged by `role`, with the protocol's
//! camelCase fields. Unknown fields are ignored; an unknown role is a 422 (`unknown_variant`).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;
use validator::{Validate, ValidationError, ValidationErrors};

/// Most bytes one message's content (or one tool call's arguments) may have: 100 KB.
pub const MAX_CONTENT_BYTES: usize = 100 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase", rename_all_fields = "camelCase")]
pub enum Message {
    User {
        id: String,
        content: UserContent,
    },
    Assistant {
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tool_calls: Option<Vec<ToolCall>>,
    },
    System {
        id: String,
        content: String,
    },
    Developer {
        id: String,
        content: String,
    },
    Tool {
        id: String,
        content: String,
        tool_call_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
}

/// A user message's content: plain text, or parts (`{"type":"text","text":…}`; other kinds,
/// e.g. binary, are kept as they came).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum UserContent {
    Text(String),
    Parts(Vec<Value>),
}

/// An assistant's call of a tool, as in OpenAI's chat format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    #[serde(rename = "type", default = "function")]
    pub kind: String,
    pub function: FunctionCall,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    pub name: String,
    /// JSON text, as the model produced it (not necessarily valid JSON).
    pub arguments: String,
}

fn function() -> String {
    "function".to_owned()
}

impl UserContent {
    /// The text: the string itself, or the `text` of every text part joined by newlines.
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            UserContent::Text(text) => Cow::Borrowed(text),
            UserContent::Parts(parts) => Cow::Owned(
                parts
                    .iter()
                    .filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
        }
    }
}

impl Message {
    pub fn id(&self) -> &str {
        match self {
            Message::User { id, .. }
            | Message::Assistant { id, .. }
            | Message::System { id, .. }
            | Message::Developer { id, .. }
            | Message::Tool { id, .. } => id,
        }
    }

    pub fn role(&self) -> &'static str {
        match self {
            Message::User { .. } => "user",
            Message::Assistant { .. } => "assistant",
            Message::System { .. } => "system",
            Message::Developer { .. } => "developer",
            Message::Tool { .. } => "tool",
        }
    }

    /// The text content, empty when there is none (an assistant message with only tool calls).
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Message::User { content, .. } => content.text(),
            Message::Assistant { content, .. } => Cow::Borrowed(content.as_deref().unwrap_or("")),
            Message::System { content, .. } | Message::Developer { content, .. } | Message::Tool { content, .. } => {
                Cow::Borrowed(content)
            }
        }
    }
}

impl Validate for Message {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let content_bytes = match self {
            Message::User { content: UserContent::Text(text), .. } => text.len(),
            Message::User { content: UserContent::Parts(parts), .. } => json_size(parts),
            Message::Assistant { content, .. } => content.as_deref().map_or(0, str::len),
            Message::System { content, .. } | Message::Developer { content, .. } | Message::Tool { content, .. } => {
                content.len()
            }
        };
        if content_bytes > MAX_CONTENT_BYTES {
            errors.add("content", too_large(MAX_CONTENT_BYTES));
        }
        if let Message::Assistant { tool_calls: Some(calls), .. } = self {
            if calls.iter().any(|c| c.function.arguments.len() > MAX_CONTENT_BYTES) {
                errors.add("tool_calls", too_large(MAX_CONTENT_BYTES));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// Compact JSON size, counted without building the text; stops once past the limit (then
/// answers `MAX_CONTENT_BYTES + 1`). The input was parsed with serde_json's nesting limit, so
/// serializing it back cannot recurse deeply.
fn json_size(parts: &[Value]) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            if self.0 > MAX_CONTENT_BYTES {
                return Err(std::io::ErrorKind::Other.into());
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    match serde_json::to_writer(&mut counter, parts) {
        Ok(()) => counter.0,
        Err(_) => MAX_CONTENT_BYTES + 1,
    }
}

pub(crate) fn too_large(max: usize) -> ValidationError {
    let mut error = ValidationError::new("too_large").with_message(Cow::Owned(format!("must be at most {max} bytes")));
    error.add_param(Cow::Borrowed("max"), &max);
    error
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_role_parses() {
        let messages: Vec<Message> = serde_json::from_value(json!([
            {"id": "1", "role": "user", "content": "hi", "extra": 1},
            {"id": "2", "role": "user", "content": [{"type": "text", "text": "a"}, {"type": "binary", "mimeType": "image/png", "data": "AA=="}, {"type": "text", "text": "b"}]},
            {"id": "3", "role": "assistant", "toolCalls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"id": "4", "role": "system", "content": "s"},
            {"id": "5", "role": "developer", "content": "d"},
            {"id": "6", "role": "tool", "content": "r", "toolCallId": "c1", "error": "e"}
        ]))
        .unwrap();
        assert_eq!(
            messages.iter().map(Message::role).collect::<Vec<_>>(),
            ["user", "user", "assistant", "system", "developer", "tool"]
        );
        assert_eq!(messages[1].text(), "a\nb");
        assert_eq!(messages[2].text(), "");
        assert!(matches!(&messages[2], Message::Assistant { tool_calls: Some(c), .. } if c[0].function.name == "f"));
        assert!(matches!(&messages[5], Message::Tool { tool_call_id, error: Some(_), .. } if tool_call_id == "c1"));
        assert_eq!(messages[3].id(), "4");
        // Round trip in the protocol's shape.
        let back = serde_json::to_value(&messages[2]).unwrap();
        assert_eq!(
            back,
            json!({"id": "3", "role": "assistant", "toolCalls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]})
        );
    }

    #[test]
    fn content_size_limit() {
        let big = "x".repeat(MAX_CONTENT_BYTES + 1);
        let m = Message::System { id: "s".into(), content: big.clone() };
        assert!(m.validate().is_err());
        let parts =
            Message::User { id: "u".into(), content: UserContent::Parts(vec![json!({"type": "text", "text": big})]) };
        assert!(parts.validate().is_err());
        let ok = Message::User { id: "u".into(), content: UserContent::Text("x".repeat(MAX_CONTENT_BYTES)) };
        assert!(ok.validate().is_ok());
    }
}
