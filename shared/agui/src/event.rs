//! The AG-UI 1.0 events this edge emits, serialized exactly as the official client expects:
//! `{"type":"TEXT_MESSAGE_CONTENT","messageId":"m1","delta":"hi"}`. Optional fields are left
//! out when absent; none of them is ever written as `null`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One AG-UI event. Build it, then frame it with [`crate::sse::frame`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE", rename_all_fields = "camelCase")]
pub enum Event {
    RunStarted {
        thread_id: String,
        run_id: String,
    },
    RunFinished {
        thread_id: String,
        run_id: String,
        #[serde(default, skip_serializing_if = "none_or_null")]
        result: Option<Value>,
    },
    RunError {
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
    },
    StepStarted {
        step_name: String,
    },
    StepFinished {
        step_name: String,
    },
    TextMessageStart {
        message_id: String,
        #[serde(default = "assistant")]
        role: String,
    },
    TextMessageContent {
        message_id: String,
        delta: String,
    },
    TextMessageEnd {
        message_id: String,
    },
    ToolCallStart {
        tool_call_id: String,
        tool_call_name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent_message_id: Option<String>,
    },
    ToolCallArgs {
        tool_call_id: String,
        delta: String,
    },
    ToolCallEnd {
        tool_call_id: String,
    },
    ToolCallResult {
        message_id: String,
        tool_call_id: String,
        content: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role: Option<String>,
    },
    StateSnapshot {
        snapshot: Value,
    },
    Custom {
        name: String,
        value: Value,
    },
}

fn assistant() -> String {
    "assistant".to_owned()
}

/// `Some(null)` would be written as `null`: treat it as absent.
fn none_or_null(value: &Option<Value>) -> bool {
    matches!(value, None | Some(Value::Null))
}

impl Event {
    /// `TEXT_MESSAGE_START` with the default role, `assistant`.
    pub fn text_start(message_id: impl Into<String>) -> Event {
        Event::TextMessageStart { message_id: message_id.into(), role: assistant() }
    }

    /// `TOOL_CALL_RESULT` with role `tool`.
    pub fn tool_result(
        message_id: impl Into<String>,
        tool_call_id: impl Into<String>,
        content: impl Into<String>,
    ) -> Event {
        Event::ToolCallResult {
            message_id: message_id.into(),
            tool_call_id: tool_call_id.into(),
            content: content.into(),
            role: Some("tool".to_owned()),
        }
    }

    /// The wire name, e.g. `"RUN_FINISHED"`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::RunStarted { .. } => "RUN_STARTED",
            Event::RunFinished { .. } => "RUN_FINISHED",
            Event::RunError { .. } => "RUN_ERROR",
            Event::StepStarted { .. } => "STEP_STARTED",
            Event::StepFinished { .. } => "STEP_FINISHED",
            Event::TextMessageStart { .. } => "TEXT_MESSAGE_START",
            Event::TextMessageContent { .. } => "TEXT_MESSAGE_CONTENT",
            Event::TextMessageEnd { .. } => "TEXT_MESSAGE_END",
            Event::ToolCallStart { .. } => "TOOL_CALL_START",
            Event::ToolCallArgs { .. } => "TOOL_CALL_ARGS",
            Event::ToolCallEnd { .. } => "TOOL_CALL_END",
            Event::ToolCallResult { .. } => "TOOL_CALL_RESULT",
            Event::StateSnapshot { .. } => "STATE_SNAPSHOT",
            Event::Custom { .. } => "CUSTOM",
        }
    }

    /// RUN_FINISHED or RUN_ERROR: nothing of this run follows.
    pub fn is_terminal(&self) -> bool {
        is_terminal_type(self.type_name())
    }

    /// One line of JSON. Serializing these types cannot fail (string keys only); the
    /// fallback keeps that a non-panicking promise.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|_| r#"{"type":"RUN_ERROR","message":"event could not be serialized"}"#.to_owned())
    }
}

