//! The knowledge base's SQL against the real Postgres of the local stack (scripts/test
//! exports SBA_POSTGRES_URL after applying the migrations), through tenant transactions.

use sba_kb::store::{self, Change, IngestAnswer, IngestParams};
use sba_kb::{prepare, NewDocument};
use sba_rls::{begin_as_tenant, one_statement, Actor};
use sba_testkit::{postgres, unique};
use serde_json::json;

fn tenant() -> String {
    unique("kb")
}

fn doc(value: serde_json::Value) -> NewDocument {
    serde_json::from_value(value).unwrap()
}

const GUIDE: &str = "# Guide\n\nWelcome to the assistant.\n\n## Install\n\nRun the installer and choose a workspace.\n\n## Billing\n\nInvoices are emailed monthly to the account owner.";

#[tokio::test]
async fn ingest_get_search_delete_round_trip() {
    if sba_testkit::without_stack() {
        return;
    }
    let mut client = postgres().await;
    let t = tenant();
    let input = doc(
        json!({"title": "Guide", "content": GUIDE, "contentType": "markdown", "tags": ["help"], "metadata": {"lang": "en"}}),
    );
    let prepared = prepare(&input);

    let tx = begin_as_tenant(&mut client, &json!({"sub": "u"}), &t).await.unwrap();
    let stored = store::ingest(&tx, &input, &prepared).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(stored.change, Change::Created);
    assert!(stored.chunks >= 1);

    let tx = begin_as_tenant(&mut client, &json!({"sub": "u"}), &t).await.unwrap();
    let got = store::get(&tx, stored.id).await.unwrap().expect("document visible to its tenant");
    assert_eq!(got.title, "Guide");
    assert_eq!(got.content, prepared.text);
    assert_eq!(got.tags, vec!["help".to_string()]);
    assert_eq!(got.metadata, json!({"lang": "en"}));
    assert!(got.created_at.ends_with('Z'));

    let hits = store::search(&tx, "invoices emailed", 5).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].document_id, stored.id);
    assert!(hits[0].headline.contains("**Invoices**"), "{}", hits[0].headline);
    // The whole guide fits in one chunk, which starts under the top heading.
    assert_eq!(hits[0].heading_path, vec!["Guide".to_string()]);
    assert!(store::search(&tx, "kubernetes", 5).await.unwrap().is_empty());

    assert!(store::delete(&tx, stored.id).await.unwrap());
    assert!(store::get(&tx, stored.id).await.unwrap().is_none());
    assert!(!store::delete(&tx, stored.id).await.unwrap());
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn chunks_cover_the_stored_text_in_order_for_their_tenant_only() {
    if sba_testkit::without_stack() {
        return;
    }
    let mut client = postgres().await;
    let (owner, other) = (tenant(), tenant());
    let sections: String = (1..=12)
        .map(|i| {
            format!(
                "## Section {i}\n\n{}\n\n",
                format!("Paragraph {i} explains step {i} of the process in detail. ").repeat(20)
            )
        })
        .collect();
    let input =
        doc(json!({"title": "Manual", "content": format!("# Manual\n\n{sections}"), "contentType": "markdown"}));
    let prepared = prepare(&input);
    let tx = begin_as_tenant(&mut client, &json!({}), &owner).await.unwrap();
    let stored = store::ingest(&tx, &input, &prepared).await.unwrap();
    let doc = store::get(&tx, stored.id).await.unwrap().unwrap();
    let got = store::chunks(&tx, stored.id).await.unwrap().expect("the owner sees its chunks");
    tx.commit().await.unwrap();

    assert!(got.chunks.len() > 1, "a long manual is several chunks");
    assert_eq!(got.chunks.len(), doc.chunks as usize);
    assert_eq!((got.document_id, got.version, got.language.as_str()), (stored.id, stored.version, "english"));
    let text: Vec<char> = doc.content.chars().collect();
    for (i, chunk) in got.chunks.iter().enumerate() {
        assert_eq!(chunk.ordinal, i as i32, "in order");
        let span: String = text[chunk.start_offset as usize..chunk.end_offset as usize].iter().collect();
        assert_eq!(span.trim(), chunk.content.trim(), "chunk {i} is the stored text at its offsets");
        assert_eq!(chunk.heading_path.first().map(String::as_str), Some("Manual"));
    }

    let tx = begin_as_tenant(&mut client, &json!({}), &other).await.unwrap();
    assert!(store::chunks(&tx, stored.id).await.unwrap().is_none(), "RLS: another tenant sees no document");
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn another_tenant_sees_nothing() {
    if sba_testkit::without_stack() {
        return;
    }
    let mut client = postgres().await;
    let (a, b) = (tenant(), tenant());
    let input = doc(json!({"title": "Secret", "content": "quarterly revenue forecast", "contentType": "text"}));
    let tx = begin_as_tenant(&mut client, &json!({}), &a).await.unwrap();
    let stored = store::ingest(&tx, &input, &prepare(&input)).await.unwrap();
    tx.commit().await.unwrap();

    let tx = begin_as_tenant(&mut client, &json!({}), &b).await.unwrap();
    assert!(store::get(&tx, stored.id).await.unwrap().is_none());
    assert!(store::search(&tx, "revenue forecast", 10).await.unwrap().is_empty());
    assert!(!store::delete(&tx, stored.id).await.unwrap());
    // B ingesting the same content gets its own document, not A's.
    let mine = store::ingest(&tx, &input, &prepare(&input)).await.unwrap();
    assert_ne!(mine.id, stored.id);
    assert_eq!(mine.change, Change::Created);
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn same_content_is_deduplicated_and_new_content_is_a_new_version() {
    if sba_testkit::without_stack() {
        return;
    }
    let mut client = postgres().await;
    let t = tenant();
    let v1 = doc(json!({"externalId": "faq-1", "title": "FAQ", "content": "Old answer.\r\n", "contentType": "text"}));
    let same = doc(json!({"externalId": "faq-1", "title": "FAQ", "content": "Old answer.\n", "contentType": "text"}));
    let v2 = doc(
        json!({"externalId": "faq-1", "title": "FAQ v2", "content": "New answer about refunds.", "contentType": "text"}),
    );

    let tx = begin_as_tenant(&mut client, &json!({}), &t).await.unwrap();
    let first = store::ingest(&tx, &v1, &prepare(&v1)).await.unwrap();
    let again = store::ingest(&tx, &same, &prepare(&same)).await.unwrap();
    assert_eq!(again.id, first.id);
    assert!(again.deduplicated, "CRLF vs LF is the same normalised content");
    assert_eq!(again.change, Change::Unchanged);

    let second = store::ingest(&tx, &v2, &prepare(&v2)).await.unwrap();
    assert_eq!(second.id, first.id);
    assert_eq!(second.version, 2);
    assert_eq!(second.change, Change::Updated);
    assert!(store::search(&tx, "old answer", 5).await.unwrap().is_empty(), "old chunks are gone");
    assert_eq!(store::search(&tx, "refunds", 5).await.unwrap().len(), 1);
    let count: i64 = tx.query_one("select count(*) from kb_documents", &[]).await.unwrap().get(0);
    assert_eq!(count, 1);
    tx.commit().await.unwrap();
}

async fn ingest_with_key(
    client: &tokio_postgres::Client,
    t: &str,
    input: &NewDocument,
    key: &str,
    hash: &str,
) -> IngestAnswer {
    let prepared = prepare(input);
    let params = IngestParams::new([(input, &prepared)], false).with_idempotency("POST /kb/documents", key, hash);
    let actor = Actor::Tenant { claims: &json!({}), tenant_id: t };
    let rows = one_statement(client, &actor, store::INGEST, &params.params()).await.unwrap();
    store::ingest_answer(&rows).unwrap()
}

#[tokio::test]
async fn idempotency_claims_replay_and_refuse_reuse() {
    if sba_testkit::without_stack() {
        return;
    }
    let client = postgres().await;
    let t = tenant();
    let input = doc(json!({"title": "Keyed", "content": "idempotent writes", "contentType": "text"}));
    let IngestAnswer::Done { status: 201, body: first } = ingest_with_key(&client, &t, &input, "k1", "h1").await else {
        panic!("first use stores")
    };
    assert_eq!(
        ingest_with_key(&client, &t, &input, "k1", "h1").await,
        IngestAnswer::Replay { status: 201, body: first.clone() },
        "the same key and body replay the first answer"
    );
    assert_eq!(ingest_with_key(&client, &t, &input, "k1", "other").await, IngestAnswer::Reused);
    // Expired keys are fresh again (the document itself is now unchanged: 200).
    let expire = "update idempotency_keys set expires_at = now() - interval '1 second' where key = 'k1'";
    one_statement(&client, &Actor::Tenant { claims: &json!({}), tenant_id: &t }, expire, &[]).await.unwrap();
    let IngestAnswer::Done { status: 200, body } = ingest_with_key(&client, &t, &input, "k1", "other").await else {
        panic!("expired key is fresh")
    };
    assert_eq!(body["id"], first["id"]);
    assert_eq!(body["change"], "unchanged");
}

#[tokio::test]
async fn twenty_concurrent_duplicates_make_one_document() {
    if sba_testkit::without_stack() {
        return;
    }
    let t = tenant();
    let input = doc(json!({"title": "Race", "content": "concurrency is hard", "contentType": "text"}));
    let tasks = (0..20).map(|_| {
        let (t, input) = (t.clone(), input.clone());
        tokio::spawn(async move {
            let client = postgres().await;
            match ingest_with_key(&client, &t, &input, "same-key", "same-hash").await {
                IngestAnswer::Done { body, .. } | IngestAnswer::Replay { body, .. } => body,
                IngestAnswer::Reused => panic!("same body"),
            }
        })
    });
    let responses: Vec<_> = futures_join(tasks).await;
    assert!(responses.windows(2).all(|w| w[0] == w[1]), "every caller got the same response");
    let mut client = postgres().await;
    let tx = begin_as_tenant(&mut client, &json!({}), &t).await.unwrap();
    let count: i64 = tx.query_one("select count(*) from kb_documents", &[]).await.unwrap().get(0);
    assert_eq!(count, 1);
}

async fn futures_join<T>(tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for task in tasks.collect::<Vec<_>>() {
        out.push(task.await.unwrap());
    }
    out
}

#[tokio::test]
async fn a_one_megabyte_markdown_document_is_stored_and_searchable() {
    if sba_testkit::without_stack() {
        return;
    }
    let mut client = postgres().await;
    let t = tenant();
    let mut content = String::new();
    let mut section = 0;
    while content.len() < 1_000_000 {
        section += 1;
        content.push_str(&format!(
            "## Section {section}\n\nParagraph about topic{section} with ünïcödé and emoji 🚀 text. "
        ));
        content.push_str(&"Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(8));
        content.push_str("\n\n");
    }
    content.truncate(content.floor_char_boundary(1_000_000));
    let input = doc(json!({"title": "Big", "content": content, "contentType": "markdown"}));
    let prepared = prepare(&input);
    let tx = begin_as_tenant(&mut client, &json!({}), &t).await.unwrap();
    let stored = store::ingest(&tx, &input, &prepared).await.unwrap();
    assert_eq!(stored.chunks as usize, prepared.chunks.len());
    assert!(stored.chunks > 400, "{} chunks", stored.chunks);
    let hits = store::search(&tx, "topic777", 3).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].heading_path, vec!["Section 777".to_string()]);
    tx.rollback().await.unwrap();
}
