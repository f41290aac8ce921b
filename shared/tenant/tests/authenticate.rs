//! `authenticate` end to end with real keys (test fixtures) and a counting fake JWKS source.
//! Every test uses its own JWKS URL: the cache is per URL and shared by the whole process.

mod common;

use common::*;
use jsonwebtoken::{Algorithm, EncodingKey};
use sba_errors::ApiError;
use sba_tenant::{authenticate, AuthConfig, JwksError, TenantClaim, TenantContext};
use serde_json::{json, Value};

fn hs_config() -> AuthConfig {
    AuthConfig {
        hs256_secret: Some(HS_SECRET.into()),
        issuer: Some(ISSUER.into()),
        audience: vec!["authenticated".into()],
        ..AuthConfig::default()
    }
}

fn jwks_config(url: &str) -> AuthConfig {
    AuthConfig {
        jwks_url: Some(url.into()),
        issuer: Some(ISSUER.into()),
        audience: vec!["authenticated".into()],
        ..AuthConfig::default()
    }
}

fn hs_token(extra: Value) -> String {
    sign(Algorithm::HS256, None, &claims(extra), &EncodingKey::from_secret(HS_SECRET.as_bytes()))
}

/// A JWKS with RSA key A as `rsa-1` and the EC key as `ec-1`.
fn standard_jwks() -> Value {
    jwks(&[jwk(&rsa_key(RSA_A), Algorithm::RS256, "rsa-1"), jwk(&ec_key(), Algorithm::ES256, "ec-1")])
}

async fn auth(config: &AuthConfig, source: &FakeJwks, token: &str) -> Result<TenantContext, ApiError> {
    authenticate(config, source, Some(&bearer(token)), None, NOW).await
}

/// Asserts a 401 with this error code in the challenge and this message; returns nothing.
fn assert_401(result: Result<TenantContext, ApiError>, error: &str, message: &str) {
    let err = result.expect_err("must be rejected");
    assert_eq!(err.status, 401, "{err}");
    assert_eq!(err.message, message);
    let challenge = &err.headers.iter().find(|(n, _)| *n == "WWW-Authenticate").expect("challenge").1;
    assert!(challenge.contains(&format!("error=\"{error}\"")), "{challenge}");
}

fn no_jwks() -> FakeJwks {
    FakeJwks::new(vec![Err(JwksError("not configured in this test".into()))])
}

#[tokio::test]
async fn valid_hs256_gives_the_tenant_context() {
    let source = no_jwks();
    let ctx = auth(&hs_config(), &source, &hs_token(json!({}))).await.unwrap();
    assert_eq!(ctx.tenant_id, "tenant-a");
    assert_eq!(ctx.subject, "3f2504e0-4f89-11d3-9a0c-0305e82c3301");
    assert_eq!(ctx.role, "authenticated");
    assert_eq!(ctx.claims, claims(json!({})), "the full verified payload");
    assert_eq!(source.count(), 0, "HS256 never touches the JWKS");
}

#[tokio::test]
async fn valid_rs256_and_es256_are_accepted() {
    let url = "test://auth/valid-asymmetric";
    let source = FakeJwks::serving(standard_jwks());
    let config = jwks_config(url);
    let rs = sign(Algorithm::RS256, Some("rsa-1"), &claims(json!({"role": "service_role"})), &rsa_key(RSA_A));
    let ctx = auth(&config, &source, &rs).await.unwrap();
    assert_eq!((ctx.tenant_id.as_str(), ctx.role.as_str()), ("tenant-a", "service_role"));
    let es = sign(Algorithm::ES256, Some("ec-1"), &claims(json!({"role": null})), &ec_key());
    let ctx = auth(&config, &source, &es).await.unwrap();
    assert_eq!((ctx.tenant_id.as_str(), ctx.role.as_str()), ("tenant-a", "authenticated"), "role defaults");
    assert_eq!(source.count(), 1, "one fetch, then the cache");
}

