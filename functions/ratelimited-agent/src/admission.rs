//! Admission of one run: plan → limits → period quota, before any stream opens.

use sba_config::DB_BINDING;
use sba_extract::sba_tenant::TenantContext;
use sba_http::{ApiError, Call};
use sba_pg::PgError;
use sba_quota::{admit, cached_plan, charge_run, LimitConfig};
use std::time::Duration;

const DB_TIMEOUT: Duration = Duration::from_secs(5);

/// The `RateLimit*` headers for the response, or the 429/503 to answer instead.
pub async fn admit_run(call: &Call, tenant: &TenantContext) -> Result<Vec<(&'static str, String)>, ApiError> {
    let redis = sba_config::redis_for(call)?;
    let config = LimitConfig::from_vars(|name| sba_config::setting(&call.env, name).ok());
    let ip = call.req.headers().get("cf-connecting-ip").ok().flatten().unwrap_or_else(|| "unknown".to_owned());
    let tenant_id = tenant.tenant_id.clone();
    let request_ctx = call.ctx.clone();
    let now_ms = js_sys::Date::now() as u64;
    let result = sba_pg::with_client(&call.env, DB_BINDING, DB_TIMEOUT, |mut client| async move {
        let tx = sba_rls::begin_as_service(&mut client).await.map_err(PgError::from)?;
        let plan = cached_plan(&redis, &tx, &tenant_id).await.map_err(PgError::from)?;
        let per_minute = u64::try_from(plan.agent_requests_per_minute).unwrap_or(1);
        let headers = admit(redis, &config, &tenant_id, per_minute, &ip, now_ms, |outcome| request_ctx.set_limit_decision(outcome)).await?;
        match charge_run(&tx, &tenant_id, i64::from(plan.agent_runs_per_period), plan.llm_tokens_per_period).await {
            Ok(()) => {}
            Err(e) => {
                let api = e.into_api_error((now_ms / 1000) as i64).map_err(PgError::from)?;
                return Err(api);
            }
        }
        tx.commit().await.map_err(PgError::from)?;
        Ok(headers)
    })
    .await;
    call.ctx.record_timing("limit", js_sys::Date::now() - now_ms as f64);
    result
}
