//! Each kb route is ONE statement run as the request's tenant (RLS): sent with its BEGIN,
//! claims, role and COMMIT as one pipeline, so a route costs one round trip to Postgres.

use sba_extract::sba_tenant::TenantContext;
use sba_http::{ApiError, Call};
use sba_pg::tokio_postgres::types::{ToSql, Type};
use sba_pg::tokio_postgres::Row;
use sba_pg::PgError;
use sba_rls::Actor;

pub async fn statement(
    call: &Call,
    tenant: &TenantContext,
    sql: &str,
    params: &[(&(dyn ToSql + Sync), Type)],
) -> Result<Vec<Row>, ApiError> {
    let started = js_sys::Date::now();
    let actor = Actor::Tenant { claims: &tenant.claims, tenant_id: &tenant.tenant_id };
    let rows = sba_config::statement(&call.env, &actor, sql, params).await;
    call.ctx.record_timing("db", js_sys::Date::now() - started);
    rows.map_err(quota_or_store_error)
}

/// SQLSTATE `SBQ01`: the plan's document quota refused the write (`kb_ingest`); its detail
/// is the limit.
fn quota_or_store_error(e: PgError) -> ApiError {
    if let PgError::Query(q) = &e {
        if let Some(db) = q.as_db_error().filter(|db| db.code().code() == "SBQ01") {
            let limit: i64 = db.detail().and_then(|d| d.parse().ok()).unwrap_or_default();
            return ApiError::new(
                429,
                "quota_exceeded",
                format!("the kbDocuments quota of this plan ({limit}) is used up; nothing was stored"),
            )
            .with_details(serde_json::json!({ "quota": "kbDocuments", "limit": limit }));
        }
    }
    e.into()
}
