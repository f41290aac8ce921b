//! OpenID Connect issuers end to end: two issuers, each with a discovery document and a JWKS
//! served by a fake source. Every test uses its own issuer URLs: the key cache is per issuer
//! and shared by the whole process.

mod common;

use common::*;
use jsonwebtoken::{Algorithm, EncodingKey};
use sba_errors::ApiError;
use sba_tenant::{authenticate, AuthConfig, JwksError, TenantContext};
use serde_json::{json, Value};

/// Issuer A and issuer B for one test.
fn issuers(test: &str) -> (String, String) {
    (format!("https://idp-a.example/{test}"), format!("https://idp-b.example/{test}"))
}

fn discovery_url(issuer: &str) -> String {
    format!("{issuer}/.well-known/openid-configuration")
}

fn jwks_url(issuer: &str) -> String {
    format!("{issuer}/jwks")
}

/// A with its own audience and a nested tenant claim; B with `AUTH_AUDIENCE` and
/// `app_metadata.tenant_id` (the defaults). Built from the env vars, as the Worker does.
fn two_issuers(a: &str, b: &str, more: &[(&str, &str)]) -> AuthConfig {
    let issuers = format!("{a}|aud=api-a|tenant=org.tenant_id, {b}");
    AuthConfig::from_vars(|name| match name {
        "AUTH_ISSUERS" => Some(issuers.clone()),
        "AUTH_AUDIENCE" => Some("api".into()),
        _ => more.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()),
    })
    .expect("valid configuration")
}

/// A's keys: RSA key A as `k1`.
fn jwks_a() -> Value {
    jwks(&[jwk(&rsa_key(RSA_A), Algorithm::RS256, "k1")])
}

/// B's keys: RSA key B under the same kid `k1`, and the EC key as `ec-b`.
fn jwks_b() -> Value {
    jwks(&[jwk(&rsa_key(RSA_B), Algorithm::RS256, "k1"), jwk(&ec_key(), Algorithm::ES256, "ec-b")])
}

fn web(a: &str, b: &str) -> FakeWeb {
    FakeWeb::new().issuer(a, vec![jwks_a()]).issuer(b, vec![jwks_b()])
}

/// Access-token claims from `iss` for issuer A's shape; `extra` overrides (null removes).
fn oidc_claims(iss: &str, extra: Value) -> Value {
    let claims = json!({
        "iss": iss,
        "aud": "api-a",
        "sub": "client-1",
        "scope": "read",
        "iat": NOW - 10,
        "exp": NOW + 300,
        "org": { "tenant_id": "org-7" },
    });
    overridden(claims, extra)
}

/// An RS256 `at+jwt` token signed with RSA key A under kid `k1`.
fn token_a(iss: &str, extra: Value) -> String {
    sign_typed(Algorithm::RS256, "k1", Some("at+jwt"), &oidc_claims(iss, extra), &rsa_key(RSA_A))
}

async fn auth_at(config: &AuthConfig, web: &FakeWeb, token: &str, now: u64) -> Result<TenantContext, ApiError> {
    authenticate(config, web, Some(&bearer(token)), None, now).await
}

async fn auth(config: &AuthConfig, web: &FakeWeb, token: &str) -> Result<TenantContext, ApiError> {
    auth_at(config, web, token, NOW).await
}

/// A 401 whose challenge says `invalid_token`, with this message.
fn assert_401(result: Result<TenantContext, ApiError>, message: &str) {
    let err = result.expect_err("must be rejected");
    assert_eq!((err.status, err.message.as_str()), (401, message), "{err:?}");
    let challenge = &err.headers.iter().find(|(n, _)| *n == "WWW-Authenticate").expect("challenge").1;
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
}

fn assert_503(result: Result<TenantContext, ApiError>, message: &str) -> ApiError {
    let err = result.expect_err("must be refused");
    assert_eq!((err.status, err.code.as_ref(), err.message.as_str()), (503, "auth_unavailable", message), "{err:?}");
    assert!(err.headers.iter().any(|(n, _)| *n == "Retry-After"));
    err
}

