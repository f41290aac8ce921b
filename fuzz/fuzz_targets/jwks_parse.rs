//! An arbitrary JWK set document, reached through `sba_tenant::authenticate` (the only public
//! way in: `usable_keys` is private) with a fake `JwksSource` that serves the fuzzed bytes.
//!
//! Input: byte 0 chooses the token (a genuine ES256 token for kid `es1`, or an RS256 token
//! for kid `rs1` with a junk signature); the rest is the JWKS response body. The cache is
//! configured to trust nothing (`ttl = 0`, no refetch gap), so every run parses the document.
//!
//! Never panics. A body that is JSON with a `keys` array never gives a 503 (keys that cannot
//! be used are skipped, so the answer is a 401 or a success); anything else is a 503
//! `auth_unavailable` (no stale keys survive a zero TTL).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sba_edge_fuzz::{block_on, check_api_error, signed_token, Signer, ES256_KID, NOW, RS256_KID};
use sba_tenant::{authenticate, AuthConfig, JwksError, JwksSource};
use serde_json::Value;
use std::sync::OnceLock;

struct Served(Result<Value, JwksError>);

impl JwksSource for Served {
    async fn fetch(&self, _url: &str) -> Result<Value, JwksError> {
        self.0.clone()
    }
}

fn tokens() -> &'static [String; 2] {
    static TOKENS: OnceLock<[String; 2]> = OnceLock::new();
    TOKENS.get_or_init(|| {
        let claims = format!(
            r#"{{"sub":"u1","exp":{},"app_metadata":{{"tenant_id":"t1"}}}}"#,
            NOW + 3600
        );
        let es = signed_token(
            format!(r#"{{"alg":"ES256","typ":"JWT","kid":"{ES256_KID}"}}"#).as_bytes(),
            claims.as_bytes(),
            Signer::Es256,
        );
        let head = signed_token(
            format!(r#"{{"alg":"RS256","kid":"{RS256_KID}"}}"#).as_bytes(),
            claims.as_bytes(),
            Signer::Hs256,
        );
        // Same header and claims, a signature that no RSA key verifies.
        let rs = format!(
            "{}.AAAA",
            head.rsplit_once('.').map_or(head.as_str(), |(m, _)| m)
        );
        [format!("Bearer {es}"), format!("Bearer {rs}")]
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, body)) = data.split_first() else {
        return;
    };
    let config = AuthConfig {
        jwks_url: Some("fuzz://jwks_parse/jwks".into()),
        jwks_ttl_secs: 0,
        jwks_min_refetch_secs: 0,
        ..AuthConfig::default()
    };
    let document = serde_json::from_slice::<Value>(body).map_err(|e| JwksError(e.to_string()));
    let has_keys = document
        .as_ref()
        .is_ok_and(|d| d.get("keys").is_some_and(Value::is_array));
    let token = &tokens()[usize::from(control & 1)];

    match block_on(authenticate(
        &config,
        &Served(document),
        Some(token),
        None,
        NOW,
    )) {
        Ok(ctx) => {
            assert!(has_keys, "authenticated without a key set");
            assert_eq!(control & 1, 0, "the junk RS256 signature verified");
            assert_eq!(ctx.tenant_id, "t1");
        }
        Err(err) => {
            check_api_error(&err, &[401, 503]);
            assert_eq!(
                err.status == 503,
                !has_keys,
                "{}: {} (keys array: {has_keys})",
                err.status,
                err.message
            );
        }
    }
});
