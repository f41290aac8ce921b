//! `RunAgentInput`, the body an AG-UI client POSTs to start (or resume) a run. Parse it with
//! `sba_validate::parse::<RunAgentInput>(body)`: malformed JSON is a 400, a wrong shape or a
//! broken limit a 422 with the JSON path. Unknown fields (`resume`, `protocolVersion`, later
//! additions) are tolerated, as the protocol asks.

use crate::message::{too_large, Message, MAX_CONTENT_BYTES};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;
use validator::{Validate, ValidationError};

/// Most messages in one request.
pub const MAX_MESSAGES: u64 = 200;
/// Most front-end tools in one request.
pub const MAX_TOOLS: u64 = 64;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[serde(rename_all = "camelCase")]
pub struct RunAgentInput {
    /// 1..=128 characters of `[A-Za-z0-9_.:-]`.
    #[validate(custom(function = "run_id_rule"))]
    pub thread_id: String,
    /// 1..=128 characters of `[A-Za-z0-9_.:-]`.
    #[validate(custom(function = "run_id_rule"))]
    pub run_id: String,
    #[serde(default)]
    #[validate(length(max = MAX_MESSAGES), nested)]
    pub messages: Vec<Message>,
    #[serde(default)]
    #[validate(length(max = MAX_TOOLS), nested)]
    pub tools: Vec<FrontendTool>,
    #[serde(default)]
    pub context: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarded_props: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_run_id: Option<String>,
}

/// A tool the front end executes; `parameters` is its JSON Schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[serde(rename_all = "camelCase")]
pub struct FrontendTool {
    /// `^[A-Za-z0-9_-]{1,64}$`, what LLM providers accept as a function name.
    #[validate(custom(function = "tool_name_rule"))]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(length(max = 4096))]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(custom(function = "schema_rule"))]
    pub parameters: Option<Value>,
}

