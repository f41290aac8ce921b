//! The signature: pick the one key the pinned algorithm and the token's issuer allow, check
//! it (`signature`), then read the claims. Only the signature is checked here; every claim is
//! checked in `claims.rs`.
//!
//! The unverified `iss` only chooses WHERE keys are looked for: a token whose `iss` is a
//! configured OIDC issuer gets that issuer's keys and nothing else (no HS256 secret, no
//! `AUTH_JWKS_URL`); any other token gets Supabase's secret / JWKS as before. Forging `iss`
//! therefore only ever means being checked against keys the forger does not hold.

use crate::config::AuthConfig;
use crate::header::{Alg, JoseHeader};
use crate::issuer::OidcIssuer;
use crate::jwks::{self, JwksSource};
use crate::signature::{self, Key};
use crate::{cache, discovery};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sba_errors::ApiError;
use serde_json::{Map, Value};

fn invalid(message: &'static str) -> ApiError {
    ApiError::unauthorized("invalid_token", message)
}

pub(crate) const NO_AUDIENCE: &str = "token refused: no audience configured for its issuer";

/// The verified claims of `token`, and the OIDC issuer whose key signed it (`None`: the
/// Supabase secret or `AUTH_JWKS_URL`).
pub(crate) async fn verify_signature<'c>(
    config: &'c AuthConfig,
    source: &impl JwksSource,
    token: &str,
    header: &JoseHeader,
    now: u64,
) -> Result<(Map<String, Value>, Option<&'c OidcIssuer>), ApiError> {
    let iss = unverified_claims(token).and_then(|claims| Some(claims.get("iss")?.as_str()?.to_string()));
    let issuer = iss.as_deref().and_then(|iss| config.oidc_issuer(iss));
    let key = match issuer {
        Some(issuer) => oidc_key(config, source, issuer, header, now).await?,
        None => supabase_key(config, source, header, iss.as_deref(), now).await?,
    };
    Ok((decode(token, &key, header.alg).await?, issuer))
}

/// RS256/ES256 with a key from this issuer's JWKS, found by `kid`.
async fn oidc_key(
    config: &AuthConfig,
    source: &impl JwksSource,
    issuer: &OidcIssuer,
    header: &JoseHeader,
    now: u64,
) -> Result<Key, ApiError> {
    if header.alg == Alg::Hs256 {
        return Err(invalid("HS256 tokens are not accepted from this issuer (RS256/ES256 only)"));
    }
    // Checked before any fetch: without an audience this issuer's tokens are never accepted.
    if issuer.accepted_audience(config).is_empty() {
        return Err(invalid(NO_AUDIENCE));
    }
    let kid = kid_of(header)?;
    let name = format!("oidc {}", issuer.issuer);
    cache::key_for(config, &name, kid, header.alg, now, discovery::load(source, issuer)).await
}

/// Supabase: HS256 with the shared secret, RS256/ES256 with `AUTH_JWKS_URL`.
async fn supabase_key(
    config: &AuthConfig,
    source: &impl JwksSource,
    header: &JoseHeader,
    iss: Option<&str>,
    now: u64,
) -> Result<Key, ApiError> {
    // With OIDC issuers configured, a token no key source takes is most likely from an
    // issuer that is not listed: say so rather than blame its algorithm.
    let supabase_iss = iss.is_some() && iss == config.issuer.as_deref();
    let unaccepted = |otherwise: &'static str| match iss {
        _ if config.issuers.is_empty() || supabase_iss => invalid(otherwise),
        Some(_) => invalid("token issuer (iss) not accepted"),
        None => invalid("token has no issuer (iss)"),
    };
    match header.alg {
        // The shared secret only ever verifies HS256, and HS256 only ever uses the secret:
        // a token "signed" with a public key's bytes gets no key it could match.
        Alg::Hs256 => match config.secret() {
            Some(secret) => Ok(Key::secret(secret)),
            None => Err(unaccepted("HS256 tokens are not accepted here")),
        },
        Alg::Rs256 | Alg::Es256 => {
            let Some(url) = config.jwks_url.as_deref() else {
                return Err(unaccepted("RS256/ES256 tokens are not accepted here (no JWKS configured)"));
            };
            let kid = kid_of(header)?;
            cache::key_for(config, url, kid, header.alg, now, jwks::load(source, url)).await
        }
    }
}

fn kid_of(header: &JoseHeader) -> Result<&str, ApiError> {
    header.kid.as_deref().filter(|k| !k.is_empty()).ok_or_else(|| invalid("token header has no kid"))
}

/// The payload as JSON, before any signature check: only for choosing the key source.
fn unverified_claims(token: &str) -> Option<Map<String, Value>> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

async fn decode(token: &str, key: &Key, alg: Alg) -> Result<Map<String, Value>, ApiError> {
    let (signing_input, signature) = token.rsplit_once('.').ok_or_else(|| invalid("malformed token"))?;
    let payload =
        signing_input.split_once('.').map(|(_, payload)| payload).ok_or_else(|| invalid("malformed token"))?;
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
