//! The verified payload: time window, issuer, audience, subject, role and tenant.

use crate::config::{AuthConfig, TenantClaim};
use crate::issuer::OidcIssuer;
use crate::tenant::is_valid_tenant_id;
use crate::verify::NO_AUDIENCE;
use crate::TenantContext;
use sba_errors::ApiError;
use serde_json::{Map, Value};

fn invalid(message: &'static str) -> ApiError {
    ApiError::unauthorized("invalid_token", message)
}

/// Checks the claims of a token whose signature is already verified, by `issuer`'s key
/// (`None`: Supabase's secret or JWKS, checked against `AUTH_ISSUER` when set).
pub(crate) fn check(
    config: &AuthConfig,
    issuer: Option<&OidcIssuer>,
    claims: Map<String, Value>,
    now: u64,
) -> Result<TenantContext, ApiError> {
    check_time(config, &claims, now)?;
    match issuer {
        Some(issuer) => {
            // The key was chosen by this `iss`; checked again so this module stands alone.
            check_issuer(Some(&issuer.issuer), &claims)?;
            let audience = issuer.accepted_audience(config);
            if audience.is_empty() {
                return Err(invalid(NO_AUDIENCE));
            }
            check_audience(audience, &claims)?;
        }
        None => {
            check_issuer(config.issuer.as_deref(), &claims)?;
            check_audience(&config.audience, &claims)?;
        }
    }
    let subject = match claims.get("sub") {
        Some(Value::String(sub)) if !sub.is_empty() => sub.clone(),
        _ => return Err(invalid("token has no subject (sub)")),
    };
    let role = match claims.get("role") {
        None | Some(Value::Null) => "authenticated".to_string(),
        Some(Value::String(role)) if !role.is_empty() => role.clone(),
        Some(_) => return Err(invalid("token role is not a string")),
    };
    let tenant_claim = issuer.and_then(|i| i.tenant_claim.as_ref()).unwrap_or(&config.tenant_claim);
    let tenant_id = tenant_of(tenant_claim, &claims)?;
    Ok(TenantContext { tenant_id, subject, role, claims: Value::Object(claims) })
}

/// A NumericDate: a non-negative JSON number, fractions truncated.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<u64>, ()> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
            (Some(secs), _) => Ok(Some(secs)),
            (None, Some(f)) if f.is_finite() && f >= 0.0 => Ok(Some(f as u64)),
            _ => Err(()),
        },
        Some(_) => Err(()),
    }
}

fn check_time(config: &AuthConfig, claims: &Map<String, Value>, now: u64) -> Result<(), ApiError> {
    let exp = match numeric_date(claims, "exp") {
        Ok(Some(exp)) => exp,
        Ok(None) => return Err(invalid("token has no expiry (exp)")),
        Err(()) => return Err(invalid("token exp is not a number")),
    };
    if now >= exp.saturating_add(config.leeway_secs) {
        return Err(invalid("token expired"));
    }
    match numeric_date(claims, "nbf") {
        Ok(Some(nbf)) if nbf > now.saturating_add(config.leeway_secs) => Err(invalid("token not yet valid (nbf)")),
        Ok(_) => Ok(()),
        Err(()) => Err(invalid("token nbf is not a number")),
    }
}

fn check_issuer(expected: Option<&str>, claims: &Map<String, Value>) -> Result<(), ApiError> {
    let Some(expected) = expected else { return Ok(()) };
    match claims.get("iss") {
        Some(Value::String(iss)) if iss == expected => Ok(()),
        None => Err(invalid("token has no issuer (iss)")),
        Some(_) => Err(invalid("token issuer (iss) not accepted")),
    }
}

/// Unchecked when `audience` is empty (Supabase without `AUTH_AUDIENCE`, as before).
fn check_audience(audience: &[String], claims: &Map<String, Value>) -> Result<(), ApiError> {
    if audience.is_empty() {
        return Ok(());
    }
    let accepted = |aud: &Value| aud.as_str().is_some_and(|a| audience.iter().any(|want| want == a));
    match claims.get("aud") {
        None => Err(invalid("token has no audience (aud)")),
        Some(Value::Array(auds)) if auds.iter().any(accepted) => Ok(()),
        Some(aud @ Value::String(_)) if accepted(aud) => Ok(()),
        Some(_) => Err(invalid("token audience (aud) not accepted")),
    }
}

