//! The knowledge base's SQL, as unprepared statements with their parameters: each route is
//! ONE statement, which `sba_rls::in_one_round_trip` sends with the tenant's BEGIN and COMMIT
//! in one round trip (the functions taking a client run the same statements inside a
//! caller's transaction). The statements carry no tenant filter of their own: they run as the
//! tenant, and the row-level security policies supply it (and would refuse anything else).

use crate::{NewDocument, Prepared};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio_postgres::types::{Json, ToSql, Type};
use tokio_postgres::{Error, GenericClient, Row};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Created,
    Updated,
    Unchanged,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// Stores documents, with the request's `Idempotency-Key` when it has one: the SQL function
/// `kb_ingest` does lookup, insert or new version, chunks and the stored response
/// server-side. Parameters: [`IngestParams::params`]; answer: [`ingest_answer`].
pub const INGEST: &str = "select kind, status, body from public.kb_ingest($1, $2, $3, $4, $5)";

/// What [`INGEST`] answered.
#[derive(Debug, Clone, PartialEq)]
pub enum IngestAnswer {
    /// Stored (or unchanged): the response, also recorded under the key.
    Done { status: u16, body: Value },
    /// The key was used before with the same body: its first response.
    Replay { status: u16, body: Value },
    /// The key was used before with a different body; nothing was written.
    Reused,
}

/// [`INGEST`]'s parameters, owned so that they outlive the statement.
pub struct IngestParams {
    documents: Value,
    batch: bool,
    scope: Option<String>,
    key: Option<String>,
    request_hash: Option<String>,
}

impl IngestParams {
    /// `documents` with their prepared text and chunks; `batch` shapes the answer as the
    /// batch route's (`{documents, created, count}`) rather than one document's.
    pub fn new<'a>(documents: impl IntoIterator<Item = (&'a NewDocument, &'a Prepared)>, batch: bool) -> Self {
        let documents = documents.into_iter().map(|(doc, prepared)| document_for_db(doc, prepared)).collect();
        Self { documents: Value::Array(documents), batch, scope: None, key: None, request_hash: None }
    }

    /// Guards the write with an `Idempotency-Key` (see `crate::idempotency`).
    pub fn with_idempotency(mut self, scope: &str, key: &str, request_hash: &str) -> Self {
        (self.scope, self.key, self.request_hash) =
            (Some(scope.to_owned()), Some(key.to_owned()), Some(request_hash.to_owned()));
        self
    }

    pub fn params(&self) -> [(&(dyn ToSql + Sync), Type); 5] {
        [
            (&self.documents, Type::JSONB),
            (&self.batch, Type::BOOL),
            (&self.scope, Type::TEXT),
            (&self.key, Type::TEXT),
            (&self.request_hash, Type::TEXT),
        ]
    }
}

/// One document as `kb_ingest` takes it (chunks as `{o, h, s, e, c}`).
fn document_for_db(doc: &NewDocument, prepared: &Prepared) -> Value {
    let chunks: Vec<Value> = prepared
        .chunks
        .iter()
        .map(|c| json!({ "o": c.ordinal, "h": c.heading_path, "s": c.start, "e": c.end, "c": c.text }))
        .collect();
    json!({
        "externalId": doc.external_id,
        "title": doc.title,
        "content": prepared.text,
        "contentType": content_type_name(doc),
        "source": doc.source,
        "tags": doc.tags,
        "metadata": doc.metadata,
        "contentSha256": prepared.content_sha256,
        "language": prepared.language.map(|l| l.config()),
        "chunks": chunks,
    })
}

pub fn ingest_answer(rows: &[Row]) -> Result<IngestAnswer, Error> {
    let Some(row) = rows.first() else { return Ok(IngestAnswer::Reused) };
    let kind: String = row.try_get(0)?;
    let status =
        || -> Result<u16, Error> { Ok(u16::try_from(row.try_get::<_, Option<i32>>(1)?.unwrap_or(200)).unwrap_or(200)) };
    let body = || -> Result<Value, Error> { Ok(row.try_get::<_, Option<Value>>(2)?.unwrap_or(Value::Null)) };
    Ok(match kind.as_str() {
        "done" => IngestAnswer::Done { status: status()?, body: body()? },
        "replay" => IngestAnswer::Replay { status: status()?, body: body()? },
        _ => IngestAnswer::Reused,
    })
}

