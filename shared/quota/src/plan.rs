use sba_billing::plans::{cache_key, from_cache, to_cache, CACHE_TTL_SECS};
use sba_billing::{plan_for_tenant, TenantPlan};
use sba_redis::{Cmd, RedisRest};
use tokio_postgres::GenericClient;

/// The tenant's plan: from the Redis cache, else from Postgres (then cached). A Redis
/// failure falls back to Postgres rather than failing the request.
pub async fn cached_plan<C: GenericClient>(
    redis: &RedisRest,
    db: &C,
    tenant: &str,
) -> Result<TenantPlan, tokio_postgres::Error> {
    match plan_from_cache(redis, tenant).await {
        Some(plan) => Ok(plan),
        None => load_plan(redis, db, tenant).await,
    }
}

/// The tenant's plan from the Redis cache alone (one round trip, no database): `None` on a
/// miss, an unreadable entry or a Redis failure.
pub async fn plan_from_cache(redis: &RedisRest, tenant: &str) -> Option<TenantPlan> {
    let value = redis.run(&Cmd::new("GET").arg(cache_key(tenant))).await.ok()?;
    value.as_str().and_then(|text| from_cache(tenant, text))
}

/// The tenant's plan from Postgres, then cached for a minute (a failed cache write only
/// costs the next request a query).
pub async fn load_plan<C: GenericClient>(
    redis: &RedisRest,
    db: &C,
    tenant: &str,
) -> Result<TenantPlan, tokio_postgres::Error> {
    let plan = plan_for_tenant(db, tenant).await?;
    let _ = redis.run(&cache_plan(&plan)).await;
    Ok(plan)
}

/// The command that caches `plan` (the Stripe webhook sends it when billing changes).
pub fn cache_plan(plan: &TenantPlan) -> Cmd {
    Cmd::new("SET").arg(cache_key(&plan.tenant)).arg(to_cache(plan)).arg("EX").arg(CACHE_TTL_SECS.to_string())
}
