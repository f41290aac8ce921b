//! The bearer token: `Authorization: Bearer <token>` or `?_token=<token>`, compared in constant
//! time (both sides hashed first, so not even the length leaks).

use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

use crate::url::percent_decode;

pub struct Token {
    digest: Vec<u8>,
}

impl Token {
    /// `None` for an empty token: the server must not run open.
    pub fn new(token: &str) -> Option<Token> {
        if token.is_empty() {
            return None;
        }
        Some(Token { digest: digest(token.as_bytes()) })
    }

    /// Whether the `Authorization` header value or the query string carries the token.
    pub fn allows(&self, authorization: Option<&[u8]>, query: Option<&str>) -> bool {
        let from_header = authorization.and_then(bearer);
        let from_query = query.and_then(query_token);
        // Evaluate both, so timing does not say which one was present.
        let header_ok = from_header.is_some_and(|t| self.matches(t));
        let query_ok = from_query.is_some_and(|t| self.matches(&t));
        header_ok | query_ok
    }

    fn matches(&self, candidate: &[u8]) -> bool {
        bool::from(digest(candidate).ct_eq(&self.digest))
    }
}

fn digest(bytes: &[u8]) -> Vec<u8> {
    Sha1::digest(bytes).to_vec()
}

/// `Bearer <token>` (scheme case-insensitive) → the token.
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = rest.trim_ascii();
    (!token.is_empty()).then_some(token)
}

/// The percent-decoded value of the first `_token=` in a query string.
fn query_token(query: &str) -> Option<Vec<u8>> {
    query.split('&').find_map(|pair| pair.strip_prefix("_token=")).map(|v| percent_decode(v.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_query() {
        let t = Token::new("s3cr+t=").unwrap();
        assert!(t.allows(Some(b"Bearer s3cr+t="), None));
        assert!(t.allows(Some(b"bearer s3cr+t= "), None));
        assert!(!t.allows(Some(b"Bearer s3cr+t"), None));
        assert!(!t.allows(Some(b"Basic s3cr+t="), None));
        assert!(!t.allows(Some(b"Bearer "), None));
        assert!(!t.allows(None, None));
        assert!(t.allows(None, Some("a=1&_token=s3cr%2Bt%3D")));
        assert!(t.allows(None, Some("_token=s3cr+t=")));
        assert!(!t.allows(None, Some("_token=nope")));
        assert!(!t.allows(None, Some("x_token=s3cr+t=")));
        assert!(t.allows(Some(b"Bearer wrong"), Some("_token=s3cr+t=")));
    }

    #[test]
    fn empty_token_refused() {
        assert!(Token::new("").is_none());
    }
}
