//! The kb-ingest routes: each one extracts its typed inputs, runs one tenant transaction and
//! answers JSON. Validation happens before any database work; a batch is all or nothing.

use crate::tenant_tx::{self, Answer, Idempotency};
use sba_extract::sba_tenant::TenantContext;
use sba_http::{json, ApiError, Call};
use sba_kb::idempotency::is_valid_key;
use sba_kb::store::{self, Change};
use sba_kb::{prepare, Batch, NewDocument};
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

pub async fn create(mut call: Call) -> Result<Response, ApiError> {
    let tenant = sba_extract::tenant(&call).await?;
    let key = idempotency_key(&call)?;
    let (doc, body): (NewDocument, _) = sba_extract::json_and_bytes(&mut call, DOCUMENT_BODY_LIMIT).await?;
    let prepared = prepare(&doc);
    let guard = key.map(|key| Idempotency { scope: "POST /kb/documents", key, request_body: &body });
    let answer = tenant_tx::run(&call.env, &tenant, guard, move |tx| {
        Box::pin(async move {
            let stored = store::ingest(tx, &doc, &prepared).await.map_err(PgError::from)?;
            let status = if stored.change == Change::Created { 201 } else { 200 };
            Ok((status, json!(stored)))
        })
    })
    .await?;
    reply(answer)
}

pub async fn create_batch(mut call: Call) -> Result<Response, ApiError> {
    let tenant = sba_extract::tenant(&call).await?;
    let key = idempotency_key(&call)?;
    let body = sba_extract::json_bytes(&mut call, BATCH_BODY_LIMIT).await?;
    let batch = Batch::parse(&body)?;
    let prepared: Vec<_> = batch.documents.iter().map(prepare).collect();
    let guard = key.map(|key| Idempotency { scope: "POST /kb/documents:batch", key, request_body: &body });
    let answer = tenant_tx::run(&call.env, &tenant, guard, move |tx| {
        Box::pin(async move {
            let mut results = Vec::with_capacity(batch.documents.len());
            for (doc, prepared) in batch.documents.iter().zip(&prepared) {
                results.push(store::ingest(tx, doc, prepared).await.map_err(PgError::from)?);
            }
            let created = results.iter().filter(|r| r.change == Change::Created).count();
            let status = if created > 0 { 201 } else { 200 };
            Ok((status, json!({ "documents": results, "created": created, "count": results.len() })))
        })
    })
    .await?;
    reply(answer)
}

pub async fn get(call: Call, id: &str) -> Result<Response, ApiError> {
    let tenant = sba_extract::tenant(&call).await?;
    let id = document_id(id)?;
    let answer = read(&call, &tenant, move |tx| {
        Box::pin(async move {
            match store::get(tx, id).await.map_err(PgError::from)? {
                Some(doc) => Ok((200, json!(doc))),
                None => Err(document_not_found()),
            }
        })
    })
    .await?;
    reply(answer)
}

pub async fn delete(call: Call, id: &str) -> Result<Response, ApiError> {
    let tenant = sba_extract::tenant(&call).await?;
    let id = document_id(id)?;
    let answer = read(&call, &tenant, move |tx| {
        Box::pin(async move {
            if store::delete(tx, id).await.map_err(PgError::from)? {
                Ok((200, json!({ "id": id, "deleted": true })))
            } else {
                Err(document_not_found())
            }
        })
    })
    .await?;
    reply(answer)
}

pub async fn search(call: Call) -> Result<Response, ApiError> {
    let tenant = sba_extract::tenant(&call).await?;
    let url = call.req.url().map_err(ApiError::internal)?;
    let mut query = None;
    let mut limit = SEARCH_DEFAULT_LIMIT;
    let mut issues = Vec::new();
    for (name, value) in url.query_pairs() {
        match name.as_ref() {
            "q" => query = Some(value.trim().to_owned()),
            "limit" => match value.parse::<i64>() {
                Ok(n) if (1..=SEARCH_MAX_LIMIT).contains(&n) => limit = n,
                Ok(n) if n < 1 => issues.push(issue("limit", "too_small", &format!("must be a whole number from 1 to {SEARCH_MAX_LIMIT}"))),
                Ok(_) => issues.push(issue("limit", "too_big", &format!("must be a whole number from 1 to {SEARCH_MAX_LIMIT}"))),
                Err(_) => issues.push(issue("limit", "invalid_type", &format!("must be a whole number from 1 to {SEARCH_MAX_LIMIT}"))),
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
    let answer = read(&call, &tenant, move |tx| {
        Box::pin(async move {
            let hits = store::search(tx, &query, limit).await.map_err(PgError::from)?;
            Ok((200, json!({ "query": query, "hits": hits })))
        })
    })
    .await?;
    reply(answer)
}

async fn read<F>(call: &Call, tenant: &TenantContext, work: F) -> Result<Answer, ApiError>
where
    F: for<'t, 'c> FnOnce(&'t sba_pg::tokio_postgres::Transaction<'c>) -> futures_util::future::LocalBoxFuture<'t, Result<Answer, ApiError>>
        + 'static,
{
    let started = js_sys::Date::now();
    let answer = tenant_tx::run(&call.env, tenant, None, work).await;
    call.ctx.record_timing("db", js_sys::Date::now() - started);
    answer
}

fn reply((status, body): Answer) -> Result<Response, ApiError> {
    json(status, &body)
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
