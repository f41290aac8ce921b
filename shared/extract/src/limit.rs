//! A request-rate guard for a route without a plan: one sliding window per tenant and one per
//! client IP (`RATE_LIMIT_TENANT_PER_MINUTE`, `RATE_LIMIT_IP_PER_MINUTE`, default 20 each, read
//! by `sba_quota::LimitConfig` like every limit), decided in one Redis round trip by `sba-ratelimit`.
//! Keys are those of `@upstash/ratelimit`, so a TypeScript service limiting
//! `tenant:<id>` with the same prefix shares the budget.

use sba_http::{ApiError, Call};
use sba_quota::LimitConfig;
use sba_ratelimit::{Limiter, Policy};
use sba_tenant::TenantContext;

const WINDOW_MS: u64 = 60_000;

/// Charges one request to the caller's tenant and IP. Ok carries the `RateLimit*` headers the
/// handler must put on its response; Err is the 429 (or, failing closed, 503) to answer.
pub async fn rate_limit(call: &Call, tenant: &TenantContext) -> Result<Vec<(&'static str, String)>, ApiError> {
    let settings = LimitConfig::from_vars(|name| sba_config::setting(&call.env, name).ok());
    let limiter = Limiter::new(
        sba_config::redis_for(call)?,
        vec![
            Policy::sliding_window("tenant", settings.tenant_per_minute, WINDOW_MS),
            Policy::sliding_window("ip", settings.ip_per_minute, WINDOW_MS),
        ],
    )
    .with_fail_policy(settings.on_failure);
    let ip = call.req.headers().get("cf-connecting-ip").ok().flatten().unwrap_or_else(|| "unknown".to_owned());
    let identifiers = [format!("tenant:{}", tenant.tenant_id), format!("ip:{ip}")];
    let now_ms = js_sys::Date::now() as u64;
    let decision = limiter.check(&identifiers, 1, now_ms).await;
    call.ctx.record_timing("limit", js_sys::Date::now() - now_ms as f64);
    call.ctx.set_limit_decision(decision.outcome());
    let headers = limiter.headers(&decision, now_ms);
    sba_quota::verdict(decision, headers, now_ms)
}
