//! What clients send to `POST /kb/documents` and `POST /kb/documents:batch`.

use sba_kb_text::{ContentType, Language};
use sba_validate::rules::{json_depth_and_size, no_control_chars};
use sba_validate::PathSegment;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use validator::{Validate, ValidationError};

pub const MAX_CONTENT_BYTES: usize = 1024 * 1024;
pub const MAX_TAGS: usize = 32;
pub const MAX_TAG_CHARS: usize = 64;
pub const MAX_METADATA_BYTES: usize = 16 * 1024;
pub const MAX_METADATA_DEPTH: usize = 5;
pub const MAX_BATCH_DOCUMENTS: u64 = 100;

#[derive(Debug, Clone, Deserialize, Serialize, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewDocument {
    /// The caller's own id: re-sending it with new content makes a new version.
    #[validate(length(min = 1, max = 256), custom(function = no_control_chars))]
    pub external_id: Option<String>,
    #[validate(length(min = 1, max = 300), custom(function = no_control_chars))]
    pub title: String,
    #[validate(custom(function = content_rules))]
    pub content: String,
    pub content_type: ContentType,
    /// `en`, `id` or `simple`: which stemmer search uses. Absent: detected from the text, else
    /// the tenant's default (`PUT /kb/settings`, English when none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
    #[validate(nested)]
    pub source: Option<Source>,
    #[serde(default)]
    #[validate(custom(function = tag_rules))]
    pub tags: Vec<String>,
    #[serde(default)]
    #[validate(custom(function = metadata_rules))]
    pub metadata: Map<String, Value>,
}

#[derive(Debug, Clone, Deserialize, Serialize, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Source {
    #[validate(length(min = 1, max = 64), custom(function = no_control_chars))]
    pub kind: String,
    #[validate(url, length(max = 2048), custom(function = no_control_chars))]
    pub url: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Batch {
    pub documents: Vec<NewDocument>,
}

/// The batch as sent, items still raw: each is checked on its own so the 422 names every bad
/// item, not just the first one serde trips over.
#[derive(Debug, Deserialize, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawBatch {
    #[validate(length(min = 1, max = "MAX_BATCH_DOCUMENTS"))]
    documents: Vec<Value>,
}

impl Batch {
    /// `POST /kb/documents:batch` body → every document valid, or a 400/422 listing each bad
    /// item's issues under `["documents", i, …]`.
    pub fn parse(body: &[u8]) -> Result<Batch, sba_validate::ApiError> {
        let raw: RawBatch = sba_validate::parse(body)?;
        let mut documents = Vec::with_capacity(raw.documents.len());
        let mut issues = Vec::new();
        for (i, item) in raw.documents.iter().enumerate() {
            match sba_validate::check_value::<NewDocument>(item) {
                Ok(doc) => documents.push(doc),
                Err(item_issues) => issues.extend(item_issues.into_iter().map(|mut issue| {
                    let mut path = vec![PathSegment::Key("documents".into()), PathSegment::Index(i)];
                    path.append(&mut issue.path);
                    issue.path = path;
                    issue
                })),
            }
        }
        if issues.is_empty() {
            Ok(Batch { documents })
        } else {
            Err(sba_validate::validation_error(issues))
        }
    }
}

fn content_rules(content: &str) -> Result<(), ValidationError> {
    if content.trim().is_empty() {
        return Err(error("too_short", "must contain text"));
    }
    if content.contains('\0') {
        // PostgreSQL text cannot hold NUL; refuse it here rather than fail in the database.
        return Err(error("invalid_string", "must not contain NUL characters"));
    }
    if content.len() > MAX_CONTENT_BYTES {
        return Err(error("too_long", "must be at most 1 MiB (1,048,576 bytes of UTF-8)"));
    }
    Ok(())
}

fn tag_rules(tags: &[String]) -> Result<(), ValidationError> {
    if tags.len() > MAX_TAGS {
        return Err(error("too_big", "at most 32 tags"));
    }
    for (i, tag) in tags.iter().enumerate() {
        let chars = tag.chars().count();
        if chars == 0 || chars > MAX_TAG_CHARS || tag.trim() != tag || tag.chars().any(char::is_control) {
            return Err(error(
                "invalid_string",
                &format!("tag {i} must be 1 to 64 characters, no control characters or surrounding spaces"),
            ));
        }
    }
    Ok(())
}

fn metadata_rules(metadata: &Map<String, Value>) -> Result<(), ValidationError> {
    let value = Value::Object(metadata.clone());
    json_depth_and_size(&value, MAX_METADATA_DEPTH, MAX_METADATA_BYTES)?;
    if value.to_string().contains("\\u0000") {
        // jsonb rejects \u0000.
        return Err(error("invalid_string", "must not contain NUL characters"));
    }
    Ok(())
}

fn error(code: &'static str, message: &str) -> ValidationError {
    let mut e = ValidationError::new(code);
    e.message = Some(message.to_owned().into());
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn issue_paths(body: &serde_json::Value) -> Vec<String> {
        let error = Batch::parse(body.to_string().as_bytes()).unwrap_err();
        let issues = error.details.unwrap()["issues"].as_array().unwrap().clone();
        issues.iter().map(|i| i["path"].to_string()).collect()
    }

    #[test]
    fn a_batch_reports_every_bad_item_shape_and_rule_alike() {
        let good = json!({"title": "t", "content": "c", "contentType": "text"});
        let paths = issue_paths(&json!({"documents": [
            good,
            {"title": "", "content": "c", "contentType": "text"},
            {"title": "t", "content": "c", "contentType": "pdf"},
            {"title": "t", "content": "c\u{0}", "contentType": "text"},
            {"title": "t", "content": "c", "contentType": "text", "surprise": 1},
        ]}));
        assert_eq!(paths.len(), 4, "{paths:?}");
        assert!(paths[0].starts_with(r#"["documents",1,"title""#));
        assert!(paths[1].starts_with(r#"["documents",2,"contentType""#));
        assert!(paths[2].starts_with(r#"["documents",3,"content""#));
        assert!(paths[3].starts_with(r#"["documents",4"#));
    }

    #[test]
    fn a_batch_has_one_to_a_hundred_documents() {
        let doc = json!({"title": "t", "content": "c", "contentType": "text"});
        assert_eq!(issue_paths(&json!({"documents": []})), vec![r#"["documents"]"#]);
        let many: Vec<_> = (0..101).map(|_| doc.clone()).collect();
        assert_eq!(issue_paths(&json!({"documents": many})), vec![r#"["documents"]"#]);
        let ok: Vec<_> = (0..100).map(|_| doc.clone()).collect();
        assert_eq!(Batch::parse(json!({"documents": ok}).to_string().as_bytes()).unwrap().documents.len(), 100);
    }

    #[test]
    fn metadata_and_tags_have_limits() {
        let deep = json!({"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}});
        let doc =
            json!({"title": "t", "content": "c", "contentType": "text", "metadata": deep, "tags": ["ok", " padded"]});
        let error = sba_validate::parse::<NewDocument>(doc.to_string().as_bytes()).unwrap_err();
        let codes: Vec<_> = error.details.unwrap()["issues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["code"].as_str().unwrap().to_owned())
            .collect();
        assert!(codes.contains(&"too_deep".to_string()), "{codes:?}");
        assert!(codes.contains(&"invalid_string".to_string()), "{codes:?}");
    }
}
