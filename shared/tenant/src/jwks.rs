//! Where JWK sets (and discovery documents) come from (the [`JwksSource`] seam) and which
//! keys are usable.

use crate::header::Alg;
use crate::signature::Key;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;
use std::fmt;

/// Fetches a JSON document with a GET: a JWK set (`{"keys": [...]}`) or an OpenID
/// discovery document. Every URL this crate calls out to goes through here.
///
/// No `Send` bound on purpose: on wasm the future holds JS values.
#[allow(async_fn_in_trait)]
pub trait JwksSource {
    async fn fetch(&self, url: &str) -> Result<Value, JwksError>;
}

/// Why a JWKS or discovery document could not be had. Goes to the log (`ApiError::cause`),
/// never to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksError(pub String);

impl fmt::Display for JwksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JWKS unavailable: {}", self.0)
    }
}

impl std::error::Error for JwksError {}

/// Why a key set could not be loaded: what the 503 tells the client, and the cause for the log.
pub(crate) struct LoadError {
    pub message: &'static str,
    pub cause: String,
}

impl From<JwksError> for LoadError {
    fn from(err: JwksError) -> Self {
        LoadError { message: KEYS_UNAVAILABLE, cause: err.to_string() }
    }
}

pub(crate) const KEYS_UNAVAILABLE: &str = "token signing keys are unavailable; retry later";

/// The usable keys of the JWK set at `url`.
pub(crate) async fn load(source: &impl JwksSource, url: &str) -> Result<Vec<VerifyKey>, LoadError> {
    let document = source.fetch(url).await?;
    Ok(usable_keys(&document)?)
}

/// A verification key from the JWKS, bound to exactly one algorithm.
#[derive(Clone)]
pub(crate) struct VerifyKey {
    pub kid: String,
    pub alg: Alg,
    pub key: Key,
}

/// RSA moduli shorter than this are ignored.
const MIN_RSA_MODULUS_BYTES: usize = 2048 / 8;

/// The usable signing keys of a JWK set. A document without a `keys` array is an error
/// (the endpoint is broken); keys that are not RSA (→ RS256) or EC P-256 (→ ES256), lack a
/// `kid`, are marked for encryption, or name another `alg` are skipped.
pub(crate) fn usable_keys(document: &Value) -> Result<Vec<VerifyKey>, JwksError> {
    let keys = document
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| JwksError("response has no \"keys\" array".into()))?;
    Ok(keys.iter().filter_map(usable_key).collect())
}

fn usable_key(jwk: &Value) -> Option<VerifyKey> {
    let field = |name: &str| jwk.get(name).and_then(Value::as_str);
    let kid = field("kid").filter(|k| !k.is_empty())?;
    if jwk.get("use").is_some_and(|u| u != "sig") {
        return None;
    }
    let (alg, key) = match field("kty")? {
        "RSA" => {
            let (n, e) = (field("n")?, field("e")?);
            let modulus = URL_SAFE_NO_PAD.decode(n).ok()?;
            let significant = modulus.iter().skip_while(|b| **b == 0).count();
            if significant < MIN_RSA_MODULUS_BYTES {
                return None;
            }
            (Alg::Rs256, Key::rsa(n, e)?)
        }
        "EC" if field("crv") == Some("P-256") => {
            let (x, y) = (field("x")?, field("y")?);
            let is_coordinate = |c: &str| URL_SAFE_NO_PAD.decode(c).is_ok_and(|b| b.len() == 32);
            if !is_coordinate(x) || !is_coordinate(y) {
                return None;
            }
            (Alg::Es256, Key::p256(x, y)?)
        }
        _ => return None,
    };
    if jwk.get("alg").is_some_and(|a| a != alg.name()) {
        return None;
    }
    Some(VerifyKey { kid: kid.to_string(), alg, key })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn rsa(kid: &str) -> Value {
        let mut n = vec![0xC5u8; 256];
        n[255] = 0x01;
        json!({"kty": "RSA", "kid": kid, "n": b64(&n), "e": "AQAB"})
    }

    fn ec(kid: &str) -> Value {
        json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": b64(&[1; 32]), "y": b64(&[2; 32])})
    }

    fn kids(document: Value) -> Vec<(String, Alg)> {
        usable_keys(&document).unwrap().into_iter().map(|k| (k.kid, k.alg)).collect()
    }

    #[test]
    fn rsa_and_p256_keys_are_bound_to_their_algorithm() {
        let mut with_alg = rsa("r2");
        with_alg["alg"] = json!("RS256");
        with_alg["use"] = json!("sig");
        assert_eq!(
            kids(json!({"keys": [rsa("r1"), ec("e1"), with_alg]})),
            vec![("r1".into(), Alg::Rs256), ("e1".into(), Alg::Es256), ("r2".into(), Alg::Rs256)]
        );
    }

    #[test]
    fn disagreeing_or_unsupported_keys_are_skipped() {
        let mut rsa_es = rsa("a");
        rsa_es["alg"] = json!("ES256");
        let mut rsa_ps = rsa("b");
        rsa_ps["alg"] = json!("PS256");
        let mut ec_rs = ec("c");
        ec_rs["alg"] = json!("RS256");
        let mut p384 = ec("d");
        p384["crv"] = json!("P-384");
        let mut enc = rsa("e");
        enc["use"] = json!("enc");
        let oct = json!({"kty": "oct", "kid": "f", "k": b64(b"secret"), "alg": "HS256"});
        let okp = json!({"kty": "OKP", "crv": "Ed25519", "kid": "g", "x": b64(&[3; 32])});
        let mut no_kid = rsa("");
        no_kid.as_object_mut().unwrap().remove("kid");
        let short = json!({"kty": "RSA", "kid": "h", "n": b64(&[0xC5; 128]), "e": "AQAB"});
        let bad_ec = json!({"kty": "EC", "crv": "P-256", "kid": "i", "x": b64(&[1; 31]), "y": b64(&[2; 32])});
        let doc = json!({"keys": [rsa_es, rsa_ps, ec_rs, p384, enc, oct, okp, no_kid, short, bad_ec, "junk", 7]});
        assert_eq!(kids(doc), vec![]);
    }

    #[test]
    fn a_document_without_keys_is_an_error() {
        assert!(usable_keys(&json!({"nope": []})).is_err());
        assert!(usable_keys(&json!([])).is_err());
        assert_eq!(kids(json!({"keys": []})), vec![]);
    }
}
