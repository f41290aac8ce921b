//! Each kb route is ONE statement run as the request's tenant (RLS): sent with its BEGIN,
//! claims, role and COMMIT as one pipeline, so a route costs one round trip to Postgres.

use sba_config::DB_BINDING;
use sba_extract::sba_tenant::TenantContext;
use sba_http::{ApiError, Call};
use sba_pg::tokio_postgres::types::{ToSql, Type};
use sba_pg::tokio_postgres::Row;
use sba_pg::PgError;
use sba_rls::Actor;
use std::time::Duration;

const DB_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn statement(call: &Call, tenant: &TenantContext, sql: &str, params: &[(&(dyn ToSql + Sync), Type)]) -> Result<Vec<Row>, ApiError> {
    let started = js_sys::Date::now();
    let actor = Actor::Tenant { claims: &tenant.claims, tenant_id: &tenant.tenant_id };
    let rows = sba_pg::with_client(&call.env, DB_BINDING, DB_TIMEOUT, |client| async move {
        sba_rls::one_statement(&client, &actor, sql, params).await.map_err(PgError::from)
    })
    .await;
    call.ctx.record_timing("db", js_sys::Date::now() - started);
    Ok(rows?)
}
