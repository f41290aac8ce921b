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

use futures_util::future::{join_all, BoxFuture};
use futures_util::TryFutureExt;
use serde_json::Value;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Error, Row, Transaction};

/// The role API requests run as; the migrations grant it only what the API needs.
pub const TENANT_ROLE: &str = "authenticated";

/// Opens a transaction bound to `claims` (the verified JWT payload). `tenant_id` is written
/// into `app_metadata.tenant_id` of the claims handed to Postgres, because the policies read
/// it there, whichever claim the token carried it in.
pub async fn begin_as_tenant<'c>(
    client: &'c mut Client,
    claims: &Value,
    tenant_id: &str,
) -> Result<Transaction<'c>, Error> {
    let tx = client.transaction().await?;
    let claims = claims_for_postgres(claims, tenant_id);
    tx.query_typed("select set_config('request.jwt.claims', $1, true)", &[(&claims, Type::TEXT)]).await?;
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
    tx.batch_execute(&format!("select set_config('request.jwt.claims', '', true); set local role {SERVICE_ROLE}"))
        .await?;
    Ok(tx)
}

/// Who a transaction's statements run as.
pub enum Actor<'a> {
    /// The request's tenant under row-level security, with the verified claims (see
    /// [`begin_as_tenant`]).
    Tenant { claims: &'a Value, tenant_id: &'a str },
    /// `service_role` with no claims (see [`begin_as_service`]).
    Service,
}

/// One unprepared statement: its SQL and its parameters with their types.
pub struct Statement<'a> {
    pub sql: &'a str,
    pub params: &'a [(&'a (dyn ToSql + Sync), Type)],
}

/// Statements as `actor` in a transaction of their own, sent as ONE pipeline: BEGIN with the
/// claims and the role, each statement (unprepared, its parameter types given), COMMIT.
/// Postgres runs them in order and the answers come back together: one round trip, where a
/// transaction driven from here costs one per statement (two with prepared statements) plus
/// three for BEGIN, the claims and the role. Unnamed statements are also what a
/// transaction-mode pooler (Hyperdrive, PgBouncer) needs: nothing outlives the transaction.
///
/// Answers each statement's rows, in order. The first statement that fails aborts the
/// transaction (the COMMIT behind it then rolls back) and is the error returned.
///
/// No statement can use another's answer in Rust: every message is sent before the COMMIT,
/// so a statement that waited for an earlier one's rows would be sent after it, outside the
/// transaction. Work whose steps depend on each other is one statement (a CTE or an SQL
/// function, as `supabase/migrations` does for the writes).
pub async fn in_one_round_trip(
    client: &Client,
    actor: &Actor<'_>,
    statements: &[Statement<'_>],
) -> Result<Vec<Vec<Row>>, Error> {
    let claims = match actor {
        Actor::Tenant { claims, tenant_id } => claims_for_postgres(claims, tenant_id),
        Actor::Service => String::new(),
    };
    let claims_param: [(&(dyn ToSql + Sync), Type); 1] = [(&claims, Type::TEXT)];
    let service_begin =
        format!("begin; select set_config('request.jwt.claims', '', true); set local role {SERVICE_ROLE}");
    let tenant_role = format!("set local role {TENANT_ROLE}");
    let mut steps: Vec<BoxFuture<'_, Result<Option<Vec<Row>>, Error>>> = Vec::with_capacity(statements.len() + 4);
    match actor {
        Actor::Tenant { .. } => {
            steps.push(Box::pin(client.batch_execute("begin").map_ok(|_| None)));
            steps.push(Box::pin(
                client.query_typed("select set_config('request.jwt.claims', $1, true)", &claims_param).map_ok(|_| None),
            ));
            steps.push(Box::pin(client.batch_execute(&tenant_role).map_ok(|_| None)));
        }
        Actor::Service => steps.push(Box::pin(client.batch_execute(&service_begin).map_ok(|_| None))),
    }
    for statement in statements {
        steps.push(Box::pin(client.query_typed(statement.sql, statement.params).map_ok(Some)));
    }
    steps.push(Box::pin(client.batch_execute("commit").map_ok(|_| None)));
    // join_all polls them in this order, and each sends its messages on its first poll.
    let answers = join_all(steps).await;
    let mut rows = Vec::with_capacity(statements.len());
    for answer in answers {
        if let Some(statement_rows) = answer? {
            rows.push(statement_rows);
        }
    }
    Ok(rows)
}

/// One statement as `actor` in a transaction of its own, in one round trip (see
/// [`in_one_round_trip`]).
pub async fn one_statement(
    client: &Client,
    actor: &Actor<'_>,
    sql: &str,
    params: &[(&(dyn ToSql + Sync), Type)],
) -> Result<Vec<Row>, Error> {
    let mut rows = in_one_round_trip(client, actor, &[Statement { sql, params }]).await?;
    Ok(rows.pop().unwrap_or_default())
}

/// The claims as Postgres sees them: the verified payload with the resolved tenant placed
/// where the policies look for it.
pub fn claims_for_postgres(claims: &Value, tenant_id: &str) -> String {
    let mut claims = match claims {
        Value::Object(map) => Value::Object(map.clone()),
        _ => Value::Object(Default::default()),
    };
    let app_metadata =
        claims.as_object_mut().map(|c| c.entry("app_metadata").or_insert_with(|| Value::Object(Default::default())));
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
