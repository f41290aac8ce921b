//! The tools against the real Postgres of the local stack (scripts/test exports
//! SBA_POSTGRES_URL after applying the migrations), through tenant transactions.

use sba_agent_tools::{call, ToolContext, ToolResult};
use sba_kb::{prepare, store, NewDocument};
use sba_rls::begin_as_tenant;
use sba_testkit::{postgres, unique};
use serde_json::{json, Value};
use tokio_postgres::Client;

fn tenant() -> String {
    unique("tools")
}

fn ctx(tenant_id: &str) -> ToolContext {
    ToolContext { tenant_id: tenant_id.to_owned(), subject: "user-1".to_owned(), run_id: "run-1".to_owned() }
}

fn content(result: &ToolResult) -> Value {
    serde_json::from_str(&result.content).expect("content is JSON")
}

async fn ingest(client: &mut Client, tenant_id: &str, title: &str, text: &str) -> String {
    let doc: NewDocument =
        serde_json::from_value(json!({"title": title, "content": text, "contentType": "markdown"})).unwrap();
    let tx = begin_as_tenant(client, &json!({"sub": "user-1"}), tenant_id).await.unwrap();
    let stored = store::ingest(&tx, &doc, &prepare(&doc)).await.unwrap();
    tx.commit().await.unwrap();
    stored.id.to_string()
}

const GUIDE: &str =
    "# Guide\n\nWelcome to the assistant.\n\n## Billing\n\nInvoices are emailed monthly to the account owner.";

