//! What the caller configures: keys, expected issuer/audience, where the tenant lives.

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
}

impl TenantClaim {
    /// `None`, empty or `app_metadata.tenant_id` → [`TenantClaim::AppMetadata`]; anything
    /// else names a top-level claim.
    pub fn from_name(name: Option<&str>) -> Self {
        match name.map(str::trim) {
            None | Some("") | Some("app_metadata.tenant_id") => Self::AppMetadata,
            Some(other) => Self::TopLevel(other.to_string()),
        }
    }
}

/// How tokens are verified. Build it with [`AuthConfig::from_vars`] from the Worker's env,
/// or by hand (start from `AuthConfig::default()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// Supabase's legacy shared secret (`AUTH_JWT_SECRET`), used as raw UTF-8 bytes for
    /// HS256. `None` (or empty) → HS256 tokens are rejected.
    pub hs256_secret: Option<String>,
    /// JWKS endpoint (`AUTH_JWKS_URL`) for RS256 and ES256 keys. `None` → both rejected.
    pub jwks_url: Option<String>,
    /// Required exact `iss` when set.
    pub issuer: Option<String>,
    /// When non-empty, the token must carry an `aud` and one of its values must be listed.
    pub audience: Vec<String>,
    pub tenant_claim: TenantClaim,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway_secs: u64,
    /// How long a fetched JWKS is trusted.
    pub jwks_ttl_secs: u64,
    /// Minimum gap between two JWKS fetches of one URL caused by unknown `kid`s.
    pub jwks_min_refetch_secs: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            hs256_secret: None,
            jwks_url: None,
            issuer: None,
            audience: Vec::new(),
            tenant_claim: TenantClaim::AppMetadata,
            leeway_secs: 30,
            jwks_ttl_secs: 600,
            jwks_min_refetch_secs: 5,
        }
    }
}

impl AuthConfig {
    pub const SECRET_VAR: &'static str = "AUTH_JWT_SECRET";
    pub const JWKS_URL_VAR: &'static str = "AUTH_JWKS_URL";
    pub const ISSUER_VAR: &'static str = "AUTH_ISSUER";
    pub const AUDIENCE_VAR: &'static str = "AUTH_AUDIENCE";
    pub const TENANT_CLAIM_VAR: &'static str = "AUTH_TENANT_CLAIM";

    /// Reads `AUTH_JWT_SECRET`, `AUTH_JWKS_URL`, `AUTH_ISSUER`, `AUTH_AUDIENCE`
    /// (comma-separated) and `AUTH_TENANT_CLAIM`; empty values count as absent. The timing
    /// knobs keep their defaults.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Self {
        let non_empty = |name: &str| get(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        Self {
            // The secret is used byte for byte: only an all-empty value counts as absent.
            hs256_secret: get(Self::SECRET_VAR).filter(|v| !v.is_empty()),
            jwks_url: non_empty(Self::JWKS_URL_VAR),
            issuer: non_empty(Self::ISSUER_VAR),
            audience: non_empty(Self::AUDIENCE_VAR)
                .map(|v| v.split(',').map(str::trim).filter(|a| !a.is_empty()).map(String::from).collect())
                .unwrap_or_default(),
            tenant_claim: TenantClaim::from_name(non_empty(Self::TENANT_CLAIM_VAR).as_deref()),
            ..Self::default()
        }
    }

    /// The HS256 secret, if one is usable (an empty secret never is).
    pub(crate) fn secret(&self) -> Option<&[u8]> {
        self.hs256_secret.as_deref().filter(|s| !s.is_empty()).map(str::as_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn nothing_set_gives_defaults() {
        let config = AuthConfig::from_vars(vars(&[]));
        assert_eq!(config, AuthConfig::default());
        assert_eq!((config.leeway_secs, config.jwks_ttl_secs, config.jwks_min_refetch_secs), (30, 600, 5));
    }

    #[test]
    fn reads_every_variable() {
        let config = AuthConfig::from_vars(vars(&[
            ("AUTH_JWT_SECRET", " s3cret "),
            ("AUTH_JWKS_URL", "https://x.supabase.co/auth/v1/.well-known/jwks.json"),
            ("AUTH_ISSUER", "https://x.supabase.co/auth/v1"),
            ("AUTH_AUDIENCE", "authenticated, , api "),
            ("AUTH_TENANT_CLAIM", "org_id"),
        ]));
        assert_eq!(config.hs256_secret.as_deref(), Some(" s3cret "), "secret bytes are kept as given");
        assert_eq!(config.jwks_url.as_deref(), Some("https://x.supabase.co/auth/v1/.well-known/jwks.json"));
        assert_eq!(config.issuer.as_deref(), Some("https://x.supabase.co/auth/v1"));
        assert_eq!(config.audience, vec!["authenticated", "api"]);
        assert_eq!(config.tenant_claim, TenantClaim::TopLevel("org_id".into()));
    }

    #[test]
    fn empty_values_count_as_absent() {
        let config = AuthConfig::from_vars(vars(&[
            ("AUTH_JWT_SECRET", ""),
            ("AUTH_JWKS_URL", "  "),
            ("AUTH_AUDIENCE", " , "),
            ("AUTH_TENANT_CLAIM", ""),
        ]));
        assert_eq!(config, AuthConfig::default());
        assert_eq!(AuthConfig { hs256_secret: Some(String::new()), ..AuthConfig::default() }.secret(), None);
    }

    #[test]
    fn tenant_claim_names() {
        assert_eq!(TenantClaim::from_name(None), TenantClaim::AppMetadata);
        assert_eq!(TenantClaim::from_name(Some("app_metadata.tenant_id")), TenantClaim::AppMetadata);
        assert_eq!(TenantClaim::from_name(Some("tenant_id")), TenantClaim::TopLevel("tenant_id".into()));
    }
}
