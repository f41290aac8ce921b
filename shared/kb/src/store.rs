//! The knowledge base's SQL. Every function takes a transaction opened by
//! `sba_rls::begin_as_tenant`: the statements carry no tenant filter of their own because the
//! row-level security policies supply it (and would refuse anything else).

use crate::{NewDocument, Prepared};
use serde::Serialize;
use serde_json::Value;
use tokio_postgres::{Error, Row, Transaction};
use uuid::Uuid;

/// Separates heading titles when a chunk's heading path travels as one text value.
const HEADING_SEPARATOR: char = '\u{1f}';

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Created,
    Updated,
    Unchanged,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ingested {
    pub id: Uuid,
    pub external_id: Option<String>,
    pub version: i32,
    pub chunks: i32,
    pub content_sha256: String,
    pub change: Change,
    /// True when the content was already stored: nothing was written.
    pub deduplicated: bool,
}

/// Stores one document: a new one, a new version of the one with the same `externalId`, or
/// nothing at all when the content is unchanged.
pub async fn ingest(tx: &Transaction<'_>, doc: &NewDocument, prepared: &Prepared) -> Result<Ingested, Error> {
    // Two attempts: if a concurrent transaction inserts the same externalId between our
    // lookup and our insert, the insert does nothing and the second lookup finds its row.
    for _ in 0..2 {
        if let Some(existing) = find_existing(tx, doc, prepared).await? {
            let (id, version, sha): (Uuid, i32, String) = (existing.get(0), existing.get(1), existing.get(2));
            if sha == prepared.content_sha256 {
                return Ok(Ingested {
                    id,
                    external_id: doc.external_id.clone(),
                    version,
                    chunks: existing.get(3),
                    content_sha256: sha,
                    change: Change::Unchanged,
                    deduplicated: true,
                });
            }
            return new_version(tx, id, version + 1, doc, prepared).await;
        }
        if let Some(id) = insert(tx, doc, prepared).await? {
            let chunks = replace_chunks(tx, id, prepared).await?;
            return Ok(Ingested {
                id,
                external_id: doc.external_id.clone(),
                version: 1,
                chunks,
                content_sha256: prepared.content_sha256.clone(),
                change: Change::Created,
                deduplicated: false,
            });
        }
    }
    // Unreachable in practice: the row that blocked the insert is visible to the retry.
    Err(tx.query_one("select 'concurrent ingest did not settle'::int", &[]).await.unwrap_err())
}

async fn find_existing(tx: &Transaction<'_>, doc: &NewDocument, prepared: &Prepared) -> Result<Option<Row>, Error> {
    match &doc.external_id {
        Some(external_id) => {
            tx.query_opt(
                "select id, version, content_sha256, chunk_count from kb_documents where external_id = $1 for update",
                &[external_id],
            )
            .await
        }
        // Without an external id, identical content is the same document.
        None => {
            tx.query_opt(
                "select id, version, content_sha256, chunk_count from kb_documents
                 where external_id is null and content_sha256 = $1 order by created_at limit 1 for update",
                &[&prepared.content_sha256],
            )
            .await
        }
    }
}

