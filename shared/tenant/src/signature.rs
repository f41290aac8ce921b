//! JWS signature checks, and the keys they use.
//!
//! - HS256: RustCrypto's HMAC-SHA256, here and synchronous (the Worker carries it anyway for
//!   Postgres' SCRAM login and webhook signatures; compiled at opt-level 3), compared in
//!   constant time.
//! - RS256/ES256: in the Worker (wasm32) the runtime's WebCrypto (`webcrypto.js`): native
//!   code, so the Wasm carries no RSA or elliptic-curve code (≈ 160 KB of gzip with them).
//!   Natively (unit tests, tools) `jsonwebtoken`'s RustCrypto backend checks the same keys.

use crate::header::Alg;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

/// A verification key bound to one algorithm: its JWK, and an id that changes with its
/// material (WebCrypto's imported keys are kept under it).
#[derive(Clone)]
pub(crate) struct Key {
    id: String,
    material: Material,
}

#[derive(Clone)]
enum Material {
    Secret(Vec<u8>),
    Public {
        // Read by WebCrypto only; natively `native` does the work.
        #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
        jwk: Value,
        #[cfg(not(target_arch = "wasm32"))]
        native: jsonwebtoken::DecodingKey,
    },
}

impl std::fmt::Debug for Key {
    /// The id only: never the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key").field("id", &self.id).finish()
    }
}

impl Key {
    /// The HS256 shared secret.
    pub(crate) fn secret(secret: &[u8]) -> Key {
        Key { id: "secret".into(), material: Material::Secret(secret.to_vec()) }
    }

    /// An RSA public key (base64url modulus and exponent, as in a JWK).
    pub(crate) fn rsa(n: &str, e: &str) -> Option<Key> {
        Some(Key {
            id: format!("RSA:{:016x}", fnv1a(format!("{n}.{e}").as_bytes())),
            material: Material::Public {
                jwk: json!({ "kty": "RSA", "n": n, "e": e }),
                #[cfg(not(target_arch = "wasm32"))]
                native: jsonwebtoken::DecodingKey::from_rsa_components(n, e).ok()?,
            },
        })
    }

    /// An EC P-256 public key (base64url coordinates, as in a JWK).
    pub(crate) fn p256(x: &str, y: &str) -> Option<Key> {
        Some(Key {
            id: format!("P-256:{:016x}", fnv1a(format!("{x}.{y}").as_bytes())),
            material: Material::Public {
                jwk: json!({ "kty": "EC", "crv": "P-256", "x": x, "y": y }),
                #[cfg(not(target_arch = "wasm32"))]
                native: jsonwebtoken::DecodingKey::from_ec_components(x, y).ok()?,
            },
        })
    }
}

/// Whether `signature` (base64url, the token's third part) signs `signing_input` (the first
/// two parts) under `key` with `alg`. `Err` when the check itself could not run (a key the
/// runtime refuses, an undecodable signature).
pub(crate) async fn verify(alg: Alg, key: &Key, signing_input: &str, signature: &str) -> Result<bool, String> {
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| "signature is not base64url".to_string())?;
    match &key.material {
        Material::Secret(secret) => {
            let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|e| e.to_string())?;
            mac.update(signing_input.as_bytes());
            Ok(mac.verify_slice(&signature).is_ok())
        }
        #[cfg(target_arch = "wasm32")]
        Material::Public { jwk } => {
            let js_error =
                |e: wasm_bindgen::JsValue| format!("WebCrypto: {}", e.as_string().unwrap_or_else(|| format!("{e:?}")));
            let input = signing_input.as_bytes();
            let mut answer = web::verify_jws(alg.name(), &key.id, input, &signature).await.map_err(js_error)?;
            if answer.is_undefined() {
                web::import_jwk(alg.name(), &key.id, &jwk.to_string()).await.map_err(js_error)?;
                answer = web::verify_jws(alg.name(), &key.id, input, &signature).await.map_err(js_error)?;
            }
            Ok(answer.as_bool() == Some(true))
        }
        #[cfg(not(target_arch = "wasm32"))]
        Material::Public { jwk: _, native } => {
            let encoded = URL_SAFE_NO_PAD.encode(&signature);
            jsonwebtoken::crypto::verify(&encoded, signing_input.as_bytes(), native, alg.jwt())
                .map_err(|e| e.to_string())
        }
    }
}

#[cfg(target_arch = "wasm32")]
mod web {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen(module = "/src/webcrypto.js")]
    extern "C" {
        #[wasm_bindgen(catch, js_name = verifyJws)]
        pub async fn verify_jws(
            alg: &str,
            key_id: &str,
            signing_input: &[u8],
            signature: &[u8],
        ) -> Result<JsValue, JsValue>;

        #[wasm_bindgen(catch, js_name = importJwk)]
        pub async fn import_jwk(alg: &str, key_id: &str, jwk_json: &str) -> Result<JsValue, JsValue>;
    }
}

/// FNV-1a: a cache id for key material, not a security boundary (WebCrypto checks the key).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}