fn tenant_of(claim: &TenantClaim, claims: &Map<String, Value>) -> Result<String, ApiError> {
    let (value, missing) = match claim {
        TenantClaim::AppMetadata => (
            claims.get("app_metadata").and_then(|m| m.get("tenant_id")),
            "token has no tenant (app_metadata.tenant_id)",
        ),
        TenantClaim::TopLevel(name) => (claims.get(name.as_str()), "token has no tenant claim"),
        TenantClaim::Path(steps) => (at_path(claims, steps), "token has no tenant claim"),
    };
    match value {
        None | Some(Value::Null) => Err(invalid(missing)),
        Some(Value::String(id)) if is_valid_tenant_id(id) => Ok(id.clone()),
        Some(_) => Err(invalid("token tenant is not a valid tenant id")),
    }
}

/// The value at `steps` through nested objects; `None` when any step is missing.
fn at_path<'a>(claims: &'a Map<String, Value>, steps: &[String]) -> Option<&'a Value> {
    let (first, rest) = steps.split_first()?;
    rest.iter().try_fold(claims.get(first.as_str())?, |value, step| value.get(step.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: u64 = 1_700_000_000;

    fn claims(extra: Value) -> Map<String, Value> {
        let mut base = json!({"sub": "user-1", "exp": NOW + 60, "app_metadata": {"tenant_id": "t1"}});
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                base.as_object_mut().unwrap().remove(k);
            } else {
                base[k] = v.clone();
            }
        }
        base.as_object().unwrap().clone()
    }

    fn err(config: &AuthConfig, extra: Value) -> String {
        check(config, None, claims(extra), NOW).unwrap_err().message
    }

    #[test]
    fn defaults_fill_role_and_keep_all_claims() {
        let ctx = check(&AuthConfig::default(), None, claims(json!({"custom": 1})), NOW).unwrap();
        assert_eq!(
            (ctx.tenant_id.as_str(), ctx.subject.as_str(), ctx.role.as_str()),
            ("t1", "user-1", "authenticated")
        );
        assert_eq!(ctx.claims["custom"], 1);
        let ctx = check(&AuthConfig::default(), None, claims(json!({"role": "service_role"})), NOW).unwrap();
        assert_eq!(ctx.role, "service_role");
    }

    #[test]
    fn exp_is_required_and_has_leeway() {
        let config = AuthConfig::default();
        assert_eq!(err(&config, json!({"exp": null})), "token has no expiry (exp)");
        assert_eq!(err(&config, json!({"exp": "soon"})), "token exp is not a number");
        assert_eq!(err(&config, json!({"exp": -5})), "token exp is not a number");
        assert!(check(&config, None, claims(json!({"exp": NOW - 29})), NOW).is_ok());
        assert_eq!(err(&config, json!({"exp": NOW - 30})), "token expired");
        assert!(check(&config, None, claims(json!({"exp": (NOW as f64) + 0.5})), NOW).is_ok());
        assert!(check(&config, None, claims(json!({"exp": u64::MAX})), NOW).is_ok(), "no overflow");
        assert!(check(&config, None, claims(json!({"exp": 1e300})), NOW).is_ok(), "saturates");
    }

    #[test]
    fn nbf_in_the_future_beyond_leeway_is_rejected() {
        let config = AuthConfig::default();
        assert!(check(&config, None, claims(json!({"nbf": NOW + 30})), NOW).is_ok());
        assert_eq!(err(&config, json!({"nbf": NOW + 31})), "token not yet valid (nbf)");
        assert_eq!(err(&config, json!({"nbf": "x"})), "token nbf is not a number");
    }

    #[test]
    fn issuer_and_audience_when_configured() {
        let config = AuthConfig {
            issuer: Some("https://idp".into()),
            audience: vec!["authenticated".into(), "api".into()],
            ..AuthConfig::default()
        };
        let good = json!({"iss": "https://idp", "aud": "authenticated"});
        assert!(check(&config, None, claims(good), NOW).is_ok());
        assert!(check(&config, None, claims(json!({"iss": "https://idp", "aud": ["x", "api"]})), NOW).is_ok());
        assert_eq!(err(&config, json!({"aud": "api"})), "token has no issuer (iss)");
        assert_eq!(err(&config, json!({"iss": "https://evil", "aud": "api"})), "token issuer (iss) not accepted");
        assert_eq!(err(&config, json!({"iss": "https://idp"})), "token has no audience (aud)");
        assert_eq!(err(&config, json!({"iss": "https://idp", "aud": "other"})), "token audience (aud) not accepted");
        assert_eq!(err(&config, json!({"iss": "https://idp", "aud": []})), "token audience (aud) not accepted");
        assert!(
            check(&AuthConfig::default(), None, claims(json!({"aud": "whatever"})), NOW).is_ok(),
            "unchecked when not configured"
        );
    }

    #[test]
    fn subject_and_role_shapes() {
        let config = AuthConfig::default();
        assert_eq!(err(&config, json!({"sub": null})), "token has no subject (sub)");
        assert_eq!(err(&config, json!({"sub": ""})), "token has no subject (sub)");
        assert_eq!(err(&config, json!({"role": 3})), "token role is not a string");
    }

    #[test]
    fn tenant_sources() {
        let config = AuthConfig::default();
        assert_eq!(
            err(&config, json!({"app_metadata": null, "user_metadata": {"tenant_id": "t9"}})),
            "token has no tenant (app_metadata.tenant_id)"
        );
        assert_eq!(
            err(&config, json!({"app_metadata": {"tenant_id": "a b"}})),
            "token tenant is not a valid tenant id"
        );
        assert_eq!(err(&config, json!({"app_metadata": {"tenant_id": 7}})), "token tenant is not a valid tenant id");
        let top = AuthConfig { tenant_claim: TenantClaim::TopLevel("org".into()), ..AuthConfig::default() };
        assert_eq!(check(&top, None, claims(json!({"org": "o-1"})), NOW).unwrap().tenant_id, "o-1");
        assert_eq!(err(&top, json!({})), "token has no tenant claim", "app_metadata is not consulted");
        let dotted = AuthConfig {
            tenant_claim: TenantClaim::TopLevel("user_metadata.tenant_id".into()),
            ..AuthConfig::default()
        };
        assert_eq!(
            err(&dotted, json!({"user_metadata": {"tenant_id": "t9"}})),
            "token has no tenant claim",
            "no nested lookup"
        );
    }

    #[test]
    fn an_oidc_issuer_brings_its_audience_and_tenant_claim() {
        let config = AuthConfig { audience: vec!["global".into()], ..AuthConfig::default() };
        let issuer = OidcIssuer {
            audience: vec!["api-a".into()],
            tenant_claim: Some(TenantClaim::from_path("org.tenant_id").unwrap()),
            ..OidcIssuer::new("https://a.example")
        };
        let oidc = |extra: Value| check(&config, Some(&issuer), claims(extra), NOW).map_err(|e| e.message);
        let good = json!({"iss": "https://a.example", "aud": "api-a", "org": {"tenant_id": "o-7"}});
        assert_eq!(oidc(good).unwrap().tenant_id, "o-7");
        let global_aud = json!({"iss": "https://a.example", "aud": "global", "org": {"tenant_id": "o-7"}});
        assert_eq!(oidc(global_aud).unwrap_err(), "token audience (aud) not accepted", "the issuer's own list wins");
        let no_org = json!({"iss": "https://a.example", "aud": "api-a"});
        assert_eq!(oidc(no_org).unwrap_err(), "token has no tenant claim", "app_metadata is not consulted");
        let flat = json!({"iss": "https://a.example", "aud": "api-a", "org": "o-7"});
        assert_eq!(oidc(flat).unwrap_err(), "token has no tenant claim");
        let other_iss = json!({"iss": "https://a.example/", "aud": "api-a", "org": {"tenant_id": "o-7"}});
        assert_eq!(oidc(other_iss).unwrap_err(), "token issuer (iss) not accepted");
    }

    #[test]
    fn an_oidc_issuer_falls_back_to_the_global_audience_and_tenant_claim_or_refuses() {
        let issuer = OidcIssuer::new("https://b.example");
        let token = json!({"iss": "https://b.example", "aud": ["x", "api"]});
        let config = AuthConfig { audience: vec!["api".into()], ..AuthConfig::default() };
        assert_eq!(check(&config, Some(&issuer), claims(token.clone()), NOW).unwrap().tenant_id, "t1");
        let err = check(&AuthConfig::default(), Some(&issuer), claims(token), NOW).unwrap_err();
        assert_eq!((err.status, err.message.as_str()), (401, NO_AUDIENCE));
    }
}
