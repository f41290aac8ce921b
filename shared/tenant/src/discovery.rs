//! OpenID Connect discovery: an issuer's keys are those at the `jwks_uri` of its
//! `/.well-known/openid-configuration`, trusted only when that document names exactly the
//! configured issuer (Discovery 1.0 §4.3): otherwise another party's keys could pass as
//! this issuer's.

use crate::issuer::OidcIssuer;
use crate::jwks::{self, JwksSource, LoadError, VerifyKey, KEYS_UNAVAILABLE};
use serde_json::Value;

const ISSUER_MISMATCH: &str =
    "token signing keys are unavailable: the issuer's discovery document names another issuer";
const NO_JWKS_URI: &str = "token signing keys are unavailable: the issuer's discovery document has no jwks_uri";

/// Discovery, then the JWKS it points to. The source checks each URL (the outbound
/// allowlist), so a `jwks_uri` off the list is refused without a request.
pub(crate) async fn load(source: &impl JwksSource, issuer: &OidcIssuer) -> Result<Vec<VerifyKey>, LoadError> {
    let url = issuer.discovery_url();
    let document = source
        .fetch(&url)
        .await
        .map_err(|err| LoadError { message: KEYS_UNAVAILABLE, cause: format!("discovery {url}: {err}") })?;
    let named = document.get("issuer").and_then(Value::as_str);
    if named != Some(issuer.issuer.as_str()) {
        let cause = format!("discovery {url} names issuer {named:?}, configured {:?}", issuer.issuer);
        return Err(LoadError { message: ISSUER_MISMATCH, cause });
    }
    let Some(jwks_uri) = document.get("jwks_uri").and_then(Value::as_str).filter(|u| !u.is_empty()) else {
        return Err(LoadError { message: NO_JWKS_URI, cause: format!("discovery {url} has no jwks_uri") });
    };
    jwks::load(source, jwks_uri)
        .await
        .map_err(|err| LoadError { cause: format!("jwks_uri {jwks_uri} of {url}: {}", err.cause), ..err })
}
