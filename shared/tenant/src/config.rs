//! What the caller configures: keys, expected issuers/audience, where the tenant lives.

use crate::issuer::OidcIssuer;
use sba_errors::ApiError;

/// Where the tenant id is read from in a verified token. Never `user_metadata`: users can
/// edit that themselves.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TenantClaim {
    /// `app_metadata.tenant_id` (only the service role can write `app_metadata`).
    #[default]
    AppMetadata,
    /// A top-level claim of this exact name (e.g. added by a custom access-token hook).
    /// The name is taken literally: a dot does not reach into nested objects.
    TopLevel(String),
    /// Nested objects, one claim name per step (`org.tenant_id` → `["org", "tenant_id"]`).
    Path(Vec<String>),
}

impl TenantClaim {
    /// `AUTH_TENANT_CLAIM`: `None`, empty or `app_metadata.tenant_id` →
    /// [`TenantClaim::AppMetadata`]; anything else names a top-level claim, dots and all.
    pub fn from_name(name: Option<&str>) -> Self {
        match name.map(str::trim) {
            None | Some("") | Some("app_metadata.tenant_id") => Self::AppMetadata,
            Some(other) => Self::TopLevel(other.to_string()),
        }
    }

    /// A per-issuer `tenant=` option: dots descend into nested objects, except in a name
    /// containing `://` (a namespaced claim such as `https://example.com/tenant`, Auth0's
    /// convention), which is one top-level name.
    pub fn from_path(path: &str) -> Result<Self, String> {
        let path = path.trim();
        if path == "app_metadata.tenant_id" {
            return Ok(Self::AppMetadata);
        }
        if path.contains("://") || (!path.is_empty() && !path.contains('.')) {
            return Ok(Self::TopLevel(path.to_string()));
        }
        let steps: Vec<String> = path.split('.').map(String::from).collect();
        if steps.iter().any(String::is_empty) {
            return Err(format!("tenant claim path {path:?} has an empty step"));
        }
        Ok(Self::Path(steps))
    }
}

/// How tokens are verified. Build it with [`AuthConfig::from_vars`] from the Worker's env,
/// or by hand (start from `AuthConfig::default()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// Supabase's legacy shared secret (`AUTH_JWT_SECRET`), used as raw UTF-8 bytes for
    /// HS256. `None` (or empty) → HS256 tokens are rejected.
    pub hs256_secret: Option<String>,
    /// JWKS endpoint (`AUTH_JWKS_URL`) for RS256 and ES256 keys of tokens whose `iss` is
    /// not one of `issuers`. `None` → such tokens are rejected.
    pub jwks_url: Option<String>,
    /// Required exact `iss` (`AUTH_ISSUER`) of tokens checked with the secret or `jwks_url`.
    pub issuer: Option<String>,
    /// OpenID Connect issuers (`AUTH_ISSUERS`): a token whose `iss` is one of them is
    /// checked with that issuer's keys only (found by discovery), RS256/ES256 only.
    pub issuers: Vec<OidcIssuer>,
    /// When non-empty, the token must carry an `aud` and one of its values must be listed.
    /// Also the audience of every OIDC issuer that names none of its own.
    pub audience: Vec<String>,
    pub tenant_claim: TenantClaim,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway_secs: u64,
    /// How long a fetched JWKS (and an issuer's discovery document) is trusted.
    pub jwks_ttl_secs: u64,
    /// Minimum gap between two key fetches of one JWKS URL or issuer caused by unknown `kid`s.
    pub jwks_min_refetch_secs: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            hs256_secret: None,
            jwks_url: None,
            issuer: None,
            issuers: Vec::new(),
            audience: Vec::new(),
            tenant_claim: TenantClaim::AppMetadata,
            leeway_secs: 30,
            jwks_ttl_secs: 600,
            jwks_min_refetch_secs: 5,
        }
    }
}

/// Larger leeways would quietly stretch every token's lifetime.
const MAX_LEEWAY_SECS: u64 = 300;

impl AuthConfig {
    pub const SECRET_VAR: &'static str = "AUTH_JWT_SECRET";
    pub const JWKS_URL_VAR: &'static str = "AUTH_JWKS_URL";
    pub const ISSUER_VAR: &'static str = "AUTH_ISSUER";
    pub const ISSUERS_VAR: &'static str = "AUTH_ISSUERS";
    pub const AUDIENCE_VAR: &'static str = "AUTH_AUDIENCE";
    pub const TENANT_CLAIM_VAR: &'static str = "AUTH_TENANT_CLAIM";
    pub const LEEWAY_VAR: &'static str = "AUTH_LEEWAY_SECS";

