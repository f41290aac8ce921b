//! Issue codes: validator's rule codes mapped to Zod-like ones, with a readable message.
//!
//! | code | from | default message |
//! |---|---|---|
//! | `required` | serde "missing field"; validator `required` | is required |
//! | `invalid_type` | serde: JSON type does not fit (`"5"` for a number…) | expected u32, received string |
//! | `invalid_value` | serde: right type, value not accepted (300 for a `u8`, a custom deserializer) | serde's text |
//! | `unknown_variant` | serde: string not among an enum's variants | must be one of `a`, `b` |
//! | `unknown_field` | serde with `deny_unknown_fields` | is not an accepted field |
//! | `duplicate_field` | serde: a key given twice | is given more than once |
//! | `invalid_length` | serde: wrong number of elements for a tuple or fixed-size array | expected … |
//! | `too_short` / `too_long` | validator `length` (the bound that failed decides) | must be at least/at most N characters (items) |
//! | `too_small` / `too_big` | validator `range` | must be at least/at most/greater than/less than N |
//! | `invalid_email` | validator `email` | must be a valid email address |
//! | `invalid_url` | validator `url` | must be a valid URL |
//! | `invalid_ip` | validator `ip` | must be a valid IP address |
//! | `invalid_string` | validator `regex`, `contains`, `does_not_contain`, `non_control_character`; [`crate::rules::no_control_chars`] | has an invalid format / … |
//! | `mismatch` | validator `must_match` | must match `other` |
//! | `too_deep` / `too_large` | [`crate::rules::json_depth_and_size`] | must be nested at most N levels / at most N bytes as JSON |
//! | `invalid` | a failure validator reported without any issue (should not happen) | is invalid |
//! | anything else | a custom rule's own code, unchanged | the rule's message, else "is invalid" |
//!
//! A rule's own `message` (`#[validate(length(max = 5, message = "…"))]`) always wins.
//! `params` keep the rule's parameters (`min`, `max`, …) but never `value`, the client's input.

use serde_json::{Map, Value};
use validator::ValidationError;

/// The code, message and params an issue shows for one validator error.
pub fn describe(error: &ValidationError) -> (String, String, Map<String, Value>) {
    let params: Map<String, Value> =
        error.params.iter().filter(|(k, _)| k.as_ref() != "value").map(|(k, v)| (k.to_string(), v.clone())).collect();
    let (code, default_message) = match error.code.as_ref() {
        "length" => length(error),
        "range" => range(error),
        "email" => ("invalid_email".to_owned(), "must be a valid email address".to_owned()),
        "url" => ("invalid_url".to_owned(), "must be a valid URL".to_owned()),
        "ip" => ("invalid_ip".to_owned(), "must be a valid IP address".to_owned()),
        "regex" => ("invalid_string".to_owned(), "has an invalid format".to_owned()),
        "non_control_character" => ("invalid_string".to_owned(), "must not contain control characters".to_owned()),
        "contains" => ("invalid_string".to_owned(), format!("must contain {}", param_text(error, "needle"))),
        "does_not_contain" => {
            ("invalid_string".to_owned(), format!("must not contain {}", param_text(error, "needle")))
        }
        "must_match" => ("mismatch".to_owned(), format!("must match {}", param_text(error, "other"))),
        "required" => ("required".to_owned(), "is required".to_owned()),
        other => (other.to_owned(), "is invalid".to_owned()),
    };
    let message = error.message.as_ref().map_or(default_message, |m| m.to_string());
    (code, message, params)
}

fn param_text(error: &ValidationError, name: &str) -> String {
    match error.params.get(name) {
        Some(Value::String(s)) => format!("\"{s}\""),
        Some(other) => other.to_string(),
        None => "the expected value".to_owned(),
    }
}

fn number(error: &ValidationError, name: &str) -> Option<f64> {
    error.params.get(name).and_then(Value::as_f64)
}

/// What the checked value is made of, and how long it is, as validator counts it
/// (characters of a string, elements of an array, entries of an object).
fn measure(value: Option<&Value>) -> (Option<f64>, &'static str, &'static str) {
    match value {
        Some(Value::String(s)) => (Some(s.chars().count() as f64), "character", "characters"),
        Some(Value::Array(a)) => (Some(a.len() as f64), "item", "items"),
        Some(Value::Object(o)) => (Some(o.len() as f64), "entry", "entries"),
        _ => (None, "character", "characters"),
    }
}

fn count(n: f64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1.0 { one } else { many })
}

