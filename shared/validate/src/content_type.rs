//! The `Content-Type` check: JSON in, or 415.

use sba_errors::ApiError;

/// Accepts `application/json` and `application/<anything>+json` (case-insensitive), with
/// optional parameters; a `charset` parameter, if given, must be `utf-8`. Anything else,
/// a missing header included, is 415 `unsupported_media_type`.
pub fn require_json_content_type(content_type: Option<&str>) -> Result<(), ApiError> {
    match content_type {
        Some(value) if is_json(value) => Ok(()),
        _ => Err(ApiError::unsupported_media_type("application/json")),
    }
}

fn is_json(value: &str) -> bool {
    let (essence, params) = value.split_once(';').unwrap_or((value, ""));
    let Some((kind, subtype)) = essence.trim().split_once('/') else { return false };
    let subtype = subtype.to_ascii_lowercase();
    let json_subtype =
        subtype == "json" || subtype.strip_suffix("+json").is_some_and(|prefix| !prefix.is_empty() && is_token(prefix));
    kind.eq_ignore_ascii_case("application") && json_subtype && params_ok(params)
}

/// `params` is what follows the first `;`: `name=value` pairs separated by `;`, values a token
/// or a quoted string. Empty entries (`a/b;` or `;;`) are tolerated, malformed ones are not.
fn params_ok(params: &str) -> bool {
    let mut rest = params;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ';']);
        if rest.is_empty() {
            return true;
        }
        let Some((name, after)) = rest.split_once('=') else { return false };
        let name = name.trim();
        let Some((value, after)) = param_value(after.trim_start()) else { return false };
        if !is_token(name) || (name.eq_ignore_ascii_case("charset") && !value.eq_ignore_ascii_case("utf-8")) {
            return false;
        }
        let after = after.trim_start_matches([' ', '\t']);
        if !(after.is_empty() || after.starts_with(';')) {
            return false;
        }
        rest = after;
    }
}

/// One parameter value and what follows it; quoted strings are unescaped.
fn param_value(input: &str) -> Option<(String, &str)> {
    let Some(quoted) = input.strip_prefix('"') else {
        let end = input.find([';', ' ', '\t']).unwrap_or(input.len());
        let (token, rest) = input.split_at(end);
        return is_token(token).then(|| (token.to_owned(), rest));
    };
    let mut value = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &quoted[i + 1..])),
            '\\' => value.push(chars.next()?.1),
            c => value.push(c),
        }
    }
    None
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_json_media_types() {
        for ok in [
            "application/json",
            "APPLICATION/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
            "application/json; charset=\"utf-8\"",
            "application/json;",
            " application/json ; foo=bar ; charset=utf-8",
            "application/merge-patch+json",
            "application/vnd.api+JSON; ext=\"a;b\"",
        ] {
            assert_eq!(require_json_content_type(Some(ok)), Ok(()), "{ok}");
        }
    }

    #[test]
    fn rejects_everything_else_with_415() {
        for bad in [
            None,
            Some(""),
            Some("text/json"),
            Some("application/jsonx"),
            Some("application/+json"),
            Some("application/json; charset=latin1"),
            Some("application/json; charset=utf8"),
            Some("application/json; charset"),
            Some("application/json; charset=\"utf-8"),
            Some("application/json; a b=c"),
            Some("multipart/form-data; boundary=x"),
            Some("application/x-www-form-urlencoded"),
            Some("json"),
        ] {
            let err = require_json_content_type(bad).unwrap_err();
            assert_eq!((err.status, err.code.as_ref()), (415, "unsupported_media_type"), "{bad:?}");
            assert_eq!(err.message, "expected Content-Type: application/json");
        }
    }
}
