//! The `Authorization: Bearer <token>` header: scheme, shape and size, nothing cryptographic.

use sba_errors::ApiError;

/// Larger tokens are refused before any decoding (Supabase tokens are ~1 KB).
pub(crate) const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The compact JWS in the header: scheme `Bearer` in any case, spaces around tolerated,
/// three non-empty base64url segments.
pub(crate) fn token_from_header(authorization: Option<&str>) -> Result<&str, ApiError> {
    let value = authorization.map(str::trim).filter(|v| !v.is_empty());
    let Some(value) = value else {
        return Err(ApiError::unauthorized("invalid_request", "missing Authorization header"));
    };
    let (scheme, rest) = value.split_once(|c: char| c.is_ascii_whitespace()).unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::unauthorized("invalid_request", "Authorization scheme must be Bearer"));
    }
    let token = rest.trim();
    if token.is_empty() {
        return Err(ApiError::unauthorized("invalid_request", "missing bearer token"));
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(ApiError::unauthorized("invalid_token", "token too large"));
    }
    if !is_compact_jws(token) {
        return Err(ApiError::unauthorized("invalid_token", "malformed token: expected three base64url parts"));
    }
    Ok(token)
}

fn is_compact_jws(token: &str) -> bool {
    let base64url = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let parts: Vec<&str> = token.split('.').collect();
    // The signature may be empty here (`alg: none`); the header check rejects that later
    // with a clearer message.
    parts.len() == 3 && !parts[0].is_empty() && !parts[1].is_empty() && parts.iter().all(|p| base64url(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(err: ApiError) -> (u16, String, String) {
        let challenge = err.headers.iter().find(|(n, _)| *n == "WWW-Authenticate").map(|(_, v)| v.clone());
        (err.status, err.message, challenge.unwrap_or_default())
    }

    #[test]
    fn accepts_bearer_in_any_case_with_spaces() {
        for header in ["Bearer a.b.c", "bearer a.b.c", "BEARER   a.b.c  ", "  Bearer\ta.b.c"] {
            assert_eq!(token_from_header(Some(header)).unwrap(), "a.b.c", "{header:?}");
        }
    }

    #[test]
    fn missing_or_empty_header_is_invalid_request() {
        for header in [None, Some(""), Some("   ")] {
            let (status, msg, challenge) = message(token_from_header(header).unwrap_err());
            assert_eq!(status, 401);
            assert_eq!(msg, "missing Authorization header");
            assert!(challenge.contains("error=\"invalid_request\""));
        }
    }

    #[test]
    fn other_schemes_and_empty_tokens_are_invalid_request() {
        for header in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "Bearera.b.c", "Token a.b.c"] {
            let (status, _, challenge) = message(token_from_header(Some(header)).unwrap_err());
            assert_eq!(status, 401, "{header:?}");
            assert!(challenge.contains("error=\"invalid_request\""), "{header:?}");
        }
    }

    #[test]
    fn garbled_tokens_are_invalid_token_and_not_echoed() {
        for header in [
            "Bearer a.b",
            "Bearer a.b.c.d",
            "Bearer .b.c",
            "Bearer a..c",
            "Bearer a.b.c d",
            "Bearer a+b.c.d",
            "Bearer ä.b.c",
        ] {
            let (status, msg, challenge) = message(token_from_header(Some(header)).unwrap_err());
            assert_eq!(status, 401, "{header:?}");
            assert!(challenge.contains("error=\"invalid_token\""), "{header:?}");
            assert!(!msg.contains(header.trim_start_matches("Bearer ")), "{header:?}");
        }
    }

    #[test]
    fn huge_tokens_are_refused() {
        let header = format!("Bearer {}.b.c", "a".repeat(MAX_TOKEN_BYTES));
        assert_eq!(token_from_header(Some(&header)).unwrap_err().message, "token too large");
    }
}
