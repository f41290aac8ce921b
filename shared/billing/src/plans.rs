use serde::{Deserialize, Serialize};

/// Redis key under which admission caches a tenant's plan; the Stripe webhook writes the new
/// plan there when billing changes, so new limits apply at once without a database read.
pub fn cache_key(tenant: &str) -> String {
    format!("sba:plan:{tenant}")
}

/// How long a cached plan is trusted (a missed webhook write heals within this).
pub const CACHE_TTL_SECS: u64 = 60;

/// The cached form of a plan (the tenant is in the key).
pub fn to_cache(plan: &TenantPlan) -> String {
    serde_json::to_string(&CachedPlan::from(plan)).unwrap_or_default()
}

/// A plan read back from [`to_cache`]'s text; `None` when unreadable.
pub fn from_cache(tenant: &str, text: &str) -> Option<TenantPlan> {
    serde_json::from_str::<CachedPlan>(text).ok().map(|plan| plan.into_plan(tenant))
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CachedPlan {
    plan: String,
    status: String,
    delinquent: bool,
    agent_requests_per_minute: i32,
    agent_runs_per_period: i32,
    llm_tokens_per_period: i64,
    kb_documents: i32,
    #[serde(default)]
    payment_required: Option<String>,
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
            payment_required: p.payment_required.clone(),
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
            payment_required: self.payment_required,
        }
    }
}

/// Redis pub/sub channel of a tenant's billing changes (`{tenant, plan, status}` messages).
pub fn billing_channel(tenant: &str) -> String {
    format!("sba:billing:{tenant}")
}
use tokio_postgres::types::{Json, Type};
use tokio_postgres::{Error, GenericClient, Row};

/// A tenant's plan and limits right now (the `tenant_plans` view; `free` when unknown).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantPlan {
    pub tenant: String,
    pub plan: String,
    pub status: String,
    pub delinquent: bool,
    pub agent_requests_per_minute: i32,
    pub agent_runs_per_period: i32,
    pub llm_tokens_per_period: i64,
    pub kb_documents: i32,
    /// Why runs are refused with 402 (the grace rule is `plan_of_tenant`'s), or `None`.
    pub payment_required: Option<String>,
}

/// The statement that answers a tenant's plan as the JSON [`from_cache`] reads (parameter:
/// the tenant): the SQL function `plan_of_tenant`, the free plan when the tenant has no
/// billing yet. One unprepared statement, one round trip.
pub const PLAN_OF_TENANT: &str = "select public.plan_of_tenant($1)";

/// A tenant's plan and limits right now (see [`PLAN_OF_TENANT`]).
pub async fn plan_for_tenant<C: GenericClient>(client: &C, tenant: &str) -> Result<TenantPlan, Error> {
    let row = client.query_typed_one(PLAN_OF_TENANT, &[(&tenant, Type::TEXT)]).await?;
    plan_from_row(tenant, &row)
}

/// The plan in a row whose first column is [`PLAN_OF_TENANT`]'s answer (a JSON object in the
/// cached shape; anything else is a conversion error).
pub fn plan_from_row(tenant: &str, row: &Row) -> Result<TenantPlan, Error> {
    let Json(plan) = row.try_get::<_, Json<CachedPlan>>(0)?;
    Ok(plan.into_plan(tenant))
}
