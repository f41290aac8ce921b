//! Keys, token builders and a counting fake JWKS source shared by the integration tests.
#![allow(dead_code)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use sba_tenant::{JwksError, JwksSource};
use serde_json::{json, Value};
use std::cell::RefCell;

pub const NOW: u64 = 1_700_000_000;
pub const ISSUER: &str = "https://project.supabase.co/auth/v1";
pub const HS_SECRET: &str = "super-secret-jwt-token-with-at-least-32-characters-long";

pub const RSA_A: &[u8] = include_bytes!("../fixtures/rsa_a.pem");
pub const RSA_A_PUBLIC: &[u8] = include_bytes!("../fixtures/rsa_a_pub.pem");
pub const RSA_B: &[u8] = include_bytes!("../fixtures/rsa_b.pem");
pub const EC_P256: &[u8] = include_bytes!("../fixtures/ec_p256.pem");

pub fn rsa_key(pem: &[u8]) -> EncodingKey {
    EncodingKey::from_rsa_pem(pem).expect("fixture RSA key")
}

pub fn ec_key() -> EncodingKey {
    EncodingKey::from_ec_pem(EC_P256).expect("fixture EC key")
}

/// The public JWK of `key` for `alg`, with `kid`.
pub fn jwk(key: &EncodingKey, alg: Algorithm, kid: &str) -> Value {
    let mut jwk = serde_json::to_value(Jwk::from_encoding_key(key, alg).expect("jwk")).expect("json");
    jwk["kid"] = json!(kid);
    jwk
}

pub fn jwks(keys: &[Value]) -> Value {
    json!({ "keys": keys })
}

/// Supabase-shaped claims valid at `NOW`; `extra` overrides (null removes).
pub fn claims(extra: Value) -> Value {
    let claims = json!({
        "iss": ISSUER,
        "aud": "authenticated",
        "sub": "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
        "role": "authenticated",
        "iat": NOW - 10,
        "exp": NOW + 3600,
        "app_metadata": { "provider": "email", "tenant_id": "tenant-a" },
        "user_metadata": { "tenant_id": "tenant-evil" },
    });
    overridden(claims, extra)
}

/// `base` with `extra`'s fields set (a null removes the field).
pub fn overridden(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().expect("object") {
        if v.is_null() {
            base.as_object_mut().unwrap().remove(k);
        } else {
            base[k] = v.clone();
        }
    }
    base
}

pub fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(String::from);
    encode(&header, claims, key).expect("sign")
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A header + payload, signed by HMAC-SHA256 with `secret` whatever the header says.
pub fn hmac_signed(header: &Value, claims: &Value, secret: &[u8]) -> String {
    let message = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &EncodingKey::from_secret(secret), Algorithm::HS256)
        .expect("hmac");
    format!("{message}.{signature}")
}

/// Answers from a queue (the last answer repeats) and counts fetches.
pub struct FakeJwks {
    answers: RefCell<Vec<Result<Value, JwksError>>>,
    pub fetches: RefCell<Vec<String>>,
}

impl FakeJwks {
    pub fn new(answers: Vec<Result<Value, JwksError>>) -> Self {
        Self { answers: RefCell::new(answers), fetches: RefCell::new(Vec::new()) }
    }

    pub fn serving(document: Value) -> Self {
        Self::new(vec![Ok(document)])
    }

    pub fn count(&self) -> usize {
        self.fetches.borrow().len()
    }
}

impl JwksSource for FakeJwks {
    async fn fetch(&self, url: &str) -> Result<Value, JwksError> {
        self.fetches.borrow_mut().push(url.to_string());
        let mut answers = self.answers.borrow_mut();
        if answers.len() > 1 {
            answers.remove(0)
        } else {
            answers[0].clone()
        }
    }
}

/// Like [`sign`], with the header's `typ` (oidc-provider's access tokens say `at+jwt`).
pub fn sign_typed(alg: Algorithm, kid: &str, typ: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_string());
    header.typ = typ.map(String::from);
    encode(&header, claims, key).expect("sign")
}

/// A discovery document as an OpenID provider serves it.
pub fn discovery(issuer: &str, jwks_uri: &str) -> Value {
    json!({
        "issuer": issuer,
        "jwks_uri": jwks_uri,
        "token_endpoint": format!("{issuer}/token"),
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
    })
}

/// Answers per URL from a queue (the last answer repeats; an unknown URL is a 404) and
/// records every fetch, for discovery + JWKS of several issuers.
#[derive(Default)]
pub struct FakeWeb {
    routes: RefCell<std::collections::HashMap<String, Vec<Result<Value, JwksError>>>>,
    pub fetches: RefCell<Vec<String>>,
}

impl FakeWeb {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn route(self, url: &str, answers: Vec<Result<Value, JwksError>>) -> Self {
        self.routes.borrow_mut().insert(url.to_string(), answers);
        self
    }

    /// Serves `issuer`'s discovery document (pointing at `<issuer>/jwks`) and then `jwks_sets`.
    pub fn issuer(self, issuer: &str, jwks_sets: Vec<Value>) -> Self {
        let jwks_uri = format!("{issuer}/jwks");
        self.route(&format!("{issuer}/.well-known/openid-configuration"), vec![Ok(discovery(issuer, &jwks_uri))])
            .route(&jwks_uri, jwks_sets.into_iter().map(Ok).collect())
    }

    pub fn count(&self, url: &str) -> usize {
        self.fetches.borrow().iter().filter(|u| *u == url).count()
    }
}

impl JwksSource for FakeWeb {
    async fn fetch(&self, url: &str) -> Result<Value, JwksError> {
        self.fetches.borrow_mut().push(url.to_string());
        let mut routes = self.routes.borrow_mut();
        let Some(answers) = routes.get_mut(url) else { return Err(JwksError("status 404".into())) };
        if answers.len() > 1 {
            answers.remove(0)
        } else {
            answers[0].clone()
        }
    }
}
