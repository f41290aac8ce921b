//! The kb-ingest routes: each one extracts its typed inputs, runs one tenant transaction and
//! answers JSON. Validation happens before any database work; a batch is all or nothing.

use crate::tenant_tx;
use sba_extract::sba_tenant::TenantContext;
use sba_http::{json, ApiError, Call, Params};
use sba_kb::idempotency::{is_valid_key, request_hash};
use sba_kb::store::{self, IngestAnswer, IngestParams};
use sba_kb::{prepare, Batch, NewDocument};
use sba_kb_text::Language;
use sba_pg::tokio_postgres::types::Type;
use sba_pg::PgError;
use serde_json::json;
use uuid::Uuid;
use worker::Response;

/// A 1 MiB document can grow by JSON escaping; 2 MiB of body leaves room for that.
const DOCUMENT_BODY_LIMIT: usize = 2 * 1024 * 1024;
const BATCH_BODY_LIMIT: usize = 8 * 1024 * 1024;
const SEARCH_DEFAULT_LIMIT: i64 = 10;
const SEARCH_MAX_LIMIT: i64 = 50;
const SEARCH_MAX_QUERY_CHARS: usize = 256;

pub async fn create(mut call: Call, _: Params) -> Result<Response, ApiError> {
    let tenant = sba_extract::tenant(&call).await?;
    let key = idempotency_key(&call)?;
    let (doc, body): (NewDocument, _) = sba_extract::json_and_bytes(&mut call, DOCUMENT_BODY_LIMIT).await?;
    let prepared = prepare(&doc);
    let params = guarded(IngestParams::new([(&doc, &prepared)], false), "POST /kb/documents", key, &body);
    ingest(&call, &tenant, params).await
}

pub async fn create_batch(mut call: Call, _: Params) -> Result<Response, ApiError> {
    let tenant = sba_extract::tenant(&call).await?;
    let key = idempotency_key(&call)?;
    let body = sba_extract::json_bytes(&mut call, BATCH_BODY_LIMIT).await?;
    let batch = Batch::parse(&body)?;
    let prepared: Vec<_> = batch.documents.iter().map(prepare).collect();
    let params =
        guarded(IngestParams::new(batch.documents.iter().zip(&prepared), true), "POST /kb/documents:batch", key, &body);
    ingest(&call, &tenant, params).await
}

/// The whole write (key claim, documents, chunks, stored answer) is one statement.
async fn ingest(call: &Call, tenant: &TenantContext, params: IngestParams) -> Result<Response, ApiError> {
    let rows = tenant_tx::statement(call, tenant, store::INGEST, &params.params()).await?;
    match store::ingest_answer(&rows).map_err(PgError::from)? {
        IngestAnswer::Done { status, body } | IngestAnswer::Replay { status, body } => json(status, &body),
        IngestAnswer::Reused => Err(ApiError::unprocessable(
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request body",
        )),
    }
}

fn guarded(params: IngestParams, scope: &str, key: Option<String>, body: &[u8]) -> IngestParams {
    match key {
        Some(key) => params.with_idempotency(scope, &key, &request_hash(body)),
        None => params,
    }
}

pub async fn get(call: Call, params: Params) -> Result<Response, ApiError> {
    let tenant = sba_extract::tenant(&call).await?;
    let id = document_id(params.get("id"))?;
    let rows = tenant_tx::statement(&call, &tenant, store::GET, &[(&id, Type::UUID)]).await?;
    match store::document_from_rows(&rows).map_err(PgError::from)? {
        Some(doc) => json(200, &json!(doc)),
        None => Err(document_not_found()),
    }
}

/// The chunks search and the agent see, in order, with their offsets in the stored text.
pub async fn chunks(call: Call, params: Params) -> Result<Response, ApiError> {
    let tenant = sba_extract::tenant(&call).await?;
    let id = document_id(params.get("id"))?;
    let rows = tenant_tx::statement(&call, &tenant, store::CHUNKS, &[(&id, Type::UUID)]).await?;
    match store::chunks_from_rows(id, &rows).map_err(PgError::from)? {
        Some(chunks) => json(200, &json!(chunks)),
        None => Err(document_not_found()),
    }
}

pub async fn delete(call: Call, params: Params) -> Result<Response, ApiError> {
    let tenant = sba_extract::tenant(&call).await?;
    let id = document_id(params.get("id"))?;
    let rows = tenant_tx::statement(&call, &tenant, store::DELETE, &[(&id, Type::UUID)]).await?;
    if rows.is_empty() {
        return Err(document_not_found());
    }
    json(200, &json!({ "id": id, "deleted": true }))
}