    /// Reads `AUTH_JWT_SECRET`, `AUTH_JWKS_URL`, `AUTH_ISSUER`, `AUTH_ISSUERS` (see
    /// [`OidcIssuer::parse_list`]), `AUTH_AUDIENCE` (comma-separated), `AUTH_TENANT_CLAIM`
    /// and `AUTH_LEEWAY_SECS` (0–300); empty values count as absent. The cache timings keep
    /// their defaults. A malformed `AUTH_ISSUERS` or `AUTH_LEEWAY_SECS` is a 503
    /// `auth_unavailable` naming the problem: guessing would accept the wrong tokens.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Self, ApiError> {
        let non_empty = |name: &str| get(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let misconfigured =
            |name: &str, problem: String| ApiError::unavailable("auth_unavailable", format!("{name}: {problem}"), 30);
        let issuers = match non_empty(Self::ISSUERS_VAR) {
            Some(list) => OidcIssuer::parse_list(&list).map_err(|p| misconfigured(Self::ISSUERS_VAR, p))?,
            None => Vec::new(),
        };
        let leeway_secs = match non_empty(Self::LEEWAY_VAR) {
            None => Self::default().leeway_secs,
            Some(v) => v.parse().ok().filter(|s| *s <= MAX_LEEWAY_SECS).ok_or_else(|| {
                misconfigured(Self::LEEWAY_VAR, format!("{v:?} is not a number of seconds from 0 to {MAX_LEEWAY_SECS}"))
            })?,
        };
        Ok(Self {
            // The secret is used byte for byte: only an all-empty value counts as absent.
            hs256_secret: get(Self::SECRET_VAR).filter(|v| !v.is_empty()),
            jwks_url: non_empty(Self::JWKS_URL_VAR),
            issuer: non_empty(Self::ISSUER_VAR),
            issuers,
            audience: non_empty(Self::AUDIENCE_VAR).map(|v| split_list(&v, ',')).unwrap_or_default(),
            tenant_claim: TenantClaim::from_name(non_empty(Self::TENANT_CLAIM_VAR).as_deref()),
            leeway_secs,
            ..Self::default()
        })
    }

    /// The URLs known before any fetch: `AUTH_JWKS_URL` and each issuer's discovery URL.
    /// The Worker checks them against its outbound allowlist up front; a discovered
    /// `jwks_uri` can only be checked when it is fetched (`HttpJwks::with_allow`).
    pub fn outbound_urls(&self) -> Vec<String> {
        self.jwks_url.iter().cloned().chain(self.issuers.iter().map(OidcIssuer::discovery_url)).collect()
    }

    /// The HS256 secret, if one is usable (an empty secret never is).
    pub(crate) fn secret(&self) -> Option<&[u8]> {
        self.hs256_secret.as_deref().filter(|s| !s.is_empty()).map(str::as_bytes)
    }

    /// The configured OIDC issuer that is exactly `iss` (no normalisation of any kind).
    pub(crate) fn oidc_issuer(&self, iss: &str) -> Option<&OidcIssuer> {
        self.issuers.iter().find(|i| i.issuer == iss)
    }
}