/// Stores one document without a key, in the caller's transaction (as the tenant).
pub async fn ingest<C: GenericClient>(client: &C, doc: &NewDocument, prepared: &Prepared) -> Result<Ingested, Error> {
    let params = IngestParams::new([(doc, prepared)], false);
    // Without a key the answer is always one `done` row whose body is the document's result.
    let row = client.query_typed_one(INGEST, &params.params()).await?;
    Ok(row.try_get::<_, Json<Ingested>>(2)?.0)
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
    /// The text search configuration its chunks are stemmed in (`english`, `indonesian`,
    /// `simple`): given at ingest, detected, or the tenant's default.
    pub language: String,
    pub created_at: String,
    pub updated_at: String,
}

/// getDocument (parameter: the id, UUID). Another tenant's id is simply not found (RLS hides
/// it): never a 403. Read the rows with [`document_from_rows`].
pub const GET: &str = concat!(
    "select id, external_id, title, content, content_type, source, tags, metadata, content_sha256, version, chunk_count, ",
    r#"to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), "#,
    r#"to_char(updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), language "#,
    "from kb_documents where id = $1"
);

pub async fn get<C: GenericClient>(client: &C, id: Uuid) -> Result<Option<Document>, Error> {
    document_from_rows(&client.query_typed(GET, &[(&id, Type::UUID)]).await?)
}

pub fn document_from_rows(rows: &[Row]) -> Result<Option<Document>, Error> {
    let Some(r) = rows.first() else { return Ok(None) };
    Ok(Some(Document {
        id: r.try_get(0)?,
        external_id: r.try_get(1)?,
        title: r.try_get(2)?,
        content: r.try_get(3)?,
        content_type: r.try_get(4)?,
        source: r.try_get(5)?,
        tags: r.try_get(6)?,
        metadata: r.try_get(7)?,
        content_sha256: r.try_get(8)?,
        version: r.try_get(9)?,
        chunks: r.try_get(10)?,
        created_at: r.try_get(11)?,
        updated_at: r.try_get(12)?,
        language: r.try_get(13)?,
    }))
}

/// A document's chunks as search and the agent see them, in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentChunks {
    pub document_id: Uuid,
    pub version: i32,
    pub language: String,
    pub chunks: Vec<StoredChunk>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredChunk {
    /// Its place in the document (0, 1, …): `chunk` in search hits and `sba.sources`.
    pub ordinal: i32,
    pub heading_path: Vec<String>,
    /// Character offsets (Unicode scalar values) in the document's `content`.
    pub start_offset: i32,
    pub end_offset: i32,
    pub content: String,
}

/// A document's chunks (parameter: the id, UUID): one row per chunk, each with the
/// document's version and language; no row when the document is not the tenant's (or not
/// there). Read the rows with [`chunks_from_rows`].
pub const CHUNKS: &str =
    "select d.version, d.language, c.ordinal, c.heading_path, c.start_offset, c.end_offset, c.content
 from kb_documents d left join kb_chunks c on c.document_id = d.id
 where d.id = $1 order by c.ordinal";

pub async fn chunks<C: GenericClient>(client: &C, id: Uuid) -> Result<Option<DocumentChunks>, Error> {
    chunks_from_rows(id, &client.query_typed(CHUNKS, &[(&id, Type::UUID)]).await?)
}

pub fn chunks_from_rows(document_id: Uuid, rows: &[Row]) -> Result<Option<DocumentChunks>, Error> {
    let Some(first) = rows.first() else { return Ok(None) };
    let mut chunks = Vec::with_capacity(rows.len());
    for r in rows {
        // The left join's one row of a document without chunks has no ordinal.
        let Some(ordinal) = r.try_get::<_, Option<i32>>(2)? else { continue };
        chunks.push(StoredChunk {
            ordinal,
            heading_path: r.try_get(3)?,
            start_offset: r.try_get(4)?,
            end_offset: r.try_get(5)?,
            content: r.try_get(6)?,
        });
    }
    Ok(Some(DocumentChunks { document_id, version: first.try_get(0)?, language: first.try_get(1)?, chunks }))
}

/// Deletes a document and (by cascade) its chunks (parameter: the id, UUID); answers a row
/// when there was one to see.
pub const DELETE: &str = "delete from kb_documents where id = $1 returning id";

