//! `searchKb`: full-text search over the tenant's knowledge base.

use crate::registry::success;
use crate::{ToolResult, ToolSpec};
use sba_validate::rules::no_control_chars;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_postgres::{Error, Transaction};
use validator::Validate;

pub(crate) const NAME: &str = "searchKb";
const DEFAULT_LIMIT: i64 = 5;

pub(crate) fn spec() -> ToolSpec {
    ToolSpec {
        name: NAME,
        description: "Search the organisation's knowledge base. Returns the best matching passages \
                      (document id, title, a headline with matched words in **bold**, heading path). \
                      Supports quotes for phrases, `or`, and `-word` to exclude.",
        parameters: json!({
            "type": "object",
            "properties": {
                "query": {"type": "string", "minLength": 1, "maxLength": 256, "description": "What to look for, in plain words."},
                "limit": {"type": "integer", "minimum": 1, "maximum": 10, "default": DEFAULT_LIMIT, "description": "How many passages to return."}
            },
            "required": ["query"],
            "additionalProperties": false
        }),
    }
}

#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Args {
    #[validate(length(min = 1, max = 256), custom(function = no_control_chars))]
    pub query: String,
    #[validate(range(min = 1, max = 10))]
    pub limit: Option<i64>,
}

pub(crate) async fn run(tx: &Transaction<'_>, args: Args) -> Result<ToolResult, Error> {
    let limit = args.limit.unwrap_or(DEFAULT_LIMIT);
    let hits = sba_kb::store::search(tx, &args.query, limit).await?;
    let n = hits.len();
    let hits: Vec<_> = hits
        .into_iter()
        .map(|h| json!({"documentId": h.document_id, "title": h.title, "headline": h.headline, "headingPath": h.heading_path}))
        .collect();
    Ok(success(json!({ "hits": hits }), json!({ "hits": n, "limit": limit })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::parse;

    fn codes(text: &str) -> Vec<(String, String)> {
        parse::<Args>(text)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|i| (serde_json::to_string(&i.path).unwrap(), i.code))
            .collect()
    }

    #[test]
    fn valid_arguments() {
        let args: Args = parse(r#"{"query": "refund policy"}"#).unwrap();
        assert_eq!((args.query.as_str(), args.limit), ("refund policy", None));
        let args: Args = parse(r#"{"query": "x", "limit": 10}"#).unwrap();
        assert_eq!(args.limit, Some(10));
        assert!(parse::<Args>(r#"{"query": "x", "limit": null}"#).is_ok());
    }

    #[test]
    fn invalid_arguments_name_the_field() {
        assert_eq!(codes(r#"{}"#), [(r#"["query"]"#.into(), "required".into())]);
        assert_eq!(codes(r#"{"query": ""}"#), [(r#"["query"]"#.into(), "too_short".into())]);
        assert_eq!(
            codes(&format!(r#"{{"query": "{}"}}"#, "é".repeat(257))),
            [(r#"["query"]"#.into(), "too_long".into())]
        );
        assert!(parse::<Args>(&format!(r#"{{"query": "{}"}}"#, "é".repeat(256))).is_ok(), "counted in characters");
        assert_eq!(codes(r#"{"query": "a\u0000b"}"#), [(r#"["query"]"#.into(), "invalid_string".into())]);
        assert_eq!(codes(r#"{"query": "x", "limit": 0}"#), [(r#"["limit"]"#.into(), "too_small".into())]);
        assert_eq!(codes(r#"{"query": "x", "limit": 11}"#), [(r#"["limit"]"#.into(), "too_big".into())]);
        assert_eq!(codes(r#"{"query": "x", "limit": "5"}"#), [(r#"["limit"]"#.into(), "invalid_type".into())]);
        assert_eq!(codes(r#"{"query": "x", "limit": 2.5}"#), [(r#"["limit"]"#.into(), "invalid_type".into())]);
        assert_eq!(codes(r#"{"query": "x", "sort": "new"}"#), [(r#"["sort"]"#.into(), "unknown_field".into())]);
    }
}
