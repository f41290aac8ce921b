use sba_billing::{plan_for_tenant, TenantPlan};
use sba_redis::{Cmd, RedisRest};
use tokio_postgres::GenericClient;

const CACHE_TTL_SECS: u64 = 60;

/// The tenant's plan: from the Redis cache, else from Postgres (then cached). A Redis
/// failure falls back to Postgres rather than failing the request.
pub async fn cached_plan<C: GenericClient>(redis: &RedisRest, db: &C, tenant: &str) -> Result<TenantPlan, tokio_postgres::Error> {
    match plan_from_cache(redis, tenant).await {
        Some(plan) => Ok(plan),
        None => load_plan(redis, db, tenant).await,
    }
}

/// The tenant's plan from the Redis cache alone (one round trip, no database): `None` on a
/// miss, an unreadable entry or a Redis failure.
pub async fn plan_from_cache(redis: &RedisRest, tenant: &str) -> Option<TenantPlan> {
    let key = sba_billing::plans::cache_key(tenant);
    let value = redis.run(&Cmd::new("GET").arg(&key)).await.ok()?;
    value.as_str().and_then(|s| serde_json::from_str::<CachedPlan>(s).ok()).map(|plan| plan.into_plan(tenant))
}

/// The tenant's plan from Postgres, then cached for a minute (a failed cache write only
/// costs the next request a query).
pub async fn load_plan<C: GenericClient>(redis: &RedisRest, db: &C, tenant: &str) -> Result<TenantPlan, tokio_postgres::Error> {
    let plan = plan_for_tenant(db, tenant).await?;
    let text = serde_json::to_string(&CachedPlan::from(&plan)).unwrap_or_default();
    let key = sba_billing::plans::cache_key(tenant);
    let _ = redis.run(&Cmd::new("SET").arg(&key).arg(text).arg("EX").arg(CACHE_TTL_SECS.to_string())).await;
    Ok(plan)
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct CachedPlan {
    plan: String,
    status: String,
    delinquent: bool,
    agent_requests_per_minute: i32,
    agent_runs_per_period: i32,
    llm_tokens_per_period: i64,
    kb_documents: i32,
}

impl From<&TenantPlan> for CachedPlan {
    fn from(p: &TenantPlan) -> Self {
        Self {
            plan: p.plan.clone(),
            status: p.status.clone(),
            delinquent: p.delinquent,
            agent_requests_per_minute: p.agent_requests_per_minute,
            agent_runs_per_period: p.agent_runs_per_period,
            llm_tokens_per_period: p.llm_tokens_per_period,
            kb_documents: p.kb_documents,
        }
    }
}

impl CachedPlan {
    fn into_plan(self, tenant: &str) -> TenantPlan {
        TenantPlan {
            tenant: tenant.to_owned(),
            plan: self.plan,
            status: self.status,
            delinquent: self.delinquent,
            agent_requests_per_minute: self.agent_requests_per_minute,
            agent_runs_per_period: self.agent_runs_per_period,
            llm_tokens_per_period: self.llm_tokens_per_period,
            kb_documents: self.kb_documents,
        }
    }
}
