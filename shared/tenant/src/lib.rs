//! Who is calling, and for which tenant: a verified [`TenantContext`] from a bearer JWT,
//! issued by Supabase (shared secret or `AUTH_JWKS_URL`) or by OpenID Connect providers
//! (`AUTH_ISSUERS`, keys found by discovery).
//!
//! [`authenticate`] takes the `Authorization` header, an optional `X-Tenant-ID` assertion and
//! the current time, and either returns the caller's tenant, subject, role and full verified
//! claims, or an [`ApiError`] ready to send (401 `invalid_request` / `invalid_token`,
//! 403 `tenant_mismatch`, 503 `auth_unavailable` when the signing keys cannot be fetched).
//!
//! - Algorithms are pinned: HS256 only with the configured shared secret; RS256 and ES256 only
//!   with JWKS keys (chosen by `kid`) whose `kty`/`crv`/`alg` agree with the token's `alg`.
//!   `alg: none` and every other algorithm are rejected before any key is looked at.
//! - A token whose `iss` is exactly a configured OIDC issuer is checked with that issuer's
//!   keys only, RS256/ES256 only, and must carry an accepted `aud` (the issuer's own or
//!   `AUTH_AUDIENCE`; none configured → refused). The discovery document must name exactly
//!   that issuer. Every other token goes to Supabase's secret / JWKS as before.
//! - Time comes from the caller (`now_secs`): `SystemTime::now()` panics on
//!   wasm32-unknown-unknown, so `exp` (required) and `nbf` are checked here, with leeway.
//! - The tenant comes from `app_metadata.tenant_id`, a configured top-level claim or, per
//!   OIDC issuer, a dotted path; never from `user_metadata`; `X-Tenant-ID` is only an
//!   assertion checked against it.
//! - Keys are cached per JWKS URL or issuer (discovery + JWKS together) for the life of the
//!   isolate; an unknown `kid` refetches at most once per `jwks_min_refetch_secs`.
//!
//! Not for: issuing tokens, sessions, authorization decisions beyond the tenant match, or
//! talking to Postgres (hand [`TenantContext::claims`] to it as `request.jwt.claims`).
//! Error messages say which check failed and never echo the token.

// `ApiError` is the project's one error type, returned as a value everywhere.
#![allow(clippy::result_large_err)]

mod bearer;
mod cache;
mod claims;
mod config;
mod discovery;
mod header;
mod http_source;
mod issuer;
mod jwks;
mod signature;
mod tenant;
mod verify;

pub use config::{AuthConfig, TenantClaim};
pub use http_source::HttpJwks;
pub use issuer::OidcIssuer;
pub use jwks::{JwksError, JwksSource};

use sba_errors::ApiError;
use serde_json::Value;

/// The verified caller.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantContext {
    /// From `app_metadata.tenant_id` or the configured claim.
    pub tenant_id: String,
    /// The `sub` claim.
    pub subject: String,
    /// The `role` claim, `"authenticated"` when absent.
    pub role: String,
    /// The full verified payload, for Postgres' `request.jwt.claims`.
    pub claims: Value,
}

/// Verifies the bearer token in `authorization` and returns the caller's tenant context.
///
/// `asserted_tenant` is the `X-Tenant-ID` header: absent → the token's tenant; present and
/// different → 403 `tenant_mismatch`. `now_secs` is Unix time in seconds (on Workers:
/// `Date::now() / 1000`); it drives the `exp`/`nbf` checks and the JWKS cache.
pub async fn authenticate(
    config: &AuthConfig,
    source: &impl JwksSource,
    authorization: Option<&str>,
    asserted_tenant: Option<&str>,
    now_secs: u64,
) -> Result<TenantContext, ApiError> {
    let token = bearer::token_from_header(authorization)?;
    let header = header::peek(token)?;
    let (claims, issuer) = verify::verify_signature(config, source, token, &header, now_secs).await?;
    let context = claims::check(config, issuer, claims, now_secs)?;
    tenant::check_assertion(&context.tenant_id, asserted_tenant)?;
    Ok(context)
}
