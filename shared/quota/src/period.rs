use sba_errors::ApiError;
use serde_json::json;
use tokio_postgres::{Error, Transaction};

/// Why a run may not start.
#[derive(Debug)]
pub enum QuotaError {
    Exceeded { quota: &'static str, limit: i64, reset_epoch_secs: i64 },
    Db(Error),
}

impl From<Error> for QuotaError {
    fn from(e: Error) -> Self {
        Self::Db(e)
    }
}

impl QuotaError {
    /// 429 `quota_exceeded` naming the quota and when it resets.
    pub fn into_api_error(self, now_secs: i64) -> Result<ApiError, Error> {
        match self {
            Self::Db(e) => Err(e),
            Self::Exceeded { quota, limit, reset_epoch_secs } => Ok(ApiError::new(
                429,
                "quota_exceeded",
                format!("the {quota} quota of this billing period ({limit}) is used up"),
            )
            .with_header("Retry-After", (reset_epoch_secs - now_secs).max(1).to_string())
            .with_details(json!({ "quota": quota, "limit": limit, "resetAt": reset_epoch_secs }))),
        }
    }
}

/// Charges one run to the tenant's current period (a calendar month when Stripe has not
/// started one), refusing when runs or tokens are used up. Runs as `service_role` in `tx`.
pub async fn charge_run(tx: &Transaction<'_>, tenant: &str, runs_limit: i64, tokens_limit: i64) -> Result<(), QuotaError> {
    ensure_period(tx, tenant).await?;
    let row = tx
        .query_one(
            "select period_start, extract(epoch from period_end)::bigint, agent_runs, llm_tokens from usage_periods
             where tenant_id = $1 and period_start <= now() and now() < period_end
             order by period_start desc limit 1 for update",
            &[&tenant],
        )
        .await?;
    let (reset, runs, tokens): (i64, i32, i64) = (row.get(1), row.get(2), row.get(3));
    if i64::from(runs) >= runs_limit {
        return Err(QuotaError::Exceeded { quota: "agentRuns", limit: runs_limit, reset_epoch_secs: reset });
    }
    if tokens >= tokens_limit {
        return Err(QuotaError::Exceeded { quota: "llmTokens", limit: tokens_limit, reset_epoch_secs: reset });
    }
    let start: std::time::SystemTime = row.get(0);
    tx.execute("update usage_periods set agent_runs = agent_runs + 1 where tenant_id = $1 and period_start = $2", &[&tenant, &start])
        .await?;
    Ok(())
}

/// Adds a finished run's LLM tokens to the current period.
pub async fn record_tokens(tx: &Transaction<'_>, tenant: &str, tokens: i64) -> Result<(), Error> {
    ensure_period(tx, tenant).await?;
    tx.execute(
        "update usage_periods set llm_tokens = llm_tokens + $2
         where tenant_id = $1 and period_start <= now() and now() < period_end",
        &[&tenant, &tokens],
    )
    .await?;
    Ok(())
}

async fn ensure_period(tx: &Transaction<'_>, tenant: &str) -> Result<(), Error> {
    tx.execute(
        "insert into usage_periods (tenant_id, period_start, period_end, invoice_id)
         select $1, date_trunc('month', now()), date_trunc('month', now()) + interval '1 month',
                'calendar:' || $1 || ':' || to_char(now(), 'YYYY-MM')
         where not exists (select 1 from usage_periods where tenant_id = $1 and period_start <= now() and now() < period_end)
         on conflict do nothing",
        &[&tenant],
    )
    .await?;
    Ok(())
}