#[tokio::test]
async fn tokens_from_either_issuer_verify_with_their_discovered_keys() {
    let (a, b) = issuers("verifies");
    let web = web(&a, &b);
    let config = two_issuers(&a, &b, &[]);
    let ctx = auth(&config, &web, &token_a(&a, json!({}))).await.unwrap();
    assert_eq!(
        (ctx.tenant_id.as_str(), ctx.subject.as_str(), ctx.role.as_str()),
        ("org-7", "client-1", "authenticated")
    );
    assert_eq!(ctx.claims["scope"], "read", "the full verified payload");
    assert_eq!(*web.fetches.borrow(), vec![discovery_url(&a), jwks_url(&a)], "discovery, then its jwks_uri");
    // `typ` is not a gate: at+jwt, application/at+jwt, JWT or none at all.
    for typ in [None, Some("application/at+jwt"), Some("JWT"), Some("AT+JWT")] {
        let token = sign_typed(Algorithm::RS256, "k1", typ, &oidc_claims(&a, json!({})), &rsa_key(RSA_A));
        assert_eq!(auth(&config, &web, &token).await.unwrap().tenant_id, "org-7", "{typ:?}");
    }
    assert_eq!(web.fetches.borrow().len(), 2, "then the cache");
    // B: ES256, the global audience and the default tenant claim.
    let claims_b = oidc_claims(&b, json!({"aud": "api", "org": null, "app_metadata": {"tenant_id": "tenant-b"}}));
    let token_b = sign_typed(Algorithm::ES256, "ec-b", Some("at+jwt"), &claims_b, &ec_key());
    assert_eq!(auth(&config, &web, &token_b).await.unwrap().tenant_id, "tenant-b");
    assert_eq!((web.count(&discovery_url(&b)), web.count(&jwks_url(&b))), (1, 1));
}

#[tokio::test]
async fn an_unlisted_issuer_is_rejected_without_any_fetch() {
    let (a, b) = issuers("unlisted");
    let web = web(&a, &b);
    let config = two_issuers(&a, &b, &[]);
    assert_401(
        auth(&config, &web, &token_a("https://idp-c.example/unlisted", json!({}))).await,
        "token issuer (iss) not accepted",
    );
    assert_401(auth(&config, &web, &token_a(&format!("{a}/"), json!({}))).await, "token issuer (iss) not accepted");
    assert_401(auth(&config, &web, &token_a(&a.to_uppercase(), json!({}))).await, "token issuer (iss) not accepted");
    assert_401(auth(&config, &web, &token_a(&a, json!({"iss": null}))).await, "token has no issuer (iss)");
    // Supabase's own issuer without a key for the token's algorithm: the algorithm is to blame.
    let with_supabase = two_issuers(&a, &b, &[("AUTH_ISSUER", ISSUER)]);
    let hs = sign(Algorithm::HS256, None, &claims(json!({})), &EncodingKey::from_secret(HS_SECRET.as_bytes()));
    assert_401(auth(&with_supabase, &web, &hs).await, "HS256 tokens are not accepted here");
    assert_eq!(web.fetches.borrow().len(), 0);
}

#[tokio::test]
async fn issuer_a_signed_with_issuer_bs_key_under_the_same_kid_is_rejected() {
    let (a, b) = issuers("cross-key");
    let web = web(&a, &b);
    let config = two_issuers(&a, &b, &[]);
    let forged = sign_typed(Algorithm::RS256, "k1", Some("at+jwt"), &oidc_claims(&a, json!({})), &rsa_key(RSA_B));
    assert_401(auth(&config, &web, &forged).await, "invalid token signature");
    assert_eq!((web.count(&discovery_url(&b)), web.count(&jwks_url(&b))), (0, 0), "B's keys are never consulted");
    // And the other way round: B's iss with A's key.
    let claims_b = oidc_claims(&b, json!({"aud": "api", "app_metadata": {"tenant_id": "tenant-b"}}));
    let forged_b = sign_typed(Algorithm::RS256, "k1", None, &claims_b, &rsa_key(RSA_A));
    assert_401(auth(&config, &web, &forged_b).await, "invalid token signature");
}