fn run_id_rule(id: &str) -> Result<(), ValidationError> {
    sba_validate::rules::length_chars(id, 1, 128)?;
    charset(id, |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'), "A-Z a-z 0-9 _ . : -")
}

fn tool_name_rule(name: &str) -> Result<(), ValidationError> {
    sba_validate::rules::length_chars(name, 1, 64)?;
    charset(name, |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'), "A-Z a-z 0-9 _ -")
}

fn schema_rule(schema: &Value) -> Result<(), ValidationError> {
    sba_validate::rules::json_depth_and_size(schema, 32, MAX_CONTENT_BYTES).map_err(|_| too_large(MAX_CONTENT_BYTES))
}

fn charset(s: &str, allowed: impl Fn(char) -> bool, described: &str) -> Result<(), ValidationError> {
    if s.chars().all(allowed) {
        return Ok(());
    }
    Err(ValidationError::new("invalid_string").with_message(Cow::Owned(format!("may only contain {described}"))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::UserContent;
    use proptest::prelude::*;
    use sba_validate::{parse, ApiError};
    use serde_json::json;

    const OFFICIAL: &str = r#"{"threadId":"t","runId":"r","messages":[{"id":"m1","role":"user","content":"hi"}],"tools":[],"context":[],"state":{},"forwardedProps":{}}"#;

    fn body(v: &Value) -> Vec<u8> {
        serde_json::to_vec(v).unwrap()
    }

    fn issues(err: &ApiError) -> Vec<(Value, String)> {
        assert_eq!(err.status, 422, "{err:?}");
        err.details.as_ref().unwrap()["issues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i["path"].clone(), i["code"].as_str().unwrap().to_owned()))
            .collect()
    }

    #[test]
    fn the_official_clients_body_parses() {
        let input: RunAgentInput = parse(OFFICIAL.as_bytes()).unwrap();
        assert_eq!((input.thread_id.as_str(), input.run_id.as_str()), ("t", "r"));
        assert_eq!(input.messages, vec![Message::User { id: "m1".into(), content: UserContent::Text("hi".into()) }]);
        assert_eq!(input.state, Some(json!({})));
        assert_eq!(input.forwarded_props, Some(json!({})));
        assert!(input.tools.is_empty() && input.context.is_empty() && input.parent_run_id.is_none());
    }

    #[test]
    fn unknown_fields_are_tolerated_and_lists_default() {
        let v = json!({"threadId": "t-1", "runId": "run:2.a_b", "resume": {"x": 1}, "protocolVersion": "1.0",
            "messages": [{"id": "m", "role": "user", "content": "hi", "name": "bob"}],
            "tools": [{"name": "get_weather", "description": "d", "parameters": {"type": "object"}, "extra": true}],
            "parentRunId": "p"});
        let input: RunAgentInput = parse(&body(&v)).unwrap();
        assert_eq!(input.tools[0].name, "get_weather");
        assert_eq!(input.parent_run_id.as_deref(), Some("p"));
        let minimal: RunAgentInput = parse(br#"{"threadId":"t","runId":"r"}"#).unwrap();
        assert!(minimal.messages.is_empty());
    }

    #[test]
    fn bad_ids_are_422_with_their_path() {
        let v = json!({"threadId": "", "runId": "a b", "messages": []});
        let err = parse::<RunAgentInput>(&body(&v)).unwrap_err();
        assert_eq!(
            issues(&err),
            vec![(json!(["runId"]), "invalid_string".to_owned()), (json!(["threadId"]), "too_short".to_owned())]
        );
        let long = json!({"threadId": "t".repeat(129), "runId": "r"});
        assert_eq!(
            issues(&parse::<RunAgentInput>(&body(&long)).unwrap_err()),
            vec![(json!(["threadId"]), "too_long".to_owned())]
        );
        let missing = parse::<RunAgentInput>(br#"{"threadId":"t"}"#).unwrap_err();
        assert_eq!(issues(&missing), vec![(json!(["runId"]), "required".to_owned())]);
    }

    #[test]
    fn limits() {
        let messages: Vec<Value> =
            (0..201).map(|i| json!({"id": i.to_string(), "role": "user", "content": "x"})).collect();
        let err =
            parse::<RunAgentInput>(&body(&json!({"threadId": "t", "runId": "r", "messages": messages}))).unwrap_err();
        assert_eq!(issues(&err), vec![(json!(["messages"]), "too_long".to_owned())]);

        let big = json!({"threadId": "t", "runId": "r", "messages": [
            {"id": "a", "role": "user", "content": "ok"},
            {"id": "b", "role": "tool", "toolCallId": "c", "content": "x".repeat(MAX_CONTENT_BYTES + 1)}]});
        let err = parse::<RunAgentInput>(&body(&big)).unwrap_err();
        assert_eq!(issues(&err), vec![(json!(["messages", 1, "content"]), "too_large".to_owned())]);

        let tools: Vec<Value> = (0..65).map(|i| json!({"name": format!("t{i}")})).collect();
        let err = parse::<RunAgentInput>(&body(&json!({"threadId": "t", "runId": "r", "tools": tools}))).unwrap_err();
        assert_eq!(issues(&err), vec![(json!(["tools"]), "too_long".to_owned())]);

        let v = json!({"threadId": "t", "runId": "r", "tools": [{"name": "ok"}, {"name": "no spaces"}, {"name": "x".repeat(65)}]});
        let err = parse::<RunAgentInput>(&body(&v)).unwrap_err();
        assert_eq!(
            issues(&err),
            vec![
                (json!(["tools", 1, "name"]), "invalid_string".to_owned()),
                (json!(["tools", 2, "name"]), "too_long".to_owned())
            ]
        );
    }

    #[test]
    fn unknown_roles_and_wrong_shapes_are_422() {
        let v = json!({"threadId": "t", "runId": "r", "messages": [{"id": "m", "role": "wizard", "content": "hi"}]});
        let err = parse::<RunAgentInput>(&body(&v)).unwrap_err();
        let found = issues(&err);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].1, "unknown_variant");
        assert_eq!(found[0].0[0], json!("messages"));
        for bad in [
            json!({"threadId": 1, "runId": "r"}),
            json!({"threadId": "t", "runId": "r", "messages": [{"role": "user"}]}),
            json!([]),
        ] {
            assert_eq!(parse::<RunAgentInput>(&body(&bad)).unwrap_err().status, 422, "{bad}");
        }
        assert_eq!(parse::<RunAgentInput>(b"{").unwrap_err().status, 400);
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            prop_oneof![Just("user"), Just("assistant"), Just("tool"), Just("text"), Just(""), Just("a b")]
                .prop_map(|s| json!(s)),
            ".{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 64, 6, |inner| {
            let keys = prop_oneof![
                Just("threadId"),
                Just("runId"),
                Just("messages"),
                Just("tools"),
                Just("context"),
                Just("role"),
                Just("id"),
                Just("content"),
                Just("toolCalls"),
                Just("toolCallId"),
                Just("name"),
                Just("type"),
                Just("text"),
                Just("function"),
                Just("arguments"),
                Just("parameters"),
                Just("state")
            ];
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(keys.prop_map(str::to_owned), inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn arbitrary_json_never_panics(v in arb_json(), raw in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse::<RunAgentInput>(&body(&v));
            let _ = parse::<RunAgentInput>(&raw);
            let mut with_ids = v.clone();
            if let Value::Object(map) = &mut with_ids {
                map.insert("threadId".into(), json!("t"));
                map.insert("runId".into(), json!("r"));
            }
            if let Ok(input) = parse::<RunAgentInput>(&body(&with_ids)) {
                for m in &input.messages {
                    let _ = (m.text(), m.id(), m.role());
                }
            }
        }
    }
}
