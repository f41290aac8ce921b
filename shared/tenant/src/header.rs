//! The JOSE header, read before any key is chosen: the pinned algorithm and the `kid`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sba_errors::ApiError;
use serde::Deserialize;

/// The only algorithms this crate accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alg {
    /// HMAC-SHA256 with the configured shared secret, never with a JWKS key.
    Hs256,
    /// RSASSA-PKCS1-v1_5 SHA-256 with an RSA JWKS key.
    Rs256,
    /// ECDSA P-256 SHA-256 with an EC P-256 JWKS key.
    Es256,
}

impl Alg {
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Alg::Hs256 => jsonwebtoken::Algorithm::HS256,
            Alg::Rs256 => jsonwebtoken::Algorithm::RS256,
            Alg::Es256 => jsonwebtoken::Algorithm::ES256,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Alg::Hs256 => "HS256",
            Alg::Rs256 => "RS256",
            Alg::Es256 => "ES256",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JoseHeader {
    pub alg: Alg,
    pub kid: Option<String>,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: Option<String>,
    kid: Option<serde_json::Value>,
    crit: Option<serde_json::Value>,
}

fn invalid(message: &str) -> ApiError {
    ApiError::unauthorized("invalid_token", message.to_string())
}

/// Decodes the first segment of `token` (already checked to be three base64url parts).
pub(crate) fn peek(token: &str) -> Result<JoseHeader, ApiError> {
    let encoded = token.split('.').next().unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| invalid("malformed token header"))?;
    let raw: RawHeader = serde_json::from_slice(&bytes).map_err(|_| invalid("malformed token header"))?;
    let alg = match raw.alg.as_deref() {
        Some("HS256") => Alg::Hs256,
        Some("RS256") => Alg::Rs256,
        Some("ES256") => Alg::Es256,
        Some(a) if a.eq_ignore_ascii_case("none") => {
            return Err(invalid("unsigned tokens (alg none) are not accepted"))
        }
        Some(_) => return Err(invalid("token algorithm not accepted (HS256, RS256, ES256 only)")),
        None => return Err(invalid("token header has no alg")),
    };
    if raw.crit.is_some() {
        return Err(invalid("token header has unsupported critical parameters"));
    }
    let kid = match raw.kid {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(kid)) => Some(kid),
        Some(_) => return Err(invalid("token kid is not a string")),
    };
    Ok(JoseHeader { alg, kid })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token_with_header(json: &str) -> String {
        format!("{}.e30.sig", URL_SAFE_NO_PAD.encode(json))
    }

    fn peek_json(json: &str) -> Result<JoseHeader, String> {
        peek(&token_with_header(json)).map_err(|e| e.message)
    }

    #[test]
    fn pinned_algorithms_are_read_with_kid() {
        assert_eq!(peek_json(r#"{"alg":"HS256","typ":"JWT"}"#), Ok(JoseHeader { alg: Alg::Hs256, kid: None }));
        assert_eq!(
            peek_json(r#"{"alg":"RS256","kid":"k1"}"#),
            Ok(JoseHeader { alg: Alg::Rs256, kid: Some("k1".into()) })
        );
        assert_eq!(
            peek_json(r#"{"alg":"ES256","kid":"k2"}"#),
            Ok(JoseHeader { alg: Alg::Es256, kid: Some("k2".into()) })
        );
    }

    #[test]
    fn none_and_other_algorithms_are_rejected() {
        for alg in ["none", "None", "NONE"] {
            assert_eq!(
                peek_json(&format!(r#"{{"alg":"{alg}"}}"#)).unwrap_err(),
                "unsigned tokens (alg none) are not accepted"
            );
        }
        for alg in ["HS384", "HS512", "RS512", "PS256", "ES384", "EdDSA", "hs256", ""] {
            assert_eq!(
                peek_json(&format!(r#"{{"alg":"{alg}"}}"#)).unwrap_err(),
                "token algorithm not accepted (HS256, RS256, ES256 only)",
                "{alg}"
            );
        }
        assert_eq!(peek_json(r#"{"typ":"JWT"}"#).unwrap_err(), "token header has no alg");
        assert_eq!(peek_json(r#"{"alg":5}"#).unwrap_err(), "malformed token header");
    }

    #[test]
    fn garbage_headers_are_malformed() {
        assert_eq!(peek("!!!.e30.sig").unwrap_err().message, "malformed token header");
        assert_eq!(peek_json("not json").unwrap_err(), "malformed token header");
        assert_eq!(peek_json("[]").unwrap_err(), "malformed token header");
        assert_eq!(peek_json(r#"{"alg":"RS256","kid":7}"#).unwrap_err(), "token kid is not a string");
        assert_eq!(
            peek_json(r#"{"alg":"RS256","crit":["exp"]}"#).unwrap_err(),
            "token header has unsupported critical parameters"
        );
    }
}