#[tokio::test]
async fn search_then_get_a_document_only_within_the_tenant() {
    if sba_testkit::without_stack() {
        return;
    }
    let mut client = postgres().await;
    let (a, b) = (tenant(), tenant());
    let id = ingest(&mut client, &a, "Guide", GUIDE).await;

    let tx = begin_as_tenant(&mut client, &json!({"sub": "user-1"}), &a).await.unwrap();
    let found = call(&tx, &ctx(&a), "searchKb", r#"{"query": "invoices emailed", "limit": 3}"#).await;
    assert!(!found.is_error, "{}", found.content);
    let hits = content(&found)["hits"].clone();
    assert_eq!(hits.as_array().unwrap().len(), 1, "{hits}");
    assert_eq!(hits[0]["documentId"], id.as_str());
    assert_eq!(hits[0]["title"], "Guide");
    assert_eq!(hits[0]["headingPath"], json!(["Guide"]));
    assert!(hits[0]["headline"].as_str().unwrap().contains("**Invoices**"));
    assert_eq!(found.summary, json!({"hits": 1, "limit": 3}));

    let got = call(&tx, &ctx(&a), "getDocument", &json!({"documentId": id}).to_string()).await;
    assert!(!got.is_error, "{}", got.content);
    let doc = content(&got);
    assert_eq!(
        (doc["id"].as_str(), doc["title"].as_str(), doc["truncated"].as_bool()),
        (Some(id.as_str()), Some("Guide"), Some(false))
    );
    assert!(doc["content"].as_str().unwrap().contains("Invoices are emailed"));
    assert_eq!(
        (doc["contentType"].as_str(), doc["version"].as_i64(), doc["tags"].clone()),
        (Some("markdown"), Some(1), json!([]))
    );
    tx.commit().await.unwrap();

    let tx = begin_as_tenant(&mut client, &json!({"sub": "user-2"}), &b).await.unwrap();
    let found = call(&tx, &ctx(&b), "searchKb", r#"{"query": "invoices emailed"}"#).await;
    assert_eq!(content(&found), json!({"hits": []}));
    let got = call(&tx, &ctx(&b), "getDocument", &json!({"documentId": id}).to_string()).await;
    assert!(got.is_error);
    assert_eq!(content(&got)["error"]["code"], "not_found");
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn long_documents_are_truncated() {
    if sba_testkit::without_stack() {
        return;
    }
    let mut client = postgres().await;
    let t = tenant();
    let long = "ünïcode words here. ".repeat(2000); // 40,000 characters
    let id = ingest(&mut client, &t, "Long", &long).await;
    let tx = begin_as_tenant(&mut client, &json!({}), &t).await.unwrap();
    let got = call(&tx, &ctx(&t), "getDocument", &json!({"documentId": id}).to_string()).await;
    let doc = content(&got);
    assert_eq!(doc["truncated"], true);
    assert_eq!(doc["content"].as_str().unwrap().chars().count(), 20_000);
    assert_eq!(got.summary["truncated"], true);
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn create_task_writes_a_row_only_its_tenant_sees() {
    if sba_testkit::without_stack() {
        return;
    }
    let mut client = postgres().await;
    let (a, b) = (tenant(), tenant());
    let tx = begin_as_tenant(&mut client, &json!({"sub": "user-1"}), &a).await.unwrap();
    let created = call(
        &tx,
        &ctx(&a),
        "createTask",
        r#"{"title": "Send the Q3 invoice", "notes": "to Ana", "dueDate": "2026-12-01"}"#,
    )
    .await;
    assert!(!created.is_error, "{}", created.content);
    let task = content(&created);
    assert_eq!(
        (task["title"].as_str(), task["status"].as_str(), task["dueDate"].as_str()),
        (Some("Send the Q3 invoice"), Some("open"), Some("2026-12-01"))
    );
    let id = task["id"].as_str().unwrap().to_owned();
    assert_eq!(created.summary, json!({"taskId": id}));
    let no_date = content(&call(&tx, &ctx(&a), "createTask", r#"{"title": "Someday"}"#).await);
    assert_eq!(no_date["dueDate"], Value::Null);
    tx.commit().await.unwrap();

    let tx = begin_as_tenant(&mut client, &json!({}), &a).await.unwrap();
    let row = tx
        .query_one(
            "select tenant_id, created_by, source_run_id, notes, due_date::text from tasks where id = $1::text::uuid",
            &[&id],
        )
        .await
        .unwrap();
    let row: (String, String, String, String, String) = (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    assert_eq!(row, (a.clone(), "user-1".into(), "run-1".into(), "to Ana".into(), "2026-12-01".into()));
    tx.commit().await.unwrap();

    let tx = begin_as_tenant(&mut client, &json!({}), &b).await.unwrap();
    let seen: i64 = tx.query_one("select count(*) from tasks", &[]).await.unwrap().get(0);
    assert_eq!(seen, 0);
    let changed = tx.execute("update tasks set status = 'done' where id = $1::text::uuid", &[&id]).await.unwrap();
    assert_eq!(changed, 0);
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn bad_calls_are_error_results_and_the_transaction_survives() {
    if sba_testkit::without_stack() {
        return;
    }
    let mut client = postgres().await;
    let t = tenant();
    let tx = begin_as_tenant(&mut client, &json!({}), &t).await.unwrap();
    for (name, args, code) in [
        ("createTask", r#"{"title": ""}"#, "invalid_arguments"),
        ("createTask", r#"{"title": "x", "dueDate": "2026-02-30"}"#, "invalid_arguments"),
        ("getDocument", r#"not json"#, "invalid_arguments"),
        ("searchKb", r#"{"query": "x", "limit": 50}"#, "invalid_arguments"),
        ("deleteEverything", r#"{}"#, "unknown_tool"),
    ] {
        let r = call(&tx, &ctx(&t), name, args).await;
        assert!(r.is_error, "{name} {args}");
        assert_eq!(content(&r)["error"]["code"], code, "{name} {args}: {}", r.content);
        assert_eq!(r.summary["error"], code);
    }
    let count: i64 = tx.query_one("select count(*) from tasks", &[]).await.unwrap().get(0);
    assert_eq!(count, 0);
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_database_failure_is_tool_failed_without_sql_and_the_transaction_survives() {
    if sba_testkit::without_stack() {
        return;
    }
    let mut client = postgres().await;
    // A tenant id the tables' check constraint refuses: the insert fails inside Postgres.
    let bad = "not a valid tenant!";
    let tx = begin_as_tenant(&mut client, &json!({}), bad).await.unwrap();
    let r = call(&tx, &ctx(bad), "createTask", r#"{"title": "x"}"#).await;
    assert!(r.is_error);
    let body = content(&r);
    assert_eq!(body["error"]["code"], "tool_failed");
    assert!(!r.content.contains("constraint") && !r.content.contains("tasks"), "{}", r.content);
    // The savepoint was rolled back: the transaction still works.
    let one: i32 = tx.query_one("select 1", &[]).await.unwrap().get(0);
    assert_eq!(one, 1);
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn agent_audit_is_per_tenant_and_append_only() {
    if sba_testkit::without_stack() {
        return;
    }
    let mut client = postgres().await;
    let (a, b) = (tenant(), tenant());
    let insert = "insert into agent_audit (run_id, thread_id, kind, name, status, duration_ms, detail)
                  values ($1, 'th-1', 'tool', 'searchKb', 'ok', 12, '{\"hits\": 1}'::jsonb) returning tenant_id";
    let tx = begin_as_tenant(&mut client, &json!({}), &a).await.unwrap();
    let owner: String = tx.query_one(insert, &[&"run-a"]).await.unwrap().get(0);
    assert_eq!(owner, a);
    tx.commit().await.unwrap();

    let tx = begin_as_tenant(&mut client, &json!({}), &a).await.unwrap();
    let mine: i64 = tx.query_one("select count(*) from agent_audit where run_id = 'run-a'", &[]).await.unwrap().get(0);
    assert_eq!(mine, 1);
    tx.commit().await.unwrap();

    let tx = begin_as_tenant(&mut client, &json!({}), &b).await.unwrap();
    let theirs: i64 =
        tx.query_one("select count(*) from agent_audit where run_id = 'run-a'", &[]).await.unwrap().get(0);
    assert_eq!(theirs, 0, "tenant B cannot see A's audit rows");
    tx.commit().await.unwrap();

    // B cannot write a row for A.
    let tx = begin_as_tenant(&mut client, &json!({}), &b).await.unwrap();
    let forged = tx
        .execute(
            "insert into agent_audit (tenant_id, run_id, kind, name, status) values ($1, 'x', 'run', 'x', 'ok')",
            &[&a],
        )
        .await;
    assert!(forged.is_err(), "with check refuses another tenant's id");
    tx.rollback().await.unwrap();

    // Not even A may rewrite or delete its own trail.
    for statement in ["update agent_audit set status = 'tampered'", "delete from agent_audit"] {
        let tx = begin_as_tenant(&mut client, &json!({}), &a).await.unwrap();
        let err = tx.execute(statement, &[]).await.expect_err(statement);
        assert_eq!(err.code(), Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE), "{statement}");
        tx.rollback().await.unwrap();
    }
    // And a bad kind is refused by the table.
    let tx = begin_as_tenant(&mut client, &json!({}), &a).await.unwrap();
    assert!(tx
        .execute("insert into agent_audit (run_id, kind, name, status) values ('r', 'chat', 'x', 'ok')", &[])
        .await
        .is_err());
    tx.rollback().await.unwrap();
}
