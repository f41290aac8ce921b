use sba_errors::ApiError;
use serde_json::json;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Error, Row, Transaction};

/// Why a run may not start.
#[derive(Debug)]
pub enum QuotaError {
    Exceeded {
        quota: &'static str,
        limit: i64,
        reset_epoch_secs: i64,
    },
    Db(Error),
    /// The charge statement answered no row (a schema older than its migration).
    NoAnswer,
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
            Self::NoAnswer => Ok(ApiError::internal("charge_agent_run answered no row")),
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
/// started one), refusing when runs or tokens are used up: ONE statement, the SQL function
/// `charge_agent_run` doing start-period, lock, check and count server-side. Runs as
/// `service_role`; see [`charge_run`] in a transaction, or send [`CHARGE_RUN`] with
/// [`charge_params`] through `sba_rls::one_statement` for one round trip in all.
pub async fn charge_run(
    tx: &Transaction<'_>,
    tenant: &str,
    runs_limit: i64,
    tokens_limit: i64,
) -> Result<(), QuotaError> {
    let rows = tx.query_typed(CHARGE_RUN, &charge_params(&tenant, &runs_limit, &tokens_limit)).await?;
    charged(&rows)
}

/// The charge statement (parameters: tenant, runs limit, tokens limit).
pub const CHARGE_RUN: &str =
    "select refused_quota, quota_limit, period_end_epoch from public.charge_agent_run($1, $2, $3)";

/// [`CHARGE_RUN`]'s parameters with their types (unprepared statements need them).
pub fn charge_params<'a>(
    tenant: &'a &str,
    runs_limit: &'a i64,
    tokens_limit: &'a i64,
) -> [(&'a (dyn ToSql + Sync), Type); 3] {
    [(tenant, Type::TEXT), (runs_limit, Type::INT8), (tokens_limit, Type::INT8)]
}

/// What [`CHARGE_RUN`] answered: charged, or the quota that refused.
pub fn charged(rows: &[Row]) -> Result<(), QuotaError> {
    let row = rows.first().ok_or(QuotaError::NoAnswer)?;
    match row.get::<_, Option<String>>(0) {
        None => Ok(()),
        Some(quota) => Err(QuotaError::Exceeded {
            quota: if quota == "llmTokens" { "llmTokens" } else { "agentRuns" },
            limit: row.get::<_, Option<i64>>(1).unwrap_or_default(),
            reset_epoch_secs: row.get(2),
        }),
    }
}

/// Adds a finished run's LLM tokens to the current period (starting it when missing): the
/// SQL function `record_llm_tokens`, one statement (parameters: [`tokens_params`]), run as
/// `service_role`.
pub const RECORD_TOKENS: &str = "select public.record_llm_tokens($1, $2)";

pub fn tokens_params<'a>(tenant: &'a &str, tokens: &'a i64) -> [(&'a (dyn ToSql + Sync), Type); 2] {
    [(tenant, Type::TEXT), (tokens, Type::INT8)]
}

/// [`RECORD_TOKENS`] in the caller's transaction.
pub async fn record_tokens(tx: &Transaction<'_>, tenant: &str, tokens: i64) -> Result<(), Error> {
    tx.query_typed(RECORD_TOKENS, &tokens_params(&tenant, &tokens)).await?;
    Ok(())
}