#[tokio::test]
async fn expiry_beyond_leeway_is_rejected_within_leeway_accepted() {
    let source = no_jwks();
    let config = hs_config();
    assert!(auth(&config, &source, &hs_token(json!({"exp": NOW - 20}))).await.is_ok(), "20 s late < 30 s leeway");
    assert_401(auth(&config, &source, &hs_token(json!({"exp": NOW - 31}))).await, "invalid_token", "token expired");
    assert_401(
        auth(&config, &source, &hs_token(json!({"exp": null}))).await,
        "invalid_token",
        "token has no expiry (exp)",
    );
    let strict = AuthConfig { leeway_secs: 0, ..hs_config() };
    assert_401(auth(&strict, &source, &hs_token(json!({"exp": NOW - 1}))).await, "invalid_token", "token expired");
}

#[tokio::test]
async fn nbf_in_the_future_is_rejected() {
    let source = no_jwks();
    assert_401(
        auth(&hs_config(), &source, &hs_token(json!({"nbf": NOW + 600}))).await,
        "invalid_token",
        "token not yet valid (nbf)",
    );
    assert!(auth(&hs_config(), &source, &hs_token(json!({"nbf": NOW + 10}))).await.is_ok(), "within leeway");
}

#[tokio::test]
async fn wrong_audience_and_issuer_are_rejected() {
    let source = no_jwks();
    let config = hs_config();
    assert_401(
        auth(&config, &source, &hs_token(json!({"aud": "anon"}))).await,
        "invalid_token",
        "token audience (aud) not accepted",
    );
    assert_401(
        auth(&config, &source, &hs_token(json!({"aud": null}))).await,
        "invalid_token",
        "token has no audience (aud)",
    );
    assert!(auth(&config, &source, &hs_token(json!({"aud": ["x", "authenticated"]}))).await.is_ok());
    assert_401(
        auth(&config, &source, &hs_token(json!({"iss": "https://other.supabase.co/auth/v1"}))).await,
        "invalid_token",
        "token issuer (iss) not accepted",
    );
}

#[tokio::test]
async fn a_token_signed_by_another_key_with_the_same_kid_is_rejected() {
    let url = "test://auth/wrong-key";
    let source = FakeJwks::serving(standard_jwks());
    let forged = sign(Algorithm::RS256, Some("rsa-1"), &claims(json!({})), &rsa_key(RSA_B));
    assert_401(auth(&jwks_config(url), &source, &forged).await, "invalid_token", "invalid token signature");
    let forged_es = sign(Algorithm::ES256, Some("ec-1"), &claims(json!({})), &ec_key());
    let tampered = {
        let parts: Vec<&str> = forged_es.split('.').collect();
        format!(
            "{}.{}.{}",
            parts[0],
            b64(claims(json!({"app_metadata": {"tenant_id": "tenant-b"}})).to_string().as_bytes()),
            parts[2]
        )
    };
    assert_401(auth(&jwks_config(url), &source, &tampered).await, "invalid_token", "invalid token signature");
}

#[tokio::test]
async fn wrong_hs256_secret_is_rejected() {
    let token = sign(Algorithm::HS256, None, &claims(json!({})), &EncodingKey::from_secret(b"another-secret"));
    assert_401(auth(&hs_config(), &no_jwks(), &token).await, "invalid_token", "invalid token signature");
}

