//! The tool table: names → specs and runners, argument parsing, and the error results.

use crate::{create_task, get_document, render, search_kb, ToolContext, ToolResult, ToolSpec};
use sba_validate::{check_value, Issue, Validate};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tokio_postgres::Transaction;

/// Arguments longer than this are refused before parsing (the largest valid call, a
/// `render` with 32 KB of data, is well below).
pub(crate) const MAX_ARGUMENTS_BYTES: usize = 64 * 1024;

const NAMES: [&str; 4] = [search_kb::NAME, get_document::NAME, create_task::NAME, render::NAME];

/// Every server-side tool, in a fixed order.
pub fn specs() -> Vec<ToolSpec> {
    vec![search_kb::spec(), get_document::spec(), create_task::spec(), render::spec()]
}

/// Whether `name` is run here (anything else is the client's, or unknown).
pub fn is_server_tool(name: &str) -> bool {
    NAMES.contains(&name)
}

/// Runs one tool call. Never fails and never panics: every problem is an error result.
pub async fn call(tx: &Transaction<'_>, ctx: &ToolContext, name: &str, arguments_json: &str) -> ToolResult {
    match name {
        search_kb::NAME => match parse(arguments_json) {
            Ok(args) => in_savepoint(tx, search_kb::run(tx, args)).await,
            Err(issues) => invalid_arguments(issues),
        },
        get_document::NAME => match parse(arguments_json) {
            Ok(args) => in_savepoint(tx, get_document::run(tx, args)).await,
            Err(issues) => invalid_arguments(issues),
        },
        create_task::NAME => match parse(arguments_json) {
            Ok(args) => in_savepoint(tx, create_task::run(tx, ctx, args)).await,
            Err(issues) => invalid_arguments(issues),
        },
        render::NAME => match parse(arguments_json) {
            Ok(args) => render::run(args),
            Err(issues) => invalid_arguments(issues),
        },
        _ => error("unknown_tool", json!({"message": format!("no such tool; available: {}", NAMES.join(", "))})),
    }
}

/// The LLM's argument text → a validated `T`, or the issues to send back. Empty text is read
/// as `{}` (some models send that for "no arguments"), so the issues name missing fields.
pub(crate) fn parse<T: DeserializeOwned + Validate>(arguments_json: &str) -> Result<T, Vec<Issue>> {
    if arguments_json.len() > MAX_ARGUMENTS_BYTES {
        return Err(vec![Issue::new(
            Vec::new(),
            "too_large",
            format!("arguments must be at most {MAX_ARGUMENTS_BYTES} bytes"),
        )
        .with_param("max", json!(MAX_ARGUMENTS_BYTES))]);
    }
    let text = if arguments_json.trim().is_empty() { "{}" } else { arguments_json };
    let value: Value = serde_json::from_str(text)
        .map_err(|e| vec![Issue::new(Vec::new(), "invalid_json", format!("arguments are not valid JSON: {e}"))])?;
    if !value.is_object() {
        return Err(vec![Issue::new(Vec::new(), "invalid_type", "arguments must be a JSON object")]);
    }
    check_value(&value)
}

/// Runs a database tool inside a savepoint: on a database error the savepoint is rolled
/// back, so the caller's transaction stays usable, and the LLM gets `tool_failed`.
async fn in_savepoint<F>(tx: &Transaction<'_>, work: F) -> ToolResult
where
    F: std::future::Future<Output = Result<ToolResult, tokio_postgres::Error>>,
{
    if tx.batch_execute("savepoint sba_agent_tool").await.is_err() {
        return tool_failed();
    }
    match work.await {
        Ok(result) => match tx.batch_execute("release savepoint sba_agent_tool").await {
            Ok(()) => result,
            Err(_) => tool_failed(),
        },
        Err(_) => {
            // If even this fails the transaction is lost; the result says so either way.
            let _ = tx.batch_execute("rollback to savepoint sba_agent_tool; release savepoint sba_agent_tool").await;
            tool_failed()
        }
    }
}

pub(crate) fn success(content: Value, summary: Value) -> ToolResult {
    ToolResult { content: content.to_string(), is_error: false, summary }
}

/// `{"error": {"code": code, ...fields}}`; the summary keeps the code (and an issue count).
pub(crate) fn error(code: &str, fields: Value) -> ToolResult {
    let mut body = json!({ "code": code });
    if let (Some(body), Value::Object(fields)) = (body.as_object_mut(), fields) {
        body.extend(fields);
    }
    let mut summary = json!({ "error": code });
    if let Some(n) = body.get("issues").and_then(Value::as_array).map(Vec::len) {
        summary["issues"] = json!(n);
    }
    ToolResult { content: json!({ "error": body }).to_string(), is_error: true, summary }
}

pub(crate) fn invalid_arguments(mut issues: Vec<Issue>) -> ToolResult {
    if issues.is_empty() {
        issues.push(Issue::new(Vec::new(), "invalid", "is invalid"));
    }
    issues.sort_by(|a, b| (&a.path, &a.code, &a.message).cmp(&(&b.path, &b.code, &b.message)));
    let issues = serde_json::to_value(&issues).unwrap_or_else(|_| Value::Array(Vec::new()));
    error("invalid_arguments", json!({ "issues": issues }))
}

pub(crate) fn tool_failed() -> ToolResult {
    error("tool_failed", json!({"message": "the tool could not run; try again later"}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_are_closed_objects_with_unique_names() {
        let specs = specs();
        assert_eq!(specs.len(), NAMES.len());
        for (spec, name) in specs.iter().zip(NAMES) {
            assert_eq!(spec.name, name);
            assert!(is_server_tool(spec.name));
            assert!(!spec.description.is_empty());
            let p = &spec.parameters;
            assert_eq!(p["type"], "object", "{name}");
            assert_eq!(p["additionalProperties"], false, "{name}");
            let properties = p["properties"].as_object().unwrap();
            for required in p["required"].as_array().unwrap() {
                assert!(properties.contains_key(required.as_str().unwrap()), "{name}: {required}");
            }
        }
        assert!(!is_server_tool("searchkb"));
        assert!(!is_server_tool(""));
    }

    #[test]
    fn error_results_have_the_documented_shape() {
        let r = error("unknown_tool", json!({}));
        assert!(r.is_error);
        assert_eq!(serde_json::from_str::<Value>(&r.content).unwrap(), json!({"error": {"code": "unknown_tool"}}));
        assert_eq!(r.summary, json!({"error": "unknown_tool"}));
        let r = tool_failed();
        let v: Value = serde_json::from_str(&r.content).unwrap();
        assert_eq!(v["error"]["code"], "tool_failed");
        assert!(!r.content.to_lowercase().contains("sql"));
    }

    #[test]
    fn arguments_that_are_not_an_object_are_issues() {
        #[derive(serde::Deserialize, serde::Serialize, Validate)]
        struct Any {}
        for text in ["{", "[]", "42", "\"x\"", "null", "{\"a\":1}}"] {
            let issues = parse::<Any>(text).err().unwrap_or_else(|| panic!("{text}"));
            assert_eq!(issues.len(), 1, "{text}");
        }
        assert!(parse::<Any>("").is_ok(), "empty text is {{}}");
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_ARGUMENTS_BYTES));
        assert_eq!(parse::<Any>(&big).err().unwrap()[0].code, "too_large");
    }
}
