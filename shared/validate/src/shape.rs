//! A serde "wrong shape" error (valid JSON, wrong types or fields) → one [`Issue`].
//!
//! serde only reports errors as text, so the message is read back by its known forms
//! (`missing field `x``, `invalid type: …, expected …`, …); anything else is `invalid_value`
//! with serde's text. Codes are listed in [`crate::codes`].

use crate::issue::{Issue, PathSegment};
use serde_json::Value;
use serde_path_to_error::Segment;

pub(crate) fn issue(error: &serde_path_to_error::Error<serde_json::Error>) -> Issue {
    let mut path: Vec<PathSegment> = error
        .path()
        .iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(PathSegment::Index(*index)),
            Segment::Map { key } => Some(PathSegment::Key(key.clone())),
            Segment::Enum { variant } => Some(PathSegment::Key(variant.clone())),
            Segment::Unknown => None,
        })
        .collect();
    let text = message_without_position(error.inner());
    let mut push_field = |field: &str| {
        if path.last() != Some(&PathSegment::Key(field.to_owned())) {
            path.push(PathSegment::Key(field.to_owned()));
        }
    };

    if let Some(field) = quoted_after(&text, "missing field ") {
        push_field(&field);
        return Issue::new(path, "required", "is required");
    }
    if let Some(field) = quoted_after(&text, "unknown field ") {
        push_field(&field);
        return Issue::new(path, "unknown_field", "is not an accepted field");
    }
    if let Some(field) = quoted_after(&text, "duplicate field ") {
        push_field(&field);
        return Issue::new(path, "duplicate_field", "is given more than once");
    }
    if text.starts_with("unknown variant ") {
        let message = match text.split_once(", expected ") {
            Some((_, allowed)) => format!("must be {allowed}"),
            None => "is not an accepted value".to_owned(),
        };
        return Issue::new(path, "unknown_variant", message);
    }
    for (prefix, code) in [("invalid type: ", "invalid_type"), ("invalid value: ", "invalid_value")] {
        if let Some(rest) = text.strip_prefix(prefix) {
            let received = received_kind(rest);
            let expected = rest.rsplit_once(", expected ").map_or("another value", |(_, e)| e);
            let expected = expected_kind(expected);
            return Issue::new(path, code, format!("expected {expected}, received {received}"))
                .with_param("expected", Value::String(expected.to_owned()))
                .with_param("received", Value::String(received.to_owned()));
        }
    }
    if let Some(rest) = text.strip_prefix("invalid length ") {
        let expected = rest.split_once(", expected ").map_or("another length", |(_, e)| e);
        return Issue::new(path, "invalid_length", format!("expected {expected}"));
    }
    Issue::new(path, "invalid_value", text)
}

/// serde_json appends " at line L column C"; an issue has a path instead.
fn message_without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    text.strip_suffix(&suffix).map(str::to_owned).unwrap_or(text)
}

/// `name` in "<prefix>`name`…".
fn quoted_after(text: &str, prefix: &str) -> Option<String> {
    let rest = text.strip_prefix(prefix)?.strip_prefix('`')?;
    Some(rest.split_once('`')?.0.to_owned())
}

/// serde's `Unexpected` text ("string \"abc\"", "integer `5`", "map"…) as a JSON type name;
/// the client's value itself is not repeated.
fn received_kind(unexpected: &str) -> &'static str {
    const KINDS: [(&str, &str); 10] = [
        ("boolean", "boolean"),
        ("integer", "number"),
        ("floating point", "number"),
        ("string", "string"),
        ("character", "string"),
        ("null", "null"),
        ("unit", "null"),
        ("sequence", "array"),
        ("map", "object"),
        ("Option value", "null"),
    ];
    KINDS.iter().find(|(prefix, _)| unexpected.starts_with(prefix)).map_or("another type", |(_, kind)| kind)
}

/// serde's "expected …" text, in JSON words where it names a container.
fn expected_kind(expected: &str) -> &str {
    if expected == "a sequence" || expected.starts_with("a sequence") || expected.starts_with("tuple") {
        "array"
    } else if expected == "a map" || expected.starts_with("struct ") {
        "object"
    } else if expected == "a string" {
        "string"
    } else if expected == "a boolean" {
        "boolean"
    } else {
        expected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_kinds() {
        assert_eq!(received_kind("string \"a, expected b\""), "string");
        assert_eq!(received_kind("integer `5`"), "number");
        assert_eq!(received_kind("floating point `1.5`"), "number");
        assert_eq!(received_kind("map"), "object");
        assert_eq!(received_kind("whatever"), "another type");
    }

    #[test]
    fn quoted_names() {
        assert_eq!(quoted_after("missing field `title`", "missing field ").as_deref(), Some("title"));
        assert_eq!(quoted_after("missing field title", "missing field "), None);
    }
}