/// Trimmed, non-empty items of `list`.
pub(crate) fn split_list(list: &str, separator: char) -> Vec<String> {
    list.split(separator).map(str::trim).filter(|a| !a.is_empty()).map(String::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    fn from(pairs: &[(&str, &str)]) -> AuthConfig {
        AuthConfig::from_vars(vars(pairs)).expect("valid configuration")
    }

    fn problem(pairs: &[(&str, &str)]) -> (u16, String) {
        let err = AuthConfig::from_vars(vars(pairs)).expect_err("must be refused");
        assert_eq!(err.code, "auth_unavailable");
        (err.status, err.message)
    }

    #[test]
    fn nothing_set_gives_defaults() {
        let config = from(&[]);
        assert_eq!(config, AuthConfig::default());
        assert_eq!((config.leeway_secs, config.jwks_ttl_secs, config.jwks_min_refetch_secs), (30, 600, 5));
        assert!(config.outbound_urls().is_empty());
    }

    #[test]
    fn reads_every_variable() {
        let config = from(&[
            ("AUTH_JWT_SECRET", " s3cret "),
            ("AUTH_JWKS_URL", "https://x.supabase.co/auth/v1/.well-known/jwks.json"),
            ("AUTH_ISSUER", "https://x.supabase.co/auth/v1"),
            ("AUTH_ISSUERS", "https://a.example|aud=api-a|tenant=org.id, https://b.example/"),
            ("AUTH_AUDIENCE", "authenticated, , api "),
            ("AUTH_TENANT_CLAIM", "org_id"),
            ("AUTH_LEEWAY_SECS", " 10 "),
        ]);
        assert_eq!(config.hs256_secret.as_deref(), Some(" s3cret "), "secret bytes are kept as given");
        assert_eq!(config.jwks_url.as_deref(), Some("https://x.supabase.co/auth/v1/.well-known/jwks.json"));
        assert_eq!(config.issuer.as_deref(), Some("https://x.supabase.co/auth/v1"));
        assert_eq!(config.audience, vec!["authenticated", "api"]);
        assert_eq!(config.tenant_claim, TenantClaim::TopLevel("org_id".into()));
        assert_eq!(config.leeway_secs, 10);
        let a = OidcIssuer {
            audience: vec!["api-a".into()],
            tenant_claim: Some(TenantClaim::Path(vec!["org".into(), "id".into()])),
            ..OidcIssuer::new("https://a.example")
        };
        assert_eq!(config.issuers, vec![a, OidcIssuer::new("https://b.example/")]);
        assert_eq!(
            config.outbound_urls(),
            vec![
                "https://x.supabase.co/auth/v1/.well-known/jwks.json",
                "https://a.example/.well-known/openid-configuration",
                "https://b.example/.well-known/openid-configuration",
            ]
        );
        assert!(config.oidc_issuer("https://b.example/").is_some());
        assert!(config.oidc_issuer("https://b.example").is_none(), "no trailing-slash normalisation");
    }

    #[test]
    fn empty_values_count_as_absent() {
        let config = from(&[
            ("AUTH_JWT_SECRET", ""),
            ("AUTH_JWKS_URL", "  "),
            ("AUTH_ISSUERS", " "),
            ("AUTH_AUDIENCE", " , "),
            ("AUTH_TENANT_CLAIM", ""),
            ("AUTH_LEEWAY_SECS", ""),
        ]);
        assert_eq!(config, AuthConfig::default());
        assert_eq!(AuthConfig { hs256_secret: Some(String::new()), ..AuthConfig::default() }.secret(), None);
    }

    #[test]
    fn malformed_values_are_refused_not_guessed() {
        assert_eq!(
            problem(&[("AUTH_LEEWAY_SECS", "301")]),
            (503, "AUTH_LEEWAY_SECS: \"301\" is not a number of seconds from 0 to 300".into())
        );
        assert_eq!(problem(&[("AUTH_LEEWAY_SECS", "-1")]).0, 503);
        assert_eq!(
            problem(&[("AUTH_ISSUERS", "https://a.example|audience=x")]),
            (503, "AUTH_ISSUERS: unknown option \"audience\" for https://a.example (aud, tenant)".into())
        );
        assert_eq!(from(&[("AUTH_LEEWAY_SECS", "0")]).leeway_secs, 0);
    }

    #[test]
    fn tenant_claim_names() {
        assert_eq!(TenantClaim::from_name(None), TenantClaim::AppMetadata);
        assert_eq!(TenantClaim::from_name(Some("app_metadata.tenant_id")), TenantClaim::AppMetadata);
        assert_eq!(TenantClaim::from_name(Some("tenant_id")), TenantClaim::TopLevel("tenant_id".into()));
        assert_eq!(TenantClaim::from_name(Some("org.id")), TenantClaim::TopLevel("org.id".into()), "literal");
    }

    #[test]
    fn tenant_claim_paths() {
        let path = |p: &str| TenantClaim::from_path(p);
        assert_eq!(path("app_metadata.tenant_id"), Ok(TenantClaim::AppMetadata));
        assert_eq!(path("org_id"), Ok(TenantClaim::TopLevel("org_id".into())));
        assert_eq!(path("org.tenant_id"), Ok(TenantClaim::Path(vec!["org".into(), "tenant_id".into()])));
        assert_eq!(
            path("https://sba.example/tenant"),
            Ok(TenantClaim::TopLevel("https://sba.example/tenant".into())),
            "a namespaced claim is one name"
        );
        for bad in ["", "org.", ".org", "a..b"] {
            assert!(path(bad).is_err(), "{bad:?}");
        }
    }
}
