//! `parse`: body bytes → a validated value, or a 400 / 422 [`ApiError`].

use crate::issue::validation_error;
use crate::{report, shape};
use sba_errors::ApiError;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use validator::Validate;

/// Deserializes `body` as JSON into `T` and runs `T`'s validator rules.
///
/// 400 `invalid_json`: empty (or whitespace-only) body; not UTF-8, malformed, or trailing
/// data, with `details: {"line", "column"}`. 422 `validation_failed` with `details.issues`:
/// one issue when the JSON does not fit `T`'s shape, every issue when validator rules fail.
pub fn parse<T: DeserializeOwned + Validate>(body: &[u8]) -> Result<T, ApiError> {
    let sent = check_json(body)?;
    // The body is JSON now, so whatever serde says from here on is about its shape.
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|error| validation_error(vec![shape::issue(&error)]))?;
    match value.validate() {
        Ok(()) => Ok(value),
        Err(errors) => Err(validation_error(report::issues(&errors, Some(&sent)))),
    }
}

/// An already-parsed JSON value → a validated `T`, or every issue (paths relative to the
/// value). For lists whose items are checked one by one, so that one bad item's shape does not
/// hide the others' problems (batch endpoints prefix each item's issues with its index).
pub fn check_value<T: DeserializeOwned + Validate>(value: &Value) -> Result<T, Vec<crate::Issue>> {
    let parsed: T = serde_path_to_error::deserialize(value).map_err(|error| vec![shape::issue(&error)])?;
    match parsed.validate() {
        Ok(()) => Ok(parsed),
        Err(errors) => Err(report::issues(&errors, Some(value))),
    }
}

/// Everything that makes the body not JSON at all, before any shape is looked at, so that a
/// malformed body is always a 400 even when its first field already has the wrong type.
/// Parsing into a `Value` also applies serde_json's nesting limit (128) and number range,
/// and the tree is kept to name fields as the client did ([`report`]).
fn check_json(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')) {
        return Err(ApiError::bad_request("invalid_json", "request body is empty"));
    }
    if let Err(error) = std::str::from_utf8(body) {
        let (line, column) = position(body, error.valid_up_to());
        return Err(ApiError::bad_request(
            "invalid_json",
            format!("request body is not valid UTF-8 at line {line} column {column}"),
        )
        .with_details(json!({ "line": line, "column": column })));
    }
    serde_json::from_slice::<Value>(body).map_err(|e| invalid_json(&e))
}

fn invalid_json(error: &serde_json::Error) -> ApiError {
    ApiError::bad_request("invalid_json", format!("request body is not valid JSON: {error}"))
        .with_details(json!({ "line": error.line(), "column": error.column() }))
}

/// 1-based line and column (in bytes, as serde_json counts) of byte `offset`.
fn position(body: &[u8], offset: usize) -> (usize, usize) {
    let before = body.get(..offset).unwrap_or(body);
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    (line, offset - line_start + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        assert_eq!(position(b"abc", 0), (1, 1));
        assert_eq!(position(b"a\nbc", 3), (2, 2));
        assert_eq!(position(b"a\n", 2), (2, 1));
    }
}