#[tokio::test]
async fn hs256_is_never_accepted_for_an_oidc_issuer() {
    let (a, b) = issuers("hs256");
    let web = web(&a, &b);
    let config = two_issuers(&a, &b, &[("AUTH_JWT_SECRET", HS_SECRET)]);
    let hs = sign(Algorithm::HS256, None, &oidc_claims(&a, json!({})), &EncodingKey::from_secret(HS_SECRET.as_bytes()));
    assert_401(auth(&config, &web, &hs).await, "HS256 tokens are not accepted from this issuer (RS256/ES256 only)");
    // Signed with A's public key bytes as an HMAC secret: same answer, no key is looked up.
    let confused = hmac_signed(&json!({"alg": "HS256", "kid": "k1"}), &oidc_claims(&a, json!({})), RSA_A_PUBLIC);
    assert_401(
        auth(&config, &web, &confused).await,
        "HS256 tokens are not accepted from this issuer (RS256/ES256 only)",
    );
    assert_eq!(web.fetches.borrow().len(), 0);
    // The same secret still serves Supabase's own tokens alongside the OIDC issuers.
    let supabase =
        sign(Algorithm::HS256, None, &claims(json!({"aud": "api"})), &EncodingKey::from_secret(HS_SECRET.as_bytes()));
    assert_eq!(auth(&config, &web, &supabase).await.unwrap().tenant_id, "tenant-a");
}

#[tokio::test]
async fn supabase_keeps_its_issuer_check_next_to_oidc_issuers() {
    let (a, b) = issuers("supabase");
    let config = two_issuers(&a, &b, &[("AUTH_JWT_SECRET", HS_SECRET), ("AUTH_ISSUER", ISSUER)]);
    let key = EncodingKey::from_secret(HS_SECRET.as_bytes());
    let web = web(&a, &b);
    assert!(auth(&config, &web, &sign(Algorithm::HS256, None, &claims(json!({"aud": "api"})), &key)).await.is_ok());
    let elsewhere = claims(json!({"aud": "api", "iss": "https://idp-c.example/supabase"}));
    assert_401(
        auth(&config, &web, &sign(Algorithm::HS256, None, &elsewhere, &key)).await,
        "token issuer (iss) not accepted",
    );
}

#[tokio::test]
async fn the_audience_is_always_checked() {
    let (a, b) = issuers("audience");
    let web = web(&a, &b);
    let config = two_issuers(&a, &b, &[]);
    assert_401(auth(&config, &web, &token_a(&a, json!({"aud": "api"}))).await, "token audience (aud) not accepted");
    assert_401(auth(&config, &web, &token_a(&a, json!({"aud": "other"}))).await, "token audience (aud) not accepted");
    assert_401(auth(&config, &web, &token_a(&a, json!({"aud": null}))).await, "token has no audience (aud)");
    assert!(auth(&config, &web, &token_a(&a, json!({"aud": ["x", "api-a"]}))).await.is_ok());
    // An issuer without any audience configured: refused before any fetch.
    let bare = AuthConfig::from_vars(|name| (name == "AUTH_ISSUERS").then(|| b.clone())).unwrap();
    let claims_b = oidc_claims(&b, json!({"aud": "api", "app_metadata": {"tenant_id": "tenant-b"}}));
    let token_b = sign_typed(Algorithm::ES256, "ec-b", Some("at+jwt"), &claims_b, &ec_key());
    assert_401(auth(&bare, &web, &token_b).await, "token refused: no audience configured for its issuer");
    assert_eq!(web.count(&discovery_url(&b)), 0);
}

#[tokio::test]
async fn a_discovery_document_naming_another_issuer_makes_the_issuer_unusable() {
    let (a, b) = issuers("mismatch");
    let web = FakeWeb::new()
        .route(&discovery_url(&a), vec![Ok(discovery("https://evil.example", &jwks_url(&a)))])
        .route(&jwks_url(&a), vec![Ok(jwks_a())])
        // Exactly: a trailing slash is another issuer too.
        .route(&discovery_url(&b), vec![Ok(discovery(&format!("{b}/"), &jwks_url(&b)))])
        .route(&jwks_url(&b), vec![Ok(jwks_b())]);
    let config = two_issuers(&a, &b, &[]);
    let message = "token signing keys are unavailable: the issuer's discovery document names another issuer";
    let err = assert_503(auth(&config, &web, &token_a(&a, json!({}))).await, message);
    assert!(err.cause.unwrap().contains("https://evil.example"), "the log says what was found");
    let claims_b = oidc_claims(&b, json!({"aud": "api", "app_metadata": {"tenant_id": "tenant-b"}}));
    let token_b = sign_typed(Algorithm::ES256, "ec-b", None, &claims_b, &ec_key());
    assert_503(auth(&config, &web, &token_b).await, message);
    assert_eq!((web.count(&jwks_url(&a)), web.count(&jwks_url(&b))), (0, 0), "no keys fetched");
    // Within the back-off window: no new attempt, the same clear answer.
    assert_503(auth_at(&config, &web, &token_a(&a, json!({})), NOW + 1).await, message);
    assert_eq!(web.count(&discovery_url(&a)), 1);
}

