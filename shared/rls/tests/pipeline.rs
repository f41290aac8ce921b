//! `one_statement` against the real Postgres of the local stack: the statement
//! runs as service_role inside its own transaction, a failure leaves nothing behind, and the
//! connection is clean afterwards (no transaction left open).

use sba_rls::{in_one_round_trip, one_statement, Actor, Statement};
use sba_testkit::{postgres, unique};
use tokio_postgres::types::Type;

#[tokio::test]
async fn runs_as_service_role_in_a_transaction_of_its_own() {
    if sba_testkit::without_stack() {
        return;
    }
    let client = postgres().await;
    let rows = one_statement(&client, &Actor::Service, "select current_user::text, now() = statement_timestamp()", &[])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, String>(0), "service_role");
    // After COMMIT the session is back to its own role, outside any transaction.
    let row = client.query_one("select current_user::text", &[]).await.unwrap();
    assert_ne!(row.get::<_, String>(0), "service_role");
}

#[tokio::test]
async fn a_failing_statement_rolls_back_and_leaves_the_connection_usable() {
    if sba_testkit::without_stack() {
        return;
    }
    let client = postgres().await;
    let tenant = unique("pipe");
    let insert = "insert into usage_periods (tenant_id, period_start, period_end, invoice_id)
                  values ($1, now(), now() + interval '1 day', $1 || ':a'), ($1, now(), now() + interval '1 day', $1 || ':b')";
    // The same primary key twice: the statement fails as a whole.
    let error = one_statement(&client, &Actor::Service, insert, &[(&tenant, Type::TEXT)]).await.unwrap_err();
    assert_eq!(error.code().map(|c| c.code()), Some("23505"), "{error}");
    let n: i64 =
        client.query_one("select count(*) from usage_periods where tenant_id = $1", &[&tenant]).await.unwrap().get(0);
    assert_eq!(n, 0);
    let ok = "insert into usage_periods (tenant_id, period_start, period_end, invoice_id) values ($1, now(), now() + interval '1 day', $1) returning tenant_id";
    let rows = one_statement(&client, &Actor::Service, ok, &[(&tenant, Type::TEXT)]).await.unwrap();
    assert_eq!(rows.len(), 1);
    let n: i64 =
        client.query_one("select count(*) from usage_periods where tenant_id = $1", &[&tenant]).await.unwrap().get(0);
    assert_eq!(n, 1, "committed");
}

#[tokio::test]
async fn several_statements_share_one_tenant_transaction_under_rls() {
    if sba_testkit::without_stack() {
        return;
    }
    let client = postgres().await;
    let (a, b) = (unique("pipe-a"), unique("pipe-b"));
    let claims = serde_json::json!({"sub": "u"});
    let insert = "insert into kb_documents (title, content, content_type, content_sha256) values ('t', 'x', 'text', repeat('a', 64)) returning tenant_id";
    let count = "select count(*) from kb_documents";
    let role = "select current_user::text";
    let rows = in_one_round_trip(
        &client,
        &Actor::Tenant { claims: &claims, tenant_id: &a },
        &[
            Statement { sql: insert, params: &[] },
            Statement { sql: count, params: &[] },
            Statement { sql: role, params: &[] },
        ],
    )
    .await
    .unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0][0].get::<_, String>(0), a, "tenant_id defaults from the claims");
    assert_eq!(rows[1][0].get::<_, i64>(0), 1, "the second statement sees the first one's row and only this tenant's");
    assert_eq!(rows[2][0].get::<_, String>(0), "authenticated");
    let other = one_statement(&client, &Actor::Tenant { claims: &claims, tenant_id: &b }, count, &[]).await.unwrap();
    assert_eq!(other[0].get::<_, i64>(0), 0, "another tenant sees none of it");
}
