//! The signature: pick the one key the pinned algorithm allows, verify with `jsonwebtoken`.
//!
//! `jsonwebtoken` checks only the signature here: its clock-based checks are off (its clock
//! is not ours on wasm) and every claim is checked in `claims.rs`.

use crate::cache;
use crate::config::AuthConfig;
use crate::header::{Alg, JoseHeader};
use crate::jwks::JwksSource;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{DecodingKey, Validation};
use sba_errors::ApiError;
use serde_json::{Map, Value};

fn invalid(message: &'static str) -> ApiError {
    ApiError::unauthorized("invalid_token", message)
}

/// The verified claims of `token`, or why not.
pub(crate) async fn verify_signature(
    config: &AuthConfig,
    source: &impl JwksSource,
    token: &str,
    header: &JoseHeader,
    now: u64,
) -> Result<Map<String, Value>, ApiError> {
    let key = key_for(config, source, header, now).await?;
    decode(token, &key, header.alg)
}

async fn key_for(
    config: &AuthConfig,
    source: &impl JwksSource,
    header: &JoseHeader,
    now: u64,
) -> Result<DecodingKey, ApiError> {
    match header.alg {
        // The shared secret only ever verifies HS256, and HS256 only ever uses the secret:
        // a token "signed" with a public key's bytes gets no key it could match.
        Alg::Hs256 => match config.secret() {
            Some(secret) => Ok(DecodingKey::from_secret(secret)),
            None => Err(invalid("HS256 tokens are not accepted here")),
        },
        Alg::Rs256 | Alg::Es256 => {
            let Some(url) = config.jwks_url.as_deref() else {
                return Err(invalid("RS256/ES256 tokens are not accepted here (no JWKS configured)"));
            };
            let Some(kid) = header.kid.as_deref().filter(|k| !k.is_empty()) else {
                return Err(invalid("token header has no kid"));
            };
            cache::key_for(config, source, url, kid, header.alg, now).await
        }
    }
}

fn decode(token: &str, key: &DecodingKey, alg: Alg) -> Result<Map<String, Value>, ApiError> {
    let mut validation = Validation::new(alg.jwt());
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<Value>(token, key, &validation).map_err(|e| {
        let message = match e.kind() {
            ErrorKind::InvalidSignature => "invalid token signature",
            ErrorKind::InvalidAlgorithm => "token algorithm does not match its signing key",
            ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidRsaKey(_) | ErrorKind::InvalidKeyFormat => {
                "token signing key is unusable"
            }
            _ => "malformed token",
        };
        invalid(message).with_cause(format!("jsonwebtoken: {e}"))
    })?;
    match data.claims {
        Value::Object(claims) => Ok(claims),
        _ => Err(invalid("token claims are not a JSON object")),
    }
}
