//! One validation issue, and the 422 error that carries a list of them.

use sba_errors::ApiError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// One step of an issue's path: an object key (`"items"`) or an array index (`2`, a JSON number).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PathSegment {
    Index(usize),
    Key(String),
}

impl From<&str> for PathSegment {
    fn from(key: &str) -> Self {
        PathSegment::Key(key.to_owned())
    }
}

impl From<usize> for PathSegment {
    fn from(index: usize) -> Self {
        PathSegment::Index(index)
    }
}

/// What is wrong at one place of the body, as `{"path", "code", "message", "params"?}`.
/// `path` is empty for the body as a whole; `params` holds the rule's bounds (`min`, `max`, …),
/// never the value the client sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    pub path: Vec<PathSegment>,
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub params: Map<String, Value>,
}

impl Issue {
    pub fn new(path: Vec<PathSegment>, code: impl Into<String>, message: impl Into<String>) -> Self {
        Issue { path, code: code.into(), message: message.into(), params: Map::new() }
    }

    pub fn with_param(mut self, name: &str, value: Value) -> Self {
        self.params.insert(name.to_owned(), value);
        self
    }
}

/// The 422 `validation_failed` error for `issues`, sorted by path (then code and message) so
/// the body is deterministic; details are `{"issues": [...]}`. An empty list still yields one
/// issue at the root, so a 422 always says something.
pub fn validation_error(mut issues: Vec<Issue>) -> ApiError {
    if issues.is_empty() {
        issues.push(Issue::new(Vec::new(), "invalid", "is invalid"));
    }
    issues.sort_by(|a, b| (&a.path, &a.code, &a.message).cmp(&(&b.path, &b.code, &b.message)));
    let message = format!("request body failed validation: {} issue(s)", issues.len());
    let issues = serde_json::to_value(&issues).unwrap_or_else(|_| Value::Array(Vec::new()));
    ApiError::unprocessable("validation_failed", message).with_details(json!({ "issues": issues }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_paths_as_strings_and_numbers() {
        let issue =
            Issue::new(vec!["items".into(), 2.into(), "title".into()], "too_long", "must be at most 200 characters")
                .with_param("max", json!(200));
        assert_eq!(
            serde_json::to_value(&issue).unwrap(),
            json!({"path": ["items", 2, "title"], "code": "too_long", "message": "must be at most 200 characters", "params": {"max": 200}})
        );
        let plain = Issue::new(Vec::new(), "required", "is required");
        assert_eq!(
            serde_json::to_value(&plain).unwrap(),
            json!({"path": [], "code": "required", "message": "is required"})
        );
        let back: Issue = serde_json::from_value(serde_json::to_value(&issue).unwrap()).unwrap();
        assert_eq!(back, issue);
    }

    #[test]
    fn error_is_422_with_sorted_issues() {
        let err = validation_error(vec![
            Issue::new(vec!["title".into()], "too_long", "b"),
            Issue::new(vec!["items".into(), 10.into()], "required", "a"),
            Issue::new(vec!["items".into(), 2.into()], "required", "a"),
        ]);
        assert_eq!((err.status, err.code.as_ref()), (422, "validation_failed"));
        assert_eq!(err.message, "request body failed validation: 3 issue(s)");
        let paths: Vec<_> =
            err.details.unwrap()["issues"].as_array().unwrap().iter().map(|i| i["path"].clone()).collect();
        assert_eq!(paths, vec![json!(["items", 2]), json!(["items", 10]), json!(["title"])]);
    }

    #[test]
    fn never_an_empty_list() {
        let err = validation_error(Vec::new());
        assert_eq!(err.details.unwrap()["issues"], json!([{"path": [], "code": "invalid", "message": "is invalid"}]));
    }
}
