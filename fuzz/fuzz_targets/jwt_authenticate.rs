//! `sba_tenant::authenticate` on an arbitrary `Authorization` header and `X-Tenant-ID`.
//!
//! Input: byte 0 chooses the mode and the configuration, the rest are fields split on 0xFF.
//! - mode 0: `[authorization, asserted tenant]` taken as they are;
//! - mode 1 / 2: `[JOSE header JSON, claims JSON, asserted tenant]`, signed here with the
//!   HS256 secret / the ES256 test key (kid `es1` in the fake JWKS), so the fuzzer reaches the
//!   claim checks behind the signature (time window, iss, aud, sub, role, tenant).
//!
//! Never panics; the source always answers, so an error is a 401 or, only when a tenant was
//! asserted, a 403 `tenant_mismatch`; a success has a well-formed tenant that matches the
//! assertion, a subject and a role.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sba_edge_fuzz::{
    block_on, check_api_error, fields, fixed_jwks, signed_token, text, Signer, HS256_SECRET, NOW,
};
use sba_tenant::{authenticate, AuthConfig, JwksError, JwksSource, TenantClaim};
use serde_json::Value;

struct FixedJwks;

impl JwksSource for FixedJwks {
    async fn fetch(&self, _url: &str) -> Result<Value, JwksError> {
        Ok(fixed_jwks())
    }
}

fn config(strict: bool) -> AuthConfig {
    let mut config = AuthConfig {
        hs256_secret: Some(HS256_SECRET.to_string()),
        jwks_url: Some("fuzz://jwt_authenticate/jwks".to_string()),
        ..AuthConfig::default()
    };
    if strict {
        config.issuer = Some("https://fuzz.supabase.co/auth/v1".into());
        config.audience = vec!["authenticated".into(), "api".into()];
        config.tenant_claim = TenantClaim::TopLevel("org_id".into());
    }
    config
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let assert_tenant = control & 0x80 != 0;
    let config = config(control & 0x40 != 0);
    let (authorization, asserted) = match (control & 0x3F) % 3 {
        0 => {
            let f = fields(rest, 2);
            (text(f[0]), text(f[1]))
        }
        mode => {
            let f = fields(rest, 3);
            let signer = if mode == 1 {
                Signer::Hs256
            } else {
                Signer::Es256
            };
            (
                format!("Bearer {}", signed_token(f[0], f[1], signer)),
                text(f[2]),
            )
        }
    };
    let asserted = assert_tenant.then_some(asserted.as_str());

    match block_on(authenticate(
        &config,
        &FixedJwks,
        Some(&authorization),
        asserted,
        NOW,
    )) {
        Ok(ctx) => {
            let id = &ctx.tenant_id;
            assert!(
                !id.is_empty()
                    && id.len() <= 128
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
                "accepted a malformed tenant id {id:?}"
            );
            if let Some(asserted) = asserted {
                assert_eq!(asserted.trim(), id, "accepted a mismatched X-Tenant-ID");
            }
            assert!(!ctx.subject.is_empty(), "accepted an empty subject");
            assert!(!ctx.role.is_empty(), "accepted an empty role");
            assert!(ctx.claims.is_object(), "claims are not an object");
        }
        Err(err) => {
            check_api_error(&err, &[401, 403]);
            if err.status == 403 {
                assert!(asserted.is_some(), "403 without an X-Tenant-ID");
            }
        }
    }
});