#[tokio::test]
async fn alg_none_is_rejected() {
    let header = b64(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = b64(claims(json!({})).to_string().as_bytes());
    let config = AuthConfig { jwks_url: Some("test://auth/none".into()), ..hs_config() };
    for token in [format!("{header}.{payload}."), format!("{header}.{payload}.c2ln")] {
        assert_401(
            auth(&config, &no_jwks(), &token).await,
            "invalid_token",
            "unsigned tokens (alg none) are not accepted",
        );
    }
}

#[tokio::test]
async fn other_algorithms_are_rejected_even_with_a_valid_signature() {
    let token = sign(Algorithm::HS512, None, &claims(json!({})), &EncodingKey::from_secret(HS_SECRET.as_bytes()));
    assert_401(
        auth(&hs_config(), &no_jwks(), &token).await,
        "invalid_token",
        "token algorithm not accepted (HS256, RS256, ES256 only)",
    );
    let ps = sign(Algorithm::PS256, Some("rsa-1"), &claims(json!({})), &rsa_key(RSA_A));
    let source = FakeJwks::serving(standard_jwks());
    assert_401(
        auth(&jwks_config("test://auth/ps256"), &source, &ps).await,
        "invalid_token",
        "token algorithm not accepted (HS256, RS256, ES256 only)",
    );
    assert_eq!(source.count(), 0);
}

#[tokio::test]
async fn hs256_signed_with_the_rsa_public_key_is_rejected() {
    let url = "test://auth/confusion";
    let source = FakeJwks::serving(standard_jwks());
    let confused = sign(Algorithm::HS256, Some("rsa-1"), &claims(json!({})), &EncodingKey::from_secret(RSA_A_PUBLIC));
    // JWKS only: HS256 has no key at all.
    assert_401(
        auth(&jwks_config(url), &source, &confused).await,
        "invalid_token",
        "HS256 tokens are not accepted here",
    );
    // JWKS and a shared secret: HS256 is checked against the secret only.
    let both = AuthConfig { hs256_secret: Some(HS_SECRET.into()), ..jwks_config(url) };
    assert_401(auth(&both, &source, &confused).await, "invalid_token", "invalid token signature");
    assert_eq!(source.count(), 0, "an HS256 token never selects a JWKS key");
}

#[tokio::test]
async fn an_rs256_header_never_uses_the_hmac_secret() {
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": "rsa-1"});
    let token = hmac_signed(&header, &claims(json!({})), HS_SECRET.as_bytes());
    assert_401(
        auth(&hs_config(), &no_jwks(), &token).await,
        "invalid_token",
        "RS256/ES256 tokens are not accepted here (no JWKS configured)",
    );
    let url = "test://auth/rs256-hmac";
    let source = FakeJwks::serving(standard_jwks());
    let both = AuthConfig { hs256_secret: Some(HS_SECRET.into()), ..jwks_config(url) };
    assert_401(auth(&both, &source, &token).await, "invalid_token", "invalid token signature");
    // And an ES256 header on an RSA kid: the key's algorithm wins, not the header's.
    let es_on_rsa = hmac_signed(&json!({"alg": "ES256", "kid": "rsa-1"}), &claims(json!({})), HS_SECRET.as_bytes());
    assert_401(
        auth(&both, &source, &es_on_rsa).await,
        "invalid_token",
        "token algorithm does not match its signing key",
    );
}

#[tokio::test]
async fn unknown_kid_refetches_once_and_picks_up_rotation() {
    let url = "test://auth/rotation";
    let old = jwks(&[jwk(&rsa_key(RSA_A), Algorithm::RS256, "rsa-1")]);
    let rotated =
        jwks(&[jwk(&rsa_key(RSA_A), Algorithm::RS256, "rsa-1"), jwk(&rsa_key(RSA_B), Algorithm::RS256, "rsa-2")]);
    let source = FakeJwks::new(vec![Ok(old.clone()), Ok(old), Ok(rotated)]);
    let config = jwks_config(url);
    let current = sign(Algorithm::RS256, Some("rsa-1"), &claims(json!({})), &rsa_key(RSA_A));
    let next = sign(Algorithm::RS256, Some("rsa-2"), &claims(json!({})), &rsa_key(RSA_B));
    assert!(authenticate(&config, &source, Some(&bearer(&current)), None, NOW).await.is_ok());
    assert_eq!(source.count(), 1);
    // Unknown kid within the refetch window of the first fetch: no fetch, 401.
    let early = authenticate(&config, &source, Some(&bearer(&next)), None, NOW + 1).await;
    assert_401(early, "invalid_token", "token signing key (kid) is unknown");
    assert_eq!(source.count(), 1);
    // After the window: one refetch, still the old set → 401.
    let still_old = authenticate(&config, &source, Some(&bearer(&next)), None, NOW + 5).await;
    assert_401(still_old, "invalid_token", "token signing key (kid) is unknown");
    assert_eq!(source.count(), 2);
    // Next window: the rotated set arrives and the new key works; the old one still too.
    assert_eq!(
        authenticate(&config, &source, Some(&bearer(&next)), None, NOW + 10).await.unwrap().tenant_id,
        "tenant-a"
    );
    assert!(authenticate(&config, &source, Some(&bearer(&current)), None, NOW + 11).await.is_ok());
    assert_eq!(source.count(), 3);
}

#[tokio::test]
async fn an_unknown_kid_flood_fetches_at_most_once_per_window() {
    let url = "test://auth/flood";
    let source = FakeJwks::serving(standard_jwks());
    let config = jwks_config(url);
    for second in 0..20u64 {
        for i in 0..25 {
            // The signature is never looked at: the kid is unknown first.
            let token =
                hmac_signed(&json!({"alg": "ES256", "kid": format!("junk-{second}-{i}")}), &claims(json!({})), b"x");
            let result = authenticate(&config, &source, Some(&bearer(&token)), None, NOW + second).await;
            assert_401(result, "invalid_token", "token signing key (kid) is unknown");
        }
    }
    assert_eq!(source.count(), 4, "500 junk tokens over 20 s with a 5 s window: fetches at 0, 5, 10, 15");
    assert!(source.fetches.borrow().iter().all(|u| u == url));
}

#[tokio::test]
async fn jwks_fetch_failure_without_cache_is_503() {
    let url = "test://auth/down";
    let source = FakeJwks::new(vec![Err(JwksError("connect timeout".into()))]);
    let token = sign(Algorithm::RS256, Some("rsa-1"), &claims(json!({})), &rsa_key(RSA_A));
    let err = auth(&jwks_config(url), &source, &token).await.unwrap_err();
    assert_eq!((err.status, err.code.as_ref()), (503, "auth_unavailable"));
    assert!(err.headers.iter().any(|(n, _)| *n == "Retry-After"));
    assert!(err.cause.as_deref().unwrap_or_default().contains("connect timeout"));
    assert!(!err.message.contains("timeout"), "causes stay in the log");
}

#[tokio::test]
async fn tenant_from_app_metadata_or_a_top_level_claim_never_user_metadata() {
    let source = no_jwks();
    let ctx = auth(&hs_config(), &source, &hs_token(json!({"tenant_id": "top-level"}))).await.unwrap();
    assert_eq!(ctx.tenant_id, "tenant-a", "default: app_metadata.tenant_id");
    let top = AuthConfig { tenant_claim: TenantClaim::TopLevel("tenant_id".into()), ..hs_config() };
    assert_eq!(auth(&top, &source, &hs_token(json!({"tenant_id": "top-level"}))).await.unwrap().tenant_id, "top-level");
    assert_401(auth(&top, &source, &hs_token(json!({}))).await, "invalid_token", "token has no tenant claim");
    // user_metadata carries "tenant-evil" in every token here: it must never be used.
    assert_401(
        auth(&hs_config(), &source, &hs_token(json!({"app_metadata": {"provider": "email"}}))).await,
        "invalid_token",
        "token has no tenant (app_metadata.tenant_id)",
    );
    let from_vars = AuthConfig { tenant_claim: TenantClaim::from_name(Some("user_metadata.tenant_id")), ..hs_config() };
    assert_401(
        auth(&from_vars, &source, &hs_token(json!({"app_metadata": null}))).await,
        "invalid_token",
        "token has no tenant claim",
    );
}

#[tokio::test]
async fn x_tenant_id_is_only_an_assertion() {
    let source = no_jwks();
    let config = hs_config();
    let token = bearer(&hs_token(json!({})));
    let with = |asserted: Option<&'static str>| authenticate(&config, &source, Some(&token), asserted, NOW);
    assert_eq!(with(None).await.unwrap().tenant_id, "tenant-a");
    assert_eq!(with(Some("tenant-a")).await.unwrap().tenant_id, "tenant-a");
    let err = with(Some("tenant-b")).await.unwrap_err();
    assert_eq!((err.status, err.code.as_ref()), (403, "tenant_mismatch"));
}

#[tokio::test]
async fn missing_and_garbled_authorization_headers() {
    let config = hs_config();
    let source = no_jwks();
    let call = |header: Option<&'static str>| authenticate(&config, &source, header, None, NOW);
    assert_401(call(None).await, "invalid_request", "missing Authorization header");
    assert_401(call(Some("Basic dXNlcjpwYXNz")).await, "invalid_request", "Authorization scheme must be Bearer");
    assert_401(call(Some("Bearer ")).await, "invalid_request", "missing bearer token");
    assert_401(
        call(Some("Bearer not-a-jwt")).await,
        "invalid_token",
        "malformed token: expected three base64url parts",
    );
    assert_401(call(Some("Bearer e30.e30.e30")).await, "invalid_token", "token header has no alg");
    assert_401(
        call(Some("Bearer eyJhbGciOiJIUzI1NiJ9.!!!.x")).await,
        "invalid_token",
        "malformed token: expected three base64url parts",
    );
    // A valid header over a payload that is not JSON: signature checked first, then "malformed".
    let bad_payload = {
        let message = format!("{}.{}", b64(br#"{"alg":"HS256"}"#), b64(b"not json"));
        let sig = jsonwebtoken::crypto::sign(
            message.as_bytes(),
            &EncodingKey::from_secret(HS_SECRET.as_bytes()),
            Algorithm::HS256,
        )
        .unwrap();
        format!("{message}.{sig}")
    };
    assert_401(auth(&config, &source, &bad_payload).await, "invalid_token", "malformed token");
    let array_payload = hmac_signed(&json!({"alg": "HS256"}), &json!([1, 2]), HS_SECRET.as_bytes());
    // A signed payload that is JSON but not an object is refused too (after the signature check).
    assert_401(auth(&config, &source, &array_payload).await, "invalid_token", "token claims are not a JSON object");
    // Case and spacing of the scheme do not matter.
    let token = hs_token(json!({}));
    for header in [format!("bearer {token}"), format!("BEARER    {token}  ")] {
        assert!(authenticate(&config, &source, Some(&header), None, NOW).await.is_ok());
    }
}

#[tokio::test]
async fn bad_tenant_ids_and_subjects_are_invalid_tokens() {
    let source = no_jwks();
    for bad in [json!("tenant a"), json!("t/../x"), json!(""), json!("x".repeat(129)), json!(42), json!({"id": 1})] {
        let result = auth(&hs_config(), &source, &hs_token(json!({"app_metadata": {"tenant_id": bad}}))).await;
        assert_401(result, "invalid_token", "token tenant is not a valid tenant id");
    }
    let uuid = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";
    assert_eq!(
        auth(&hs_config(), &source, &hs_token(json!({"app_metadata": {"tenant_id": uuid}}))).await.unwrap().tenant_id,
        uuid
    );
    assert_401(
        auth(&hs_config(), &source, &hs_token(json!({"sub": null}))).await,
        "invalid_token",
        "token has no subject (sub)",
    );
}

#[tokio::test]
async fn error_messages_never_echo_the_token() {
    let source = no_jwks();
    let token = hs_token(json!({"exp": NOW - 3600}));
    let err = auth(&hs_config(), &source, &token).await.unwrap_err();
    let everything = format!("{err:?}");
    for part in token.split('.') {
        assert!(!everything.contains(part), "error leaks a token segment");
    }
}

#[tokio::test]
async fn nothing_configured_rejects_every_token() {
    let config = AuthConfig::default();
    assert_401(
        auth(&config, &no_jwks(), &hs_token(json!({}))).await,
        "invalid_token",
        "HS256 tokens are not accepted here",
    );
}

#[test]
fn from_vars_is_one_line_for_the_worker() {
    // The Worker: `AuthConfig::from_vars(|name| setting(env, name).ok())?`.
    let config = AuthConfig::from_vars(|name| match name {
        "AUTH_JWKS_URL" => Some("https://p.supabase.co/auth/v1/.well-known/jwks.json".into()),
        "AUTH_AUDIENCE" => Some("authenticated".into()),
        _ => None,
    })
    .expect("valid configuration");
    assert_eq!(config.audience, vec!["authenticated"]);
    assert_eq!(config.tenant_claim, TenantClaim::AppMetadata);
    assert!(config.hs256_secret.is_none());
}