#[tokio::test]
async fn discovery_without_jwks_uri_or_unreachable_is_503() {
    let (a, b) = issuers("broken-discovery");
    let web = FakeWeb::new()
        .route(&discovery_url(&a), vec![Ok(json!({"issuer": a}))])
        .route(&discovery_url(&b), vec![Err(JwksError("connect timeout".into()))]);
    let config = two_issuers(&a, &b, &[]);
    assert_503(
        auth(&config, &web, &token_a(&a, json!({}))).await,
        "token signing keys are unavailable: the issuer's discovery document has no jwks_uri",
    );
    let claims_b = oidc_claims(&b, json!({"aud": "api", "app_metadata": {"tenant_id": "tenant-b"}}));
    let token_b = sign_typed(Algorithm::ES256, "ec-b", None, &claims_b, &ec_key());
    let err = assert_503(auth(&config, &web, &token_b).await, "token signing keys are unavailable; retry later");
    let cause = err.cause.unwrap();
    assert!(cause.contains("discovery") && cause.contains("connect timeout"), "{cause}");
}

#[tokio::test]
async fn an_unreachable_jwks_uri_is_503() {
    let (a, b) = issuers("jwks-down");
    let web = FakeWeb::new().route(&discovery_url(&a), vec![Ok(discovery(&a, "https://keys.example/jwks-down"))]);
    let err = assert_503(
        auth(&two_issuers(&a, &b, &[]), &web, &token_a(&a, json!({}))).await,
        "token signing keys are unavailable; retry later",
    );
    assert!(err.cause.unwrap().contains("https://keys.example/jwks-down"));
    assert_eq!(web.count("https://keys.example/jwks-down"), 1);
}

#[tokio::test]
async fn an_unknown_kid_refetches_discovery_and_jwks_once_and_picks_up_rotation() {
    let (a, b) = issuers("rotation");
    let rotated = jwks(&[jwk(&rsa_key(RSA_A), Algorithm::RS256, "k1"), jwk(&rsa_key(RSA_B), Algorithm::RS256, "k2")]);
    let web = FakeWeb::new().issuer(&a, vec![jwks_a(), rotated]);
    let config = two_issuers(&a, &b, &[]);
    assert!(auth(&config, &web, &token_a(&a, json!({}))).await.is_ok());
    let next = sign_typed(Algorithm::RS256, "k2", Some("at+jwt"), &oidc_claims(&a, json!({})), &rsa_key(RSA_B));
    assert_401(auth_at(&config, &web, &next, NOW + 1).await, "token signing key (kid) is unknown");
    assert_eq!(web.fetches.borrow().len(), 2, "inside the refetch window: no fetch");
    assert_eq!(auth_at(&config, &web, &next, NOW + 5).await.unwrap().tenant_id, "org-7");
    assert_eq!((web.count(&discovery_url(&a)), web.count(&jwks_url(&a))), (2, 2), "one refetch of both");
    assert!(auth_at(&config, &web, &token_a(&a, json!({})), NOW + 6).await.is_ok(), "the old key is still listed");
    assert_eq!(web.fetches.borrow().len(), 4);
}

#[tokio::test]
async fn a_rotated_out_key_is_rejected_after_the_refetch() {
    let (a, b) = issuers("rotated-out");
    let only_k2 = jwks(&[jwk(&rsa_key(RSA_B), Algorithm::RS256, "k2")]);
    let web = FakeWeb::new().issuer(&a, vec![jwks_a(), only_k2]);
    let config = two_issuers(&a, &b, &[]);
    let old = token_a(&a, json!({}));
    let next = sign_typed(Algorithm::RS256, "k2", Some("at+jwt"), &oidc_claims(&a, json!({})), &rsa_key(RSA_B));
    assert!(auth(&config, &web, &old).await.is_ok());
    assert!(auth_at(&config, &web, &next, NOW + 5).await.is_ok(), "k2 fetched on demand");
    assert_401(auth_at(&config, &web, &old, NOW + 6).await, "token signing key (kid) is unknown");
    assert_401(auth_at(&config, &web, &old, NOW + 10).await, "token signing key (kid) is unknown");
    assert_eq!((web.count(&discovery_url(&a)), web.count(&jwks_url(&a))), (3, 3), "one more refetch, still gone");
}

