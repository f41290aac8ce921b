//! Against the real Postgres of the local stack (scripts/test exports SBA_POSTGRES_URL and
//! has applied the migrations): a transaction opened for tenant A sees none of tenant B's
//! rows and cannot write rows for B, whatever the SQL says.

use sba_rls::begin_as_tenant;
use sba_testkit::{postgres, unique};
use serde_json::json;

#[tokio::test]
async fn a_tenant_transaction_sees_and_writes_only_its_own_rows() {
    if sba_testkit::without_stack() {
        return;
    }
    let mut client = postgres().await;
    let (a, b) = (unique("ta"), unique("tb"));
    for tenant in [&a, &b] {
        let tx = begin_as_tenant(&mut client, &json!({"sub": "u", "role": "authenticated"}), tenant).await.unwrap();
        tx.execute(
            "insert into kb_documents (title, content, content_type, content_sha256) values ('doc', 'body', 'text', repeat('0', 64))",
            &[],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }

    let tx = begin_as_tenant(&mut client, &json!({"sub": "u"}), &a).await.unwrap();
    // No tenant filter in the SQL: RLS alone must hide B.
    let rows = tx.query("select tenant_id from kb_documents where tenant_id in ($1, $2)", &[&a, &b]).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, String>(0), a);
    let updated = tx.execute("update kb_documents set title = 'pwned' where tenant_id = $1", &[&b]).await.unwrap();
    assert_eq!(updated, 0, "B's rows are invisible to updates");
    let deleted = tx.execute("delete from kb_documents where tenant_id = $1", &[&b]).await.unwrap();
    assert_eq!(deleted, 0);
    let forged = tx
        .execute(
            "insert into kb_documents (tenant_id, title, content, content_type, content_sha256) values ($1, 'x', 'x', 'text', repeat('0', 64))",
            &[&b],
        )
        .await;
    assert!(forged.is_err(), "inserting a row for another tenant violates the policy");
    drop(tx);

    // The settings were transaction-local: the session is back to its own role.
    let role: String = client.query_one("select current_user::text", &[]).await.unwrap().get(0);
    assert_ne!(role, "authenticated");
}
