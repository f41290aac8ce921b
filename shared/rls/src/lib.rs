//! Row-level security the Supabase way, from any `tokio-postgres` client.
//!
//! `begin_as_tenant` opens a transaction exactly as PostgREST does for an API request:
//! `set_config('request.jwt.claims', <claims>, true)` then `SET LOCAL ROLE authenticated`.
//! From then on every statement is filtered by the tables' RLS policies
//! (`supabase/migrations`), so tenant isolation holds even where application SQL forgets a
//! `where tenant_id = …`. Both settings are transaction-local, which is what a pooler
//! (Hyperdrive, Supavisor) needs: nothing leaks into the next request's session.
//!
//! Not for: connecting (`sba-pg`) or deciding who the tenant is (`sba-tenant`).

use serde_json::Value;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Error, Row, Transaction};

/// The role API requests run as; the migrations grant it only what the API needs.
pub const TENANT_ROLE: &str = "authenticated";

/// Opens a transaction bound to `claims` (the verified JWT payload). `tenant_id` is written
/// into `app_metadata.tenant_id` of the claims handed to Postgres, because the policies read
/// it there, whichever claim the token carried it in.
pub async fn begin_as_tenant<'c>(client: &'c mut Client, claims: &Value, tenant_id: &str) -> Result<Transaction<'c>, Error> {
    let tx = client.transaction().await?;
    let claims = claims_for_postgres(claims, tenant_id);
    tx.execute("select set_config('request.jwt.claims', $1, true)", &[&claims]).await?;
    // The role name is a constant identifier, not input.
    tx.batch_execute(&format!("set local role {TENANT_ROLE}")).await?;
    Ok(tx)
}

/// The role trusted server-side work (webhooks) runs as: RLS-exempt by design, and nothing
/// more (not the connection's superuser).
pub const SERVICE_ROLE: &str = "service_role";

/// Opens a transaction as `service_role`, for writes no tenant token stands behind (a
/// verified Stripe event). Claims are cleared so `auth.jwt()` is null inside.
pub async fn begin_as_service(client: &mut Client) -> Result<Transaction<'_>, Error> {
    let tx = client.transaction().await?;
    tx.batch_execute(&format!("select set_config('request.jwt.claims', '', true); set local role {SERVICE_ROLE}")).await?;
    Ok(tx)
}

/// One statement as `service_role` in a transaction of its own, sent as ONE pipeline: BEGIN
/// with the role, the statement (unprepared, its parameter types given), COMMIT. Postgres runs
/// them in order and the answers come back together: one round trip instead of four (or
/// seven with a prepared statement). A statement that fails aborts the transaction, and the
/// COMMIT behind it then rolls back.
///
/// Only ONE statement, on purpose: every message of a pipeline must be sent before the
/// COMMIT, and a second statement that waited for the first one's answer would be sent after
/// it, outside the transaction.
pub async fn one_statement_as_service(client: &Client, statement: &str, params: &[(&(dyn ToSql + Sync), Type)]) -> Result<Vec<Row>, Error> {
    let begin_sql = format!("begin; select set_config('request.jwt.claims', '', true); set local role {SERVICE_ROLE}");
    let begin = client.batch_execute(&begin_sql);
    let work = client.query_typed(statement, params);
    let commit = client.batch_execute("commit");
    // join3 polls them in this order, and each sends its messages on its first poll.
    let (began, rows, committed) = futures_util::future::join3(begin, work, commit).await;
    began?;
    let rows = rows?;
    committed?;
    Ok(rows)
}

/// The claims as Postgres sees them: the verified payload with the resolved tenant placed
/// where the policies look for it.
pub fn claims_for_postgres(claims: &Value, tenant_id: &str) -> String {
    let mut claims = match claims {
        Value::Object(map) => Value::Object(map.clone()),
        _ => Value::Object(Default::default()),
    };
    let app_metadata = claims
        .as_object_mut()
        .map(|c| c.entry("app_metadata").or_insert_with(|| Value::Object(Default::default())));
    if let Some(app_metadata) = app_metadata {
        if !app_metadata.is_object() {
            *app_metadata = Value::Object(Default::default());
        }
        app_metadata["tenant_id"] = Value::String(tenant_id.to_owned());
    }
    claims.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_resolved_tenant_lands_in_app_metadata() {
        let claims = json!({"sub": "u", "org": "t-7", "app_metadata": {"provider": "email"}});
        let pg: Value = serde_json::from_str(&claims_for_postgres(&claims, "t-7")).unwrap();
        assert_eq!(pg["app_metadata"], json!({"provider": "email", "tenant_id": "t-7"}));
        assert_eq!(pg["sub"], "u");
    }

    #[test]
    fn a_missing_or_odd_app_metadata_is_replaced() {
        for claims in [json!({"sub": "u"}), json!({"sub": "u", "app_metadata": "x"}), json!(null)] {
            let pg: Value = serde_json::from_str(&claims_for_postgres(&claims, "t")).unwrap();
            assert_eq!(pg["app_metadata"]["tenant_id"], "t");
        }
    }
}