#[tokio::test]
async fn an_unknown_kid_flood_fetches_at_most_once_per_window() {
    let (a, b) = issuers("flood");
    let web = web(&a, &b);
    let config = two_issuers(&a, &b, &[]);
    for second in 0..20u64 {
        for i in 0..10 {
            let header = json!({"alg": "RS256", "typ": "at+jwt", "kid": format!("junk-{second}-{i}")});
            let token = hmac_signed(&header, &oidc_claims(&a, json!({})), b"x");
            assert_401(auth_at(&config, &web, &token, NOW + second).await, "token signing key (kid) is unknown");
        }
    }
    assert_eq!((web.count(&discovery_url(&a)), web.count(&jwks_url(&a))), (4, 4), "at 0, 5, 10, 15");
}

#[tokio::test]
async fn exp_is_required_with_leeway_and_nbf_is_optional() {
    let (a, b) = issuers("time");
    let web = web(&a, &b);
    let strict = two_issuers(&a, &b, &[("AUTH_LEEWAY_SECS", "0")]);
    let config = two_issuers(&a, &b, &[]);
    assert!(auth(&config, &web, &token_a(&a, json!({"exp": NOW - 20}))).await.is_ok(), "20 s late < 30 s leeway");
    assert_401(auth(&config, &web, &token_a(&a, json!({"exp": NOW - 31}))).await, "token expired");
    assert_401(auth(&config, &web, &token_a(&a, json!({"exp": null}))).await, "token has no expiry (exp)");
    assert!(auth(&config, &web, &token_a(&a, json!({"nbf": NOW + 10}))).await.is_ok(), "nbf within leeway");
    assert_401(auth(&config, &web, &token_a(&a, json!({"nbf": NOW + 60}))).await, "token not yet valid (nbf)");
    assert_401(auth(&strict, &web, &token_a(&a, json!({"exp": NOW}))).await, "token expired");
    assert!(auth(&strict, &web, &token_a(&a, json!({"exp": NOW + 1}))).await.is_ok());
}

#[tokio::test]
async fn the_tenant_comes_from_the_issuers_claim_path() {
    let (a, b) = issuers("tenant");
    let web = web(&a, &b);
    let config = two_issuers(&a, &b, &[]);
    let with_org =
        |org: Value| token_a(&a, json!({"org": org, "org.tenant_id": "literal", "app_metadata": {"tenant_id": "t"}}));
    assert_eq!(auth(&config, &web, &with_org(json!({"tenant_id": "org-9"}))).await.unwrap().tenant_id, "org-9");
    assert_401(auth(&config, &web, &with_org(json!({"name": "acme"}))).await, "token has no tenant claim");
    assert_401(auth(&config, &web, &with_org(json!("org-9"))).await, "token has no tenant claim");
    assert_401(
        auth(&config, &web, &with_org(json!({"tenant_id": "a b"}))).await,
        "token tenant is not a valid tenant id",
    );
    // X-Tenant-ID stays an assertion against it.
    let token = bearer(&with_org(json!({"tenant_id": "org-9"})));
    let err = authenticate(&config, &web, Some(&token), Some("org-1"), NOW).await.unwrap_err();
    assert_eq!((err.status, err.code.as_ref()), (403, "tenant_mismatch"));
    // A namespaced claim name (Auth0 style) is one top-level claim, dots and all.
    let (c, _) = issuers("tenant-namespaced");
    let namespaced = AuthConfig::from_vars(|name| match name {
        "AUTH_ISSUERS" => Some(format!("{c}|aud=api-a|tenant=https://sba.example/tenant")),
        _ => None,
    })
    .unwrap();
    let web_c = FakeWeb::new().issuer(&c, vec![jwks_a()]);
    let token = token_a(&c, json!({"org": null, "https://sba.example/tenant": "t-ns"}));
    assert_eq!(auth(&namespaced, &web_c, &token).await.unwrap().tenant_id, "t-ns");
}
