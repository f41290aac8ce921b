//! Custom rules for `#[validate(custom(function = …))]`, and [`value_errors`] to validate a
//! newtype (a tag, a slug) so that `Vec<Tag>` with `#[validate(nested)]` reports `["tags", 3]`.

use serde_json::Value;
use std::borrow::Cow;
use std::io;
use validator::{ValidationError, ValidationErrors};

/// The key [`value_errors`] files a newtype's errors under; [`crate::report`] leaves it out of
/// paths, so the issue points at the value itself.
pub const VALUE_KEY: &str = "__value__";

/// A `Validate` impl for a newtype in one line: `value_errors([length_chars(&self.0, 1, 32)])`.
pub fn value_errors(results: impl IntoIterator<Item = Result<(), ValidationError>>) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::new();
    for error in results.into_iter().filter_map(Result::err) {
        errors.add(VALUE_KEY, error);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// validator's `length(min, max)` for a string, counted in characters, as a function; it
/// reports code `length` with `min`/`max` params, so it maps to `too_short`/`too_long`.
pub fn length_chars(s: &str, min: u64, max: u64) -> Result<(), ValidationError> {
    let len = s.chars().count() as u64;
    if (min..=max).contains(&len) {
        return Ok(());
    }
    let mut error = ValidationError::new("length");
    error.add_param(Cow::Borrowed("min"), &min);
    error.add_param(Cow::Borrowed("max"), &max);
    error.add_param(Cow::Borrowed("value"), &s);
    Err(error)
}

/// Rejects control characters (Unicode `Cc`: NUL, tab, newline, DEL, C1…) in titles and tags:
/// code `invalid_string`.
pub fn no_control_chars(s: &str) -> Result<(), ValidationError> {
    if s.chars().any(char::is_control) {
        Err(ValidationError::new("invalid_string").with_message(Cow::Borrowed("must not contain control characters")))
    } else {
        Ok(())
    }
}

/// Limits for free-form JSON (metadata): nesting depth (a scalar is depth 0, `{}` or `[]` is
/// 1, `{"a": [1]}` is 2) and the size of its compact serialization. Codes `too_deep` and
/// `too_large`, params `max`. Stops as soon as a limit is passed; depth is checked first and
/// without recursion (the size check serializes, which recurses, so keep `max_depth` modest).
pub fn json_depth_and_size(value: &Value, max_depth: usize, max_bytes: usize) -> Result<(), ValidationError> {
    if exceeds_depth(value, max_depth) {
        let mut error = ValidationError::new("too_deep")
            .with_message(Cow::Owned(format!("must be nested at most {max_depth} levels deep")));
        error.add_param(Cow::Borrowed("max"), &max_depth);
        return Err(error);
    }
    let mut counter = ByteCounter { left: max_bytes };
    if serde_json::to_writer(&mut counter, value).is_err() {
        let mut error = ValidationError::new("too_large")
            .with_message(Cow::Owned(format!("must be at most {max_bytes} bytes as JSON")));
        error.add_param(Cow::Borrowed("max"), &max_bytes);
        return Err(error);
    }
    Ok(())
}

fn exceeds_depth(value: &Value, max_depth: usize) -> bool {
    let mut stack = vec![(value, 0usize)];
    while let Some((value, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        if depth + 1 > max_depth {
            return true;
        }
        stack.extend(children.map(|child| (child, depth + 1)));
    }
    false
}

/// A writer that only counts, and fails once more than `left` bytes were written.
struct ByteCounter {
    left: usize,
}

impl io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.left = self.left.checked_sub(buf.len()).ok_or(io::ErrorKind::Other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn depth_counts_containers() {
        assert!(json_depth_and_size(&json!(1), 0, 100).is_ok());
        assert!(json_depth_and_size(&json!({}), 1, 100).is_ok());
        assert!(json_depth_and_size(&json!({"a": [1, {"b": null}]}), 3, 100).is_ok());
        let err = json_depth_and_size(&json!({"a": [1, {"b": null}]}), 2, 100).unwrap_err();
        assert_eq!(err.code, "too_deep");
        assert_eq!(err.params["max"], json!(2));
        assert_eq!(json_depth_and_size(&json!([]), 0, 100).unwrap_err().code, "too_deep");
    }

    #[test]
    fn size_is_the_compact_serialization() {
        let v = json!({"a": "xyz"}); // {"a":"xyz"} = 11 bytes
        assert!(json_depth_and_size(&v, 5, 11).is_ok());
        let err = json_depth_and_size(&v, 5, 10).unwrap_err();
        assert_eq!(err.code, "too_large");
        assert_eq!(err.message.as_deref(), Some("must be at most 10 bytes as JSON"));
    }

    #[test]
    fn deep_values_do_not_recurse() {
        let mut v = json!(null);
        for _ in 0..10_000 {
            v = Value::Array(vec![v]);
        }
        assert_eq!(json_depth_and_size(&v, 64, usize::MAX).unwrap_err().code, "too_deep");
        assert!(!exceeds_depth(&v, 10_000));
        // Value's own Drop recurses; take it apart by hand so the test's stack stays small.
        while let Value::Array(mut items) = v {
            v = items.pop().unwrap_or(Value::Null);
        }
    }

    #[test]
    fn control_characters() {
        assert!(no_control_chars("Quarterly report — Q3 ✓").is_ok());
        for bad in ["a\nb", "tab\t", "nul\0", "del\u{7f}", "c1\u{85}"] {
            assert_eq!(no_control_chars(bad).unwrap_err().code, "invalid_string", "{bad:?}");
        }
    }

    #[test]
    fn newtype_errors() {
        assert_eq!(value_errors([length_chars("ok", 1, 32), no_control_chars("ok")]), Ok(()));
        let errors = value_errors([length_chars("", 1, 32), no_control_chars("a\n")]).unwrap_err();
        assert_eq!(errors.field_errors()[VALUE_KEY].len(), 2);
    }
}