pub async fn search(call: Call, _: Params) -> Result<Response, ApiError> {
    let tenant = sba_extract::tenant(&call).await?;
    let url = call.req.url().map_err(ApiError::internal)?;
    let mut query = None;
    let mut limit = SEARCH_DEFAULT_LIMIT;
    // `all` (the default): web-search syntax, every word required; `any`: a question, any of
    // its words, ranked (what grounds the agent's answers).
    let mut any = false;
    let mut issues = Vec::new();
    for (name, value) in url.query_pairs() {
        match name.as_ref() {
            "q" => query = Some(value.trim().to_owned()),
            "match" => match value.as_ref() {
                "all" => any = false,
                "any" => any = true,
                _ => issues.push(issue("match", "invalid_enum_value", "must be `all` or `any`")),
            },
            "limit" => match value.parse::<i64>() {
                Ok(n) if (1..=SEARCH_MAX_LIMIT).contains(&n) => limit = n,
                Ok(n) if n < 1 => issues.push(issue(
                    "limit",
                    "too_small",
                    &format!("must be a whole number from 1 to {SEARCH_MAX_LIMIT}"),
                )),
                Ok(_) => issues.push(issue(
                    "limit",
                    "too_big",
                    &format!("must be a whole number from 1 to {SEARCH_MAX_LIMIT}"),
                )),
                Err(_) => issues.push(issue(
                    "limit",
                    "invalid_type",
                    &format!("must be a whole number from 1 to {SEARCH_MAX_LIMIT}"),
                )),
            },
            _ => {}
        }
    }
    match &query {
        None => issues.push(issue("q", "required", "is required")),
        Some(q) if q.is_empty() => issues.push(issue("q", "too_short", "must not be empty")),
        Some(q) if q.chars().count() > SEARCH_MAX_QUERY_CHARS => {
            issues.push(issue("q", "too_long", &format!("must be at most {SEARCH_MAX_QUERY_CHARS} characters")))
        }
        Some(q) if q.contains('\0') => issues.push(issue("q", "invalid_string", "must not contain NUL characters")),
        _ => {}
    }
    if !issues.is_empty() {
        return Err(ApiError::unprocessable("validation_failed", "query parameters failed validation")
            .with_details(json!({ "issues": issues })));
    }
    let query = query.unwrap_or_default();
    let rows = tenant_tx::statement(
        &call,
        &tenant,
        if any { store::SEARCH_ANY } else { store::SEARCH },
        &[(&query, Type::TEXT), (&limit, Type::INT8)],
    )
    .await?;
    let hits = store::hits_from_rows(&rows).map_err(PgError::from)?;
    json(200, &json!({ "query": query, "hits": hits }))
}

/// The tenant's settings: `{"defaultLanguage": "en" | "id" | "simple"}`, the language of a
/// document that neither names nor shows one.
#[derive(Debug, serde::Deserialize, validator::Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Settings {
    default_language: Language,
}

fn settings_answer(rows: &[sba_pg::tokio_postgres::Row]) -> Result<Response, ApiError> {
    let config: String = rows.first().map(|r| r.try_get(0)).transpose().map_err(PgError::from)?.unwrap_or_default();
    let code = match Language::parse(&config) {
        Some(Language::Indonesian) => "id",
        Some(Language::Simple) => "simple",
        _ => "en",
    };
    json(200, &json!({ "defaultLanguage": code }))
}

pub async fn get_settings(call: Call, _: Params) -> Result<Response, ApiError> {
    let tenant = sba_extract::tenant(&call).await?;
    let rows = tenant_tx::statement(&call, &tenant, store::DEFAULT_LANGUAGE, &[]).await?;
    settings_answer(&rows)
}

pub async fn put_settings(mut call: Call, _: Params) -> Result<Response, ApiError> {
    let tenant = sba_extract::tenant(&call).await?;
    let settings: Settings = sba_extract::json(&mut call, 1024).await?;
    let config = settings.default_language.config().to_owned();
    let rows = tenant_tx::statement(&call, &tenant, store::SET_DEFAULT_LANGUAGE, &[(&config, Type::TEXT)]).await?;
    settings_answer(&rows)
}

fn idempotency_key(call: &Call) -> Result<Option<String>, ApiError> {
    match call.req.headers().get("idempotency-key").ok().flatten() {
        None => Ok(None),
        Some(key) if is_valid_key(key.trim()) => Ok(Some(key.trim().to_owned())),
        Some(_) => Err(ApiError::bad_request(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        )),
    }
}

/// An id that is not a UUID cannot name a document: the same 404 as an unknown one.
fn document_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| document_not_found())
}

fn document_not_found() -> ApiError {
    ApiError::not_found("no such document")
}

fn issue(field: &str, code: &str, message: &str) -> serde_json::Value {
    json!({ "path": [field], "code": code, "message": message })
}