pub(crate) fn is_terminal_type(type_name: &str) -> bool {
    matches!(type_name, "RUN_FINISHED" | "RUN_ERROR")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn s(v: &str) -> String {
        v.to_owned()
    }

    fn every_event() -> Vec<Event> {
        vec![
            Event::RunStarted { thread_id: s("t"), run_id: s("r") },
            Event::RunFinished { thread_id: s("t"), run_id: s("r"), result: None },
            Event::RunFinished { thread_id: s("t"), run_id: s("r"), result: Some(Value::Null) },
            Event::RunError { message: s("boom"), code: None },
            Event::StepStarted { step_name: s("plan") },
            Event::StepFinished { step_name: s("plan") },
            Event::text_start("m1"),
            Event::TextMessageContent { message_id: s("m1"), delta: s("hi") },
            Event::TextMessageEnd { message_id: s("m1") },
            Event::ToolCallStart { tool_call_id: s("c1"), tool_call_name: s("search"), parent_message_id: None },
            Event::ToolCallArgs { tool_call_id: s("c1"), delta: s("{\"q\":") },
            Event::ToolCallEnd { tool_call_id: s("c1") },
            Event::ToolCallResult { message_id: s("m2"), tool_call_id: s("c1"), content: s("ok"), role: None },
            Event::StateSnapshot { snapshot: json!({}) },
            Event::Custom { name: s("usage"), value: json!({"tokens": 3}) },
        ]
    }

    #[test]
    fn exact_json() {
        let cases = [
            (
                Event::TextMessageContent { message_id: s("m1"), delta: s("hi") },
                r#"{"type":"TEXT_MESSAGE_CONTENT","messageId":"m1","delta":"hi"}"#,
            ),
            (
                Event::RunStarted { thread_id: s("t"), run_id: s("r") },
                r#"{"type":"RUN_STARTED","threadId":"t","runId":"r"}"#,
            ),
            (
                Event::RunFinished { thread_id: s("t"), run_id: s("r"), result: None },
                r#"{"type":"RUN_FINISHED","threadId":"t","runId":"r"}"#,
            ),
            (
                Event::RunFinished { thread_id: s("t"), run_id: s("r"), result: Some(json!({"a":1})) },
                r#"{"type":"RUN_FINISHED","threadId":"t","runId":"r","result":{"a":1}}"#,
            ),
            (
                Event::RunError { message: s("x"), code: Some(s("upstream")) },
                r#"{"type":"RUN_ERROR","message":"x","code":"upstream"}"#,
            ),
            (Event::StepStarted { step_name: s("p") }, r#"{"type":"STEP_STARTED","stepName":"p"}"#),
            (Event::text_start("m1"), r#"{"type":"TEXT_MESSAGE_START","messageId":"m1","role":"assistant"}"#),
            (Event::TextMessageEnd { message_id: s("m1") }, r#"{"type":"TEXT_MESSAGE_END","messageId":"m1"}"#),
            (
                Event::ToolCallStart { tool_call_id: s("c"), tool_call_name: s("f"), parent_message_id: Some(s("m1")) },
                r#"{"type":"TOOL_CALL_START","toolCallId":"c","toolCallName":"f","parentMessageId":"m1"}"#,
            ),
            (
                Event::ToolCallArgs { tool_call_id: s("c"), delta: s("{") },
                r#"{"type":"TOOL_CALL_ARGS","toolCallId":"c","delta":"{"}"#,
            ),
            (Event::ToolCallEnd { tool_call_id: s("c") }, r#"{"type":"TOOL_CALL_END","toolCallId":"c"}"#),
            (
                Event::tool_result("m2", "c", "42"),
                r#"{"type":"TOOL_CALL_RESULT","messageId":"m2","toolCallId":"c","content":"42","role":"tool"}"#,
            ),
            (Event::StateSnapshot { snapshot: json!({"n":1}) }, r#"{"type":"STATE_SNAPSHOT","snapshot":{"n":1}}"#),
            (Event::Custom { name: s("k"), value: json!([1]) }, r#"{"type":"CUSTOM","name":"k","value":[1]}"#),
        ];
        for (event, expected) in cases {
            assert_eq!(event.to_json(), expected);
        }
    }

    #[test]
    fn never_null_and_type_names_agree() {
        for event in every_event() {
            let text = event.to_json();
            assert!(!text.contains("null"), "{text}");
            assert!(!text.contains('\n'), "{text}");
            let value: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(value["type"], event.type_name());
            for key in value.as_object().unwrap().keys() {
                assert!(!key.contains('_'), "snake_case key {key} in {text}");
            }
        }
    }

    #[test]
    fn round_trip_and_terminal() {
        for event in every_event() {
            let back: Event = serde_json::from_str(&event.to_json()).unwrap();
            let expected = match event.clone() {
                Event::RunFinished { thread_id, run_id, result: Some(Value::Null) } => {
                    Event::RunFinished { thread_id, run_id, result: None }
                }
                other => other,
            };
            assert_eq!(back, expected);
        }
        let missing_role: Event = serde_json::from_str(r#"{"type":"TEXT_MESSAGE_START","messageId":"m"}"#).unwrap();
        assert_eq!(missing_role, Event::text_start("m"));
        assert!(Event::RunError { message: s("x"), code: None }.is_terminal());
        assert!(!Event::StepStarted { step_name: s("x") }.is_terminal());
    }
}
