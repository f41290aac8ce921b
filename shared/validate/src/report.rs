//! validator's `ValidationErrors` tree → a flat list of [`Issue`]s with JSON paths.
//!
//! validator 0.21 names fields by their Rust identifier and ignores serde's `rename` /
//! `rename_all`, so `source_url` is reported as `source_url` even when the client sent
//! `sourceUrl`. Each name is therefore mapped back against the body the client sent: the
//! object key at that place that is the camelCase form of the identifier, the identifier
//! itself, or the one key equal to it up to case, `_` and `-` (kebab-case, PascalCase…). A field
//! the client did not send (`required`) gets the camelCase form, the project's convention.
//! Limits: an explicit `#[serde(rename = "other")]` to a different word, and
//! `#[serde(flatten)]`, are not mapped back.
//!
//! Lists: validator gives an index for `Vec` elements and for map values. Where the client
//! sent an object there, the index is turned into the key, in sorted key order: right for
//! `BTreeMap<String, _>`, meaningless for `HashMap` (whose order is random). Struct-level
//! (`schema`) errors and newtype errors ([`crate::rules::value_errors`]) point at the struct or
//! value itself.

use crate::codes::describe;
use crate::issue::{Issue, PathSegment};
use crate::rules::VALUE_KEY;
use serde_json::Value;
use validator::{ValidationErrors, ValidationErrorsKind};

/// Every issue in `errors`; `body` is the JSON the client sent, if available, for naming.
pub fn issues(errors: &ValidationErrors, body: Option<&Value>) -> Vec<Issue> {
    let mut out = Vec::new();
    walk(errors, &mut Vec::new(), body, &mut out);
    out
}

fn walk(errors: &ValidationErrors, path: &mut Vec<PathSegment>, json: Option<&Value>, out: &mut Vec<Issue>) {
    for (field, kind) in errors.errors() {
        let depth = path.len();
        let mut json = json;
        if field != "__all__" && field != VALUE_KEY {
            let key = json_key(field, json);
            json = json.and_then(|j| j.get(&key));
            path.push(PathSegment::Key(key));
        }
        match kind {
            ValidationErrorsKind::Field(list) => {
                for error in list {
                    let (code, message, params) = describe(error);
                    out.push(Issue { path: path.clone(), code, message, params });
                }
            }
            ValidationErrorsKind::Struct(inner) => walk(inner, path, json, out),
            ValidationErrorsKind::List(items) => {
                for (&index, inner) in items {
                    let (segment, child) = element(json, index);
                    path.push(segment);
                    walk(inner, path, child, out);
                    path.pop();
                }
            }
        }
        path.truncate(depth);
    }
}

/// The path segment and JSON value of element `index` of a list or map.
fn element(json: Option<&Value>, index: usize) -> (PathSegment, Option<&Value>) {
    match json {
        Some(Value::Object(map)) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            match keys.get(index) {
                Some(key) => (PathSegment::Key((*key).clone()), map.get(*key)),
                None => (PathSegment::Index(index), None),
            }
        }
        Some(Value::Array(items)) => (PathSegment::Index(index), items.get(index)),
        _ => (PathSegment::Index(index), None),
    }
}

/// The JSON key the client used for Rust field `field` (see the module doc).
fn json_key(field: &str, json: Option<&Value>) -> String {
    let field = field.strip_prefix("r#").unwrap_or(field);
    let camel = camel_case(field);
    let Some(Value::Object(map)) = json else { return camel };
    if map.contains_key(&camel) {
        return camel;
    }
    if map.contains_key(field) {
        return field.to_owned();
    }
    let wanted = loose(field);
    let mut loose_matches = map.keys().filter(|k| loose(k) == wanted);
    match (loose_matches.next(), loose_matches.next()) {
        (Some(key), None) => key.clone(),
        _ => camel,
    }
}

/// serde's `rename_all = "camelCase"` applied to a snake_case identifier.
fn camel_case(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut upper = false;
    for c in field.chars() {
        if c == '_' {
            upper = !out.is_empty();
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn loose(key: &str) -> String {
    key.chars().filter(|c| *c != '_' && *c != '-').flat_map(char::to_lowercase).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn camel_case_like_serde() {
        assert_eq!(camel_case("source_url"), "sourceUrl");
        assert_eq!(camel_case("title"), "title");
        assert_eq!(camel_case("a_b_c"), "aBC");
        assert_eq!(camel_case(""), "");
    }

    #[test]
    fn keys_follow_what_the_client_sent() {
        let body = json!({"source_url": 1, "Page-Count": 2, "dueAt": 3});
        assert_eq!(json_key("source_url", Some(&body)), "source_url");
        assert_eq!(json_key("page_count", Some(&body)), "Page-Count");
        assert_eq!(json_key("due_at", Some(&body)), "dueAt");
        assert_eq!(json_key("missing_one", Some(&body)), "missingOne");
        assert_eq!(json_key("r#type", None), "type");
    }

    #[test]
    fn map_indexes_become_sorted_keys() {
        let body = json!({"b": {}, "a": {}});
        assert_eq!(element(Some(&body), 1).0, PathSegment::Key("b".into()));
        assert_eq!(element(Some(&body), 5).0, PathSegment::Index(5));
        assert_eq!(element(Some(&json!([0, 1])), 1).0, PathSegment::Index(1));
    }
}
