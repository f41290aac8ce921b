//! One database transaction as the request's tenant (RLS), optionally guarded by an
//! `Idempotency-Key`: claim, work and the stored response commit together or not at all.

use futures_util::future::LocalBoxFuture;
use sba_config::DB_BINDING;
use sba_extract::sba_tenant::TenantContext;
use sba_http::ApiError;
use sba_kb::idempotency::{self, Claim};
use sba_pg::tokio_postgres::Transaction;
use sba_pg::PgError;
use serde_json::Value;
use std::time::Duration;
use worker::Env;

const DB_TIMEOUT: Duration = Duration::from_secs(10);

/// `(status, body)` of a handler's answer, as stored for idempotent replays.
pub type Answer = (u16, Value);

pub struct Idempotency<'a> {
    pub scope: &'static str,
    pub key: String,
    pub request_body: &'a [u8],
}

pub async fn run<F>(env: &Env, tenant: &TenantContext, idempotency: Option<Idempotency<'_>>, work: F) -> Result<Answer, ApiError>
where
    F: for<'t, 'c> FnOnce(&'t Transaction<'c>) -> LocalBoxFuture<'t, Result<Answer, ApiError>> + 'static,
{
    let claims = tenant.claims.clone();
    let tenant_id = tenant.tenant_id.clone();
    let guard = idempotency.map(|i| (i.scope, i.key, idempotency::request_hash(i.request_body)));
    sba_pg::with_client(env, DB_BINDING, DB_TIMEOUT, |mut client| async move {
        let tx = sba_rls::begin_as_tenant(&mut client, &claims, &tenant_id).await.map_err(PgError::from)?;
        if let Some((scope, key, hash)) = &guard {
            match idempotency::claim(&tx, scope, key, hash).await.map_err(PgError::from)? {
                Claim::Fresh => {}
                Claim::Replay { status, body } => {
                    tx.rollback().await.map_err(PgError::from)?;
                    return Ok((status, body));
                }
                Claim::Reused => {
                    return Err(ApiError::unprocessable(
                        "idempotency_key_reused",
                        "this Idempotency-Key was used with a different request body",
                    ))
                }
            }
        }
        let answer = work(&tx).await?;
        if let Some((scope, key, _)) = &guard {
            idempotency::record(&tx, scope, key, answer.0, &answer.1).await.map_err(PgError::from)?;
        }
        tx.commit().await.map_err(PgError::from)?;
        Ok(answer)
    })
    .await
}
