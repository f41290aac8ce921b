//! `one_statement_as_service` against the real Postgres of the local stack: the statement
//! runs as service_role inside its own transaction, a failure leaves nothing behind, and the
//! connection is clean afterwards (no transaction left open).

use sba_rls::one_statement_as_service;
use sba_testkit::{postgres, unique};
use tokio_postgres::types::Type;

#[tokio::test]
async fn runs_as_service_role_in_a_transaction_of_its_own() {
    let client = postgres().await;
    let rows = one_statement_as_service(&client, "select current_user::text, now() = statement_timestamp()", &[]).await.unwrap();
    assert_eq!(rows[0].get::<_, String>(0), "service_role");
    // After COMMIT the session is back to its own role, outside any transaction.
    let row = client.query_one("select current_user::text", &[]).await.unwrap();
    assert_ne!(row.get::<_, String>(0), "service_role");
}

#[tokio::test]
async fn a_failing_statement_rolls_back_and_leaves_the_connection_usable() {
    let client = postgres().await;
    let tenant = unique("pipe");
    let insert = "insert into usage_periods (tenant_id, period_start, period_end, invoice_id)
                  values ($1, now(), now() + interval '1 day', $1 || ':a'), ($1, now(), now() + interval '1 day', $1 || ':b')";
    // The same primary key twice: the statement fails as a whole.
    let error = one_statement_as_service(&client, insert, &[(&tenant, Type::TEXT)]).await.unwrap_err();
    assert_eq!(error.code().map(|c| c.code()), Some("23505"), "{error}");
    let n: i64 = client.query_one("select count(*) from usage_periods where tenant_id = $1", &[&tenant]).await.unwrap().get(0);
    assert_eq!(n, 0);
    let ok = "insert into usage_periods (tenant_id, period_start, period_end, invoice_id) values ($1, now(), now() + interval '1 day', $1) returning tenant_id";
    let rows = one_statement_as_service(&client, ok, &[(&tenant, Type::TEXT)]).await.unwrap();
    assert_eq!(rows.len(), 1);
    let n: i64 = client.query_one("select count(*) from usage_periods where tenant_id = $1", &[&tenant]).await.unwrap().get(0);
    assert_eq!(n, 1, "committed");
}
