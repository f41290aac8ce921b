//! The signature: pick the one key the pinned algorithm allows, check it (`signature`), then
//! read the claims. Only the signature is checked here; every claim is checked in `claims.rs`.

use crate::cache;
use crate::config::AuthConfig;
use crate::header::{Alg, JoseHeader};
use crate::jwks::JwksSource;
use crate::signature::{self, Key};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
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
    decode(token, &key, header.alg).await
}

async fn key_for(
    config: &AuthConfig,
    source: &impl JwksSource,
    header: &JoseHeader,
    now: u64,
) -> Result<Key, ApiError> {
    match header.alg {
        // The shared secret only ever verifies HS256, and HS256 only ever uses the secret:
        // a token "signed" with a public key's bytes gets no key it could match.
        Alg::Hs256 => match config.secret() {
            Some(secret) => Ok(Key::secret(secret)),
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

async fn decode(token: &str, key: &Key, alg: Alg) -> Result<Map<String, Value>, ApiError> {
    let (signing_input, signature) = token.rsplit_once('.').ok_or_else(|| invalid("malformed token"))?;
    let payload = signing_input.split_once('.').map(|(_, payload)| payload).ok_or_else(|| invalid("malformed token"))?;
    match signature::verify(alg, key, signing_input, signature).await {
        Ok(true) => {}
        Ok(false) => return Err(invalid("invalid token signature")),
        Err(cause) => return Err(invalid("invalid token signature").with_cause(cause)),
    }
    // Signed by a key we trust; only now is the payload worth reading.
    let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid("malformed token"))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(claims)) => Ok(claims),
        Ok(_) => Err(invalid("token claims are not a JSON object")),
        Err(_) => Err(invalid("malformed token")),
    }
}
