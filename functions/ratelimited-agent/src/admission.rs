//! Admission of one run: plan → limits → period quota, before any stream opens.
//!
//! Over-limit requests must be cheap: with the plan in the Redis cache (the usual case), the
//! limiter decides from Redis alone and a refused request never opens a Postgres connection
//! (a login costs more than everything else on this path). Postgres is opened to charge an
//! admitted run, or once per cache miss to load the plan, limit and charge in one session.
//! An admitted run that then fails on our side (the database down) gets its limiter units
//! back, so our outage does not spend the client's budget.

use sba_config::DB_BINDING;
use sba_extract::sba_tenant::TenantContext;
use sba_http::{ApiError, Call, RequestContext};
use sba_pg::PgError;
use sba_quota::{admit, charge_run, load_plan, plan_from_cache, refund, Admission, LimitConfig};
use sba_billing::TenantPlan;
use sba_pg::tokio_postgres::Transaction;
use sba_redis::RedisRest;
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

const DB_TIMEOUT: Duration = Duration::from_secs(5);

/// The `RateLimit*` headers for the response, or the 429/503 to answer instead.
pub async fn admit_run(call: &Call, tenant: &TenantContext) -> Result<Admission, ApiError> {
    let redis = sba_config::redis_for(call)?;
    let limits = Limits {
        config: LimitConfig::from_vars(|name| sba_config::setting(&call.env, name).ok()),
        ip: call.req.headers().get("cf-connecting-ip").ok().flatten().unwrap_or_else(|| "unknown".to_owned()),
        tenant: tenant.tenant_id.clone(),
        now_ms: js_sys::Date::now() as u64,
        checked_per_minute: Cell::new(None),
        ctx: call.ctx.clone(),
    };
    let limits = &limits;
    // With the plan cached, the limiter decides before Postgres is opened: an over-limit run
    // never costs a connection. On a miss, plan, limits and charge share one session.
    let cached = match plan_from_cache(&redis, &limits.tenant).await {
        Some(plan) => {
            let headers = limits.check(redis.clone(), &plan).await?;
            Some((plan, headers))
        }
        None => None,
    };
    let session_redis = redis.clone();
    let result = sba_pg::with_client(&call.env, DB_BINDING, DB_TIMEOUT, |mut client| async move {
        let tx = sba_rls::begin_as_service(&mut client).await.map_err(PgError::from)?;
        let (plan, headers) = match cached {
            Some(admitted) => admitted,
            None => {
                let plan = load_plan(&session_redis, &tx, &limits.tenant).await.map_err(PgError::from)?;
                let headers = limits.check(session_redis.clone(), &plan).await?;
                (plan, headers)
            }
        };
        charge(&tx, &limits.tenant, &plan, limits.now_ms).await?;
        tx.commit().await.map_err(PgError::from)?;
        Ok(headers)
    })
    .await;
    call.ctx.record_timing("limit", js_sys::Date::now() - limits.now_ms as f64);
    let admitted_then_failed = call.ctx.limit_decision() == Some("allowed") && result.as_ref().is_err_and(|e: &ApiError| e.status >= 500);
    if let (true, Some(per_minute)) = (admitted_then_failed, limits.checked_per_minute.get()) {
        let (config, tenant, ip, now_ms) = (limits.config.clone(), limits.tenant.clone(), limits.ip.clone(), limits.now_ms);
        call.ctx.wait_until(async move { refund(redis, &config, &tenant, per_minute, &ip, now_ms).await });
    }
    result
}

struct Limits {
    config: LimitConfig,
    ip: String,
    tenant: String,
    now_ms: u64,
    /// The plan's per-minute limit the check used (a refund must use the same policies).
    checked_per_minute: Cell<Option<u64>>,
    /// Learns the limiter's outcome (for the log line and metrics).
    ctx: Rc<RequestContext>,
}

impl Limits {
    /// The plan's per-minute window, the IP window and the burst bucket: one Redis round trip.
    async fn check(&self, redis: RedisRest, plan: &TenantPlan) -> Result<Admission, ApiError> {
        let per_minute = u64::try_from(plan.agent_requests_per_minute).unwrap_or(1);
        self.checked_per_minute.set(Some(per_minute));
        admit(redis, &self.config, &self.tenant, per_minute, &self.ip, self.now_ms, |outcome| self.ctx.set_limit_decision(outcome)).await
    }
}

/// Counts the run against the plan's period quota (402/429 when it is used up).
async fn charge(tx: &Transaction<'_>, tenant: &str, plan: &TenantPlan, now_ms: u64) -> Result<(), ApiError> {
    match charge_run(tx, tenant, i64::from(plan.agent_runs_per_period), plan.llm_tokens_per_period).await {
        Ok(()) => Ok(()),
        Err(e) => Err(e.into_api_error((now_ms / 1000) as i64).map_err(PgError::from)?),
    }
}