fn length(error: &ValidationError) -> (String, String) {
    let (len, one, many) = measure(error.params.get("value"));
    let (min, max, equal) = (number(error, "min"), number(error, "max"), number(error, "equal"));
    let short = |n: f64| ("too_short".to_owned(), format!("must be at least {}", count(n, one, many)));
    let long = |n: f64| ("too_long".to_owned(), format!("must be at most {}", count(n, one, many)));
    if let Some(eq) = equal {
        let code = if len.is_some_and(|l| l > eq) { "too_long" } else { "too_short" };
        return (code.to_owned(), format!("must be exactly {}", count(eq, one, many)));
    }
    match (len, min, max) {
        (Some(l), Some(m), _) if l < m => short(m),
        (Some(l), _, Some(m)) if l > m => long(m),
        (_, Some(m), None) => short(m),
        (_, None, Some(m)) => long(m),
        (_, Some(lo), Some(hi)) => {
            ("too_short".to_owned(), format!("must be between {lo} and {}", count(hi, one, many)))
        }
        _ => ("too_short".to_owned(), "has an invalid length".to_owned()),
    }
}

fn range(error: &ValidationError) -> (String, String) {
    let value = number(error, "value");
    let bounds = [
        ("min", true, "must be at least"),
        ("exclusive_min", true, "must be greater than"),
        ("max", false, "must be at most"),
        ("exclusive_max", false, "must be less than"),
    ];
    let broken = |name: &str, bound: f64| match (name, value) {
        ("min", Some(v)) => v < bound,
        ("exclusive_min", Some(v)) => v <= bound,
        ("max", Some(v)) => v > bound,
        ("exclusive_max", Some(v)) => v >= bound,
        _ => false,
    };
    let present: Vec<_> =
        bounds.iter().filter_map(|&(name, low, text)| Some((name, low, text, number(error, name)?))).collect();
    let pick = present.iter().find(|&&(name, _, _, bound)| broken(name, bound)).or(present.first());
    match pick {
        Some(&(_, low, text, bound)) => {
            ((if low { "too_small" } else { "too_big" }).to_owned(), format!("{text} {bound}"))
        }
        None => ("too_small".to_owned(), "is out of range".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::borrow::Cow;

    fn err(code: &'static str, params: Value) -> ValidationError {
        let mut e = ValidationError::new(code);
        for (k, v) in params.as_object().unwrap() {
            e.add_param(Cow::Owned(k.clone()), v);
        }
        e
    }

    fn code_and_message(e: &ValidationError) -> (String, String) {
        let (code, message, _) = describe(e);
        (code, message)
    }

    #[test]
    fn length_picks_the_bound_that_failed() {
        let pair = |c: &str, m: &str| (c.to_owned(), m.to_owned());
        assert_eq!(
            code_and_message(&err("length", json!({"min": 1, "max": 200, "value": ""}))),
            pair("too_short", "must be at least 1 character")
        );
        assert_eq!(
            code_and_message(&err("length", json!({"min": 1, "max": 3, "value": "héllo"}))),
            pair("too_long", "must be at most 3 characters")
        );
        assert_eq!(
            code_and_message(&err("length", json!({"max": 2, "value": [1, 2, 3]}))),
            pair("too_long", "must be at most 2 items")
        );
        assert_eq!(
            code_and_message(&err("length", json!({"equal": 4, "value": "abc"}))),
            pair("too_short", "must be exactly 4 characters")
        );
        assert_eq!(code_and_message(&err("length", json!({"equal": 2, "value": "abc"}))).0, "too_long");
    }

    #[test]
    fn range_picks_small_or_big() {
        assert_eq!(
            code_and_message(&err("range", json!({"min": 1, "max": 100, "value": 0}))),
            ("too_small".into(), "must be at least 1".into())
        );
        assert_eq!(
            code_and_message(&err("range", json!({"min": 1, "max": 100, "value": 101}))),
            ("too_big".into(), "must be at most 100".into())
        );
        assert_eq!(
            code_and_message(&err("range", json!({"exclusive_max": 1.5, "value": 1.5}))),
            ("too_big".into(), "must be less than 1.5".into())
        );
        assert_eq!(code_and_message(&err("range", json!({"exclusive_min": 0, "value": 0}))).0, "too_small");
    }

    #[test]
    fn builtin_codes_map_and_custom_codes_pass_through() {
        assert_eq!(describe(&err("email", json!({"value": "x"}))).0, "invalid_email");
        assert_eq!(describe(&err("url", json!({}))).0, "invalid_url");
        assert_eq!(describe(&err("regex", json!({}))).0, "invalid_string");
        assert_eq!(describe(&err("required", json!({}))).0, "required");
        assert_eq!(code_and_message(&err("slug_taken", json!({}))), ("slug_taken".into(), "is invalid".into()));
        let own = ValidationError::new("length").with_message(Cow::Borrowed("too wordy"));
        assert_eq!(describe(&own).1, "too wordy");
    }

    #[test]
    fn params_never_echo_the_value() {
        let (_, _, params) = describe(&err("length", json!({"max": 2, "value": "secret"})));
        assert_eq!(Value::Object(params), json!({"max": 2}));
    }
}