pub async fn delete<C: GenericClient>(client: &C, id: Uuid) -> Result<bool, Error> {
    Ok(!client.query_typed(DELETE, &[(&id, Type::UUID)]).await?.is_empty())
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

/// The tenant's default language (`english` when it has chosen none). No parameters.
pub const DEFAULT_LANGUAGE: &str = "select coalesce((select default_language from kb_settings), 'english')";

/// Sets the tenant's default language (parameter: the configuration name); answers it.
pub const SET_DEFAULT_LANGUAGE: &str = "insert into kb_settings (default_language) values ($1)
 on conflict (tenant_id) do update set default_language = excluded.default_language, updated_at = now()
 returning default_language";

/// Full-text search over chunks (web-search syntax: quotes, `or`, `-word`, every word
/// required), best first, in every language at once (`kb_search_query`); highlights in the
/// chunk's own language. Parameters: the query (text) and the limit (int8); rows read by
/// [`hits_from_rows`].
pub const SEARCH: &str = "select c.document_id, d.title, c.ordinal, c.heading_path, ts_rank_cd(c.search, q) as rank,
        ts_headline(c.language, c.content, q, 'StartSel=**, StopSel=**, MaxFragments=2, MaxWords=35, MinWords=12')
 from kb_chunks c
 join kb_documents d on d.id = c.document_id,
      public.kb_search_query($1) q
 where c.search @@ q
 order by rank desc, c.document_id, c.ordinal
 limit $2";

/// The chunks that best answer a question: any of its words count (`kb_question_query`),
/// ranked by how much of the question a chunk covers, normalised by its length. What grounds
/// an agent's answer, and `GET /kb/search?match=any`. Parameters: the question (text), the
/// limit (int8); rows read by [`hits_from_rows`] (plus the chunk's text, column 6, for
/// [`passages_from_rows`]).
pub const SEARCH_ANY: &str =
    "select c.document_id, d.title, c.ordinal, c.heading_path, ts_rank(c.search, q, 1) as rank,
        ts_headline(c.language, c.content, q, 'StartSel=**, StopSel=**, MaxFragments=2, MaxWords=35, MinWords=12'),
        c.content
 from kb_chunks c
 join kb_documents d on d.id = c.document_id,
      public.kb_question_query($1) q
 where c.search @@ q
 order by rank desc, c.document_id, c.ordinal
 limit $2";

/// A chunk to quote to a model: where it comes from and its text.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Passage {
    pub document_id: Uuid,
    pub title: String,
    pub chunk: i32,
    pub heading_path: Vec<String>,
    pub rank: f32,
    #[serde(skip)]
    pub text: String,
}

pub fn passages_from_rows(rows: &[Row]) -> Result<Vec<Passage>, Error> {
    rows.iter()
        .map(|r| {
            Ok(Passage {
                document_id: r.try_get(0)?,
                title: r.try_get(1)?,
                chunk: r.try_get(2)?,
                heading_path: r.try_get(3)?,
                rank: r.try_get(4)?,
                text: r.try_get(6)?,
            })
        })
        .collect()
}

pub async fn search<C: GenericClient>(client: &C, query: &str, limit: i64) -> Result<Vec<Hit>, Error> {
    hits_from_rows(&client.query_typed(SEARCH, &[(&query, Type::TEXT), (&limit, Type::INT8)]).await?)
}

pub fn hits_from_rows(rows: &[Row]) -> Result<Vec<Hit>, Error> {
    rows.iter()
        .map(|r| {
            Ok(Hit {
                document_id: r.try_get(0)?,
                title: r.try_get(1)?,
                chunk: r.try_get(2)?,
                heading_path: r.try_get(3)?,
                rank: r.try_get(4)?,
                headline: r.try_get(5)?,
            })
        })
        .collect()
}

/// Marks the tenant's BaseHub-sourced documents stale after a content change: those whose
/// `metadata.blockId` is among `block_ids`, or all of them when the change names no block
/// (a commit); parameters `$1` the block ids (text[]), `$2` the event id. Search keeps
/// serving them meanwhile.
pub const MARK_STALE: &str = "update kb_documents
    set metadata = metadata || jsonb_build_object('stale', true, 'staleEvent', $2::text), updated_at = now()
  where source ->> 'kind' = 'basehub'
    and (cardinality($1::text[]) = 0 or metadata ->> 'blockId' = any($1::text[]))
  returning 1";
