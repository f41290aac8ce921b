use serde::Serialize;

/// Redis key under which the limited agent caches a tenant's plan; webhooks delete it when
/// billing changes so new limits apply at once.
pub fn cache_key(tenant: &str) -> String {
    format!("sba:plan:{tenant}")
}

/// Redis pub/sub channel of a tenant's billing changes (`{tenant, plan, status}` messages).
pub fn billing_channel(tenant: &str) -> String {
    format!("sba:billing:{tenant}")
}
use tokio_postgres::{Error, GenericClient};

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
}

pub async fn plan_for_tenant<C: GenericClient>(client: &C, tenant: &str) -> Result<TenantPlan, Error> {
    let row = client
        .query_opt(
            "select plan, status, delinquent, agent_requests_per_minute, agent_runs_per_period, llm_tokens_per_period, kb_documents
             from tenant_plans where tenant_id = $1",
            &[&tenant],
        )
        .await?;
    if let Some(r) = row {
        return Ok(TenantPlan {
            tenant: tenant.to_owned(),
            plan: r.get(0),
            status: r.get(1),
            delinquent: r.get(2),
            agent_requests_per_minute: r.get(3),
            agent_runs_per_period: r.get(4),
            llm_tokens_per_period: r.get(5),
            kb_documents: r.get(6),
        });
    }
    let free = client
        .query_one(
            "select agent_requests_per_minute, agent_runs_per_period, llm_tokens_per_period, kb_documents from plans where lookup_key = 'free'",
            &[],
        )
        .await?;
    Ok(TenantPlan {
        tenant: tenant.to_owned(),
        plan: "free".into(),
        status: "none".into(),
        delinquent: false,
        agent_requests_per_minute: free.get(0),
        agent_runs_per_period: free.get(1),
        llm_tokens_per_period: free.get(2),
        kb_documents: free.get(3),
    })
}
