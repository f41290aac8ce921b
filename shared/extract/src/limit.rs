//! The request-rate guard of the limited functions: one sliding window per tenant and one per
//! client IP (default 20 per minute each), decided in one Redis round trip by `sba-ratelimit`.
//! Keys are those of `@upstash/ratelimit`, so a TypeScript service limiting
//! `tenant:<id>` with the same prefix shares the budget.

use sba_http::{ApiError, Call};
use sba_ratelimit::{FailPolicy, Limiter, Policy};
use sba_tenant::TenantContext;

pub const DEFAULT_PER_MINUTE: u64 = 20;
const WINDOW_MS: u64 = 60_000;

/// Limits read from the Worker's vars: `RATE_LIMIT_TENANT_PER_MINUTE`,
/// `RATE_LIMIT_IP_PER_MINUTE`, `RATE_LIMIT_ON_REDIS_FAILURE` (`local`, the default: decide from
/// the isolate's own counts while Redis cannot be asked; or `closed`).
#[derive(Debug, Clone, PartialEq)]
pub struct LimitSettings {
    pub tenant_per_minute: u64,
    pub ip_per_minute: u64,
    pub on_failure: FailPolicy,
}

impl LimitSettings {
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Self {
        let number = |name: &str| get(name).and_then(|v| v.trim().parse::<u64>().ok()).filter(|n| *n > 0);
        Self {
            tenant_per_minute: number("RATE_LIMIT_TENANT_PER_MINUTE").unwrap_or(DEFAULT_PER_MINUTE),
            ip_per_minute: number("RATE_LIMIT_IP_PER_MINUTE").unwrap_or(DEFAULT_PER_MINUTE),
            on_failure: match get("RATE_LIMIT_ON_REDIS_FAILURE").as_deref().map(str::trim) {
                Some("closed") => FailPolicy::Closed,
                _ => FailPolicy::Local,
            },
        }
    }
}

/// Charges one request to the caller's tenant and IP. Ok carries the `RateLimit*` headers the
/// handler must put on its response; Err is the 429 (or, failing closed, 503) to answer.
pub async fn rate_limit(call: &Call, tenant: &TenantContext) -> Result<Vec<(&'static str, String)>, ApiError> {
    let settings = LimitSettings::from_vars(|name| sba_config::setting(&call.env, name).ok());
    let limiter = Limiter::new(
        sba_config::redis_for(call)?,
        vec![
            Policy::sliding_window("tenant", settings.tenant_per_minute, WINDOW_MS),
            Policy::sliding_window("ip", settings.ip_per_minute, WINDOW_MS),
        ],
    )
    .with_fail_policy(settings.on_failure);
    let ip = call
        .req
        .headers()
        .get("cf-connecting-ip")
        .ok()
        .flatten()
        .unwrap_or_else(|| "unknown".to_owned());
    let identifiers = [format!("tenant:{}", tenant.tenant_id), format!("ip:{ip}")];
    let now_ms = js_sys::Date::now() as u64;
    let decision = limiter.check(&identifiers, 1, now_ms).await;
    call.ctx.record_timing("limit", js_sys::Date::now() - now_ms as f64);
    call.ctx.set_limit_decision(decision.outcome());
    let headers = limiter.headers(&decision, now_ms);
    sba_limits::verdict(decision, headers, now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_to_twenty_per_minute_deciding_locally_without_redis() {
        let settings = LimitSettings::from_vars(|_| None);
        assert_eq!(settings, LimitSettings { tenant_per_minute: 20, ip_per_minute: 20, on_failure: FailPolicy::Local });
    }

    #[test]
    fn settings_read_vars_and_ignore_nonsense() {
        let settings = LimitSettings::from_vars(|name| match name {
            "RATE_LIMIT_TENANT_PER_MINUTE" => Some("100".into()),
            "RATE_LIMIT_IP_PER_MINUTE" => Some("zero".into()),
            "RATE_LIMIT_ON_REDIS_FAILURE" => Some("closed".into()),
            _ => None,
        });
        assert_eq!(settings.tenant_per_minute, 100);
        assert_eq!(settings.ip_per_minute, 20);
        assert_eq!(settings.on_failure, FailPolicy::Closed);
    }
}