async fn insert(tx: &Transaction<'_>, doc: &NewDocument, prepared: &Prepared) -> Result<Option<Uuid>, Error> {
    let source = doc.source.as_ref().map(|s| serde_json::to_value(s).unwrap_or(Value::Null));
    let metadata = Value::Object(doc.metadata.clone());
    let row = tx
        .query_opt(
            "insert into kb_documents (external_id, title, content, content_type, source, tags, metadata, content_sha256)
             values ($1, $2, $3, $4, $5, $6, $7, $8)
             on conflict (tenant_id, external_id) where external_id is not null do nothing
             returning id",
            &[
                &doc.external_id,
                &doc.title,
                &prepared.text,
                &content_type_name(doc),
                &source,
                &doc.tags,
                &metadata,
                &prepared.content_sha256,
            ],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

async fn new_version(tx: &Transaction<'_>, id: Uuid, version: i32, doc: &NewDocument, prepared: &Prepared) -> Result<Ingested, Error> {
    let source = doc.source.as_ref().map(|s| serde_json::to_value(s).unwrap_or(Value::Null));
    let metadata = Value::Object(doc.metadata.clone());
    tx.execute(
        "update kb_documents set title = $2, content = $3, content_type = $4, source = $5, tags = $6,
                metadata = $7, content_sha256 = $8, version = $9, updated_at = now()
         where id = $1",
        &[&id, &doc.title, &prepared.text, &content_type_name(doc), &source, &doc.tags, &metadata, &prepared.content_sha256, &version],
    )
    .await?;
    let chunks = replace_chunks(tx, id, prepared).await?;
    Ok(Ingested {
        id,
        external_id: doc.external_id.clone(),
        version,
        chunks,
        content_sha256: prepared.content_sha256.clone(),
        change: Change::Updated,
        deduplicated: false,
    })
}

/// Replaces the document's chunks in one statement (arrays unnested server-side), so a
/// 1 MB document's ~900 chunks cost one round trip.
async fn replace_chunks(tx: &Transaction<'_>, id: Uuid, prepared: &Prepared) -> Result<i32, Error> {
    tx.execute("delete from kb_chunks where document_id = $1", &[&id]).await?;
    let n = prepared.chunks.len();
    let (mut ordinals, mut headings, mut starts, mut ends, mut texts) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for chunk in &prepared.chunks {
        ordinals.push(chunk.ordinal as i32);
        let path: Vec<String> = chunk.heading_path.iter().map(|h| h.replace(HEADING_SEPARATOR, " ")).collect();
        headings.push(path.join(&HEADING_SEPARATOR.to_string()));
        starts.push(chunk.start as i32);
        ends.push(chunk.end as i32);
        texts.push(chunk.text.as_str());
    }
    tx.execute(
        "insert into kb_chunks (document_id, ordinal, heading_path, start_offset, end_offset, content)
         select $1, o, case when h = '' then '{}'::text[] else string_to_array(h, chr(31)) end, s, e, c
         from unnest($2::int4[], $3::text[], $4::int4[], $5::int4[], $6::text[]) as t(o, h, s, e, c)",
        &[&id, &ordinals, &headings, &starts, &ends, &texts],
    )
    .await?;
    let count = n as i32;
    tx.execute("update kb_documents set chunk_count = $2 where id = $1", &[&id, &count]).await?;
    Ok(count)
}

fn content_type_name(doc: &NewDocument) -> &'static str {
    match doc.content_type {
        sba_kb_text::ContentType::Text => "text",
        sba_kb_text::ContentType::Markdown => "markdown",
        sba_kb_text::ContentType::Html => "html",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    pub id: Uuid,
    pub external_id: Option<String>,
    pub title: String,
    pub content: String,
    pub content_type: String,
    pub source: Option<Value>,
    pub tags: Vec<String>,
    pub metadata: Value,
    pub content_sha256: String,
    pub version: i32,
    pub chunks: i32,
    pub created_at: String,
    pub updated_at: String,
}

const RFC3339: &str = r#"'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'"#;

/// getDocument. Another tenant's id is simply not found (RLS hides it): never a 403.
pub async fn get(tx: &Transaction<'_>, id: Uuid) -> Result<Option<Document>, Error> {
    let sql = format!(
        "select id, external_id, title, content, content_type, source, tags, metadata, content_sha256, version,
                chunk_count, to_char(created_at at time zone 'UTC', {RFC3339}), to_char(updated_at at time zone 'UTC', {RFC3339})
         from kb_documents where id = $1"
    );
    let row = tx.query_opt(&sql, &[&id]).await?;
    Ok(row.map(|r| Document {
        id: r.get(0),
        external_id: r.get(1),
        title: r.get(2),
        content: r.get(3),
        content_type: r.get(4),
        source: r.get(5),
        tags: r.get(6),
        metadata: r.get(7),
        content_sha256: r.get(8),
        version: r.get(9),
        chunks: r.get(10),
        created_at: r.get(11),
        updated_at: r.get(12),
    }))
}

/// Deletes a document and (by cascade) its chunks; false when there was none to see.
pub async fn delete(tx: &Transaction<'_>, id: Uuid) -> Result<bool, Error> {
    Ok(tx.execute("delete from kb_documents where id = $1", &[&id]).await? > 0)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Hit {
    pub document_id: Uuid,
    pub title: String,
    pub chunk: i32,
    pub heading_path: Vec<String>,
    pub rank: f32,
    /// The best fragments of the chunk with the matched terms in `**bold**` (Markdown, not
    /// HTML: clients render it without trusting stored content as markup).
    pub headline: String,
}

/// Full-text search over chunks (web-search syntax: quotes, `or`, `-word`), best first.
pub async fn search(tx: &Transaction<'_>, query: &str, limit: i64) -> Result<Vec<Hit>, Error> {
    let rows = tx
        .query(
            "select c.document_id, d.title, c.ordinal, c.heading_path, ts_rank_cd(c.search, q) as rank,
                    ts_headline('english', c.content, q, 'StartSel=**, StopSel=**, MaxFragments=2, MaxWords=35, MinWords=12')
             from kb_chunks c
             join kb_documents d on d.id = c.document_id,
                  websearch_to_tsquery('english', $1) q
             where c.search @@ q
             order by rank desc, c.document_id, c.ordinal
             limit $2",
            &[&query, &limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Hit {
            document_id: r.get(0),
            title: r.get(1),
            chunk: r.get(2),
            heading_path: r.get(3),
            rank: r.get(4),
            headline: r.get(5),
        })
        .collect())
}

/// Marks the tenant's BaseHub-sourced documents stale after a content change: those whose
/// `metadata.blockId` is among `block_ids`, or all of them when the change names no block
/// (a commit). The content sync re-reads stale documents; search keeps serving them meanwhile.
pub async fn mark_stale(tx: &Transaction<'_>, block_ids: &[String], event_id: &str) -> Result<u64, Error> {
    tx.execute(
        "update kb_documents
            set metadata = metadata || jsonb_build_object('stale', true, 'staleEvent', $2::text), updated_at = now()
          where source ->> 'kind' = 'basehub'
            and (cardinality($1::text[]) = 0 or metadata ->> 'blockId' = any($1::text[]))",
        &[&block_ids, &event_id],
    )
    .await
}
