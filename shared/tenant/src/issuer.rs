//! OpenID Connect issuers from `AUTH_ISSUERS`, each with its own audience and tenant claim.

use crate::config::{AuthConfig, TenantClaim};

/// An OpenID Connect provider whose tokens are accepted: its keys come from discovery
/// (`<issuer>/.well-known/openid-configuration` → `jwks_uri`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcIssuer {
    /// Exactly the tokens' `iss` and the discovery document's `issuer`.
    pub issuer: String,
    /// Accepted `aud` values; empty → [`AuthConfig::audience`](crate::AuthConfig::audience).
    pub audience: Vec<String>,
    /// Where the tenant is; `None` → [`AuthConfig::tenant_claim`](crate::AuthConfig::tenant_claim).
    pub tenant_claim: Option<TenantClaim>,
}

impl OidcIssuer {
    pub fn new(issuer: impl Into<String>) -> Self {
        Self { issuer: issuer.into(), audience: Vec::new(), tenant_claim: None }
    }

    /// OpenID Connect Discovery 1.0 §4: the issuer without a trailing `/`, then the path.
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer.trim_end_matches('/'))
    }

    /// The `aud` values accepted from this issuer: its own, else `AUTH_AUDIENCE`. Empty →
    /// its tokens are refused (an OIDC provider signs tokens for many audiences).
    pub(crate) fn accepted_audience<'a>(&'a self, config: &'a AuthConfig) -> &'a [String] {
        if self.audience.is_empty() {
            &config.audience
        } else {
            &self.audience
        }
    }

    /// `AUTH_ISSUERS`: entries separated by commas and/or whitespace, each
    /// `<issuer>[|aud=<audience>]…[|tenant=<claim path>]`, e.g.
    /// `https://a.example|aud=api-a|tenant=org.tenant_id, https://b.example`.
    /// `aud` may repeat; `tenant` follows [`TenantClaim::from_path`].
    pub fn parse_list(list: &str) -> Result<Vec<Self>, String> {
        let mut issuers: Vec<Self> = Vec::new();
        for entry in list.split(|c: char| c == ',' || c.is_whitespace()).filter(|e| !e.is_empty()) {
            let issuer = Self::parse(entry)?;
            if issuers.iter().any(|known| known.issuer == issuer.issuer) {
                return Err(format!("{} is listed twice", issuer.issuer));
            }
            issuers.push(issuer);
        }
        Ok(issuers)
    }

    fn parse(entry: &str) -> Result<Self, String> {
        let mut parts = entry.split('|');
        let url = parts.next().unwrap_or_default();
        // An issuer is an http(s) URL without query or fragment (Discovery §3); the outbound
        // allowlist decides later whether plain http (loopback only) may be fetched.
        let is_url = url.starts_with("https://") || url.starts_with("http://");
        if !is_url || url.contains(['?', '#']) {
            return Err(format!("{url:?} is not an http(s) issuer URL without query or fragment"));
        }
        let mut issuer = Self::new(url);
        for option in parts {
            match option.split_once('=').map(|(k, v)| (k, v.trim())) {
                Some((_, "")) | None => {
                    return Err(format!("option {option:?} for {url} needs a value (aud=…, tenant=…)"))
                }
                Some(("aud", aud)) => issuer.audience.push(aud.to_string()),
                Some(("tenant", _)) if issuer.tenant_claim.is_some() => {
                    return Err(format!("tenant is given twice for {url}"))
                }
                Some(("tenant", path)) => issuer.tenant_claim = Some(TenantClaim::from_path(path)?),
                Some((other, _)) => return Err(format!("unknown option {other:?} for {url} (aud, tenant)")),
            }
        }
        Ok(issuer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_and_options() {
        let list = OidcIssuer::parse_list(
            " https://a.example|aud=api-a|aud=api-b|tenant=org.tenant_id,https://b.example\n http://127.0.0.1:9000 ",
        )
        .unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!(list[0].issuer, "https://a.example");
        assert_eq!(list[0].audience, vec!["api-a", "api-b"]);
        assert_eq!(list[0].tenant_claim, Some(TenantClaim::Path(vec!["org".into(), "tenant_id".into()])));
        assert_eq!(list[1], OidcIssuer::new("https://b.example"));
        assert_eq!(list[2].discovery_url(), "http://127.0.0.1:9000/.well-known/openid-configuration");
        assert_eq!(
            OidcIssuer::new("https://c.example/realms/x/").discovery_url(),
            "https://c.example/realms/x/.well-known/openid-configuration"
        );
        let namespaced = OidcIssuer::parse_list("https://a.example|tenant=https://sba.example/tenant").unwrap();
        assert_eq!(namespaced[0].tenant_claim, Some(TenantClaim::TopLevel("https://sba.example/tenant".into())));
    }

    #[test]
    fn mistakes_are_errors() {
        let err = |list: &str| OidcIssuer::parse_list(list).unwrap_err();
        assert_eq!(err("a.example"), "\"a.example\" is not an http(s) issuer URL without query or fragment");
        assert!(err("https://a.example?x=1").contains("without query"));
        assert_eq!(
            err("https://a.example|aud"),
            "option \"aud\" for https://a.example needs a value (aud=…, tenant=…)"
        );
        assert!(err("https://a.example|aud=").contains("needs a value"));
        assert_eq!(err("https://a.example|tenant=a|tenant=b"), "tenant is given twice for https://a.example");
        assert!(err("https://a.example|tenant=a..b").contains("empty step"));
        assert_eq!(err("https://a.example, https://a.example|aud=x"), "https://a.example is listed twice");
        assert!(err("https://a.example |aud=x").contains("not an http(s) issuer URL"), "no spaces inside an entry");
    }
}
