//! The consumer of BaseHub re-ingest jobs (queued by the webhooks Worker). Each job names the
//! blocks a change touched; the entries among them are read back from BaseHub's content API
//! (`sba_content::api`) and stored through the same validation, chunking and versioning as
//! `POST /kb/documents:batch`, under external id `basehub:<entry id>`, as the job's tenant.
//!
//! A job whose read fails (BaseHub down, an error answer) is retried by the queue with a
//! delay, the old versions still searchable; after the queue's retries it lands in the
//! dead-letter queue, whose batches come here too and are logged at error level. Without
//! `BASEHUB_COMPONENT` (re-ingest not set up) the job only marks the blocks' documents stale.

use sba_content::api::{ContentApi, Entry};
use sba_content::ReingestJob;
use sba_kb::store::{self, IngestAnswer, IngestParams};
use sba_kb::{prepare, NewDocument, Source};
use sba_observe::TraceContext;
use sba_outbound::http::{self, Outgoing};
use sba_pg::tokio_postgres::types::Type;
use sba_pg::PgError;
use sba_rls::Actor;
use serde_json::{json, Map, Value};
use std::time::Duration;
use validator::Validate;
use worker::{console_log, Env, MessageBatch, MessageExt, QueueRetryOptionsBuilder};

const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The queue's next attempt after a failed read (`REINGEST_RETRY_DELAY_SECS` overrides).
const RETRY_DELAY_SECS: u32 = 10;

/// Why a job did not complete.
enum Failure {
    /// Worth another attempt (BaseHub or Postgres unavailable).
    Retry(String),
    /// Another attempt would fail the same way (configuration, quota, invalid content).
    Permanent(String),
}

pub async fn consume(batch: MessageBatch<ReingestJob>, env: Env) -> worker::Result<()> {
    let dead_letters = batch.queue().ends_with("-dlq");
    for message in batch.messages()? {
        let job = message.body().clone();
        // Continue the delivery's trace: a span of our own under the webhook's span.
        let mut random = [0u8; 24];
        let _ = getrandom::fill(&mut random);
        let trace = TraceContext::from_headers(job.traceparent.as_deref(), None, random);
        let log = |level: &str, msg: &str, extra: Value| {
            let mut line = json!({"level": level, "msg": msg, "tenant": job.tenant, "eventId": job.event_id, "traceId": trace.trace_id, "spanId": trace.span_id});
            if let (Some(line), Value::Object(extra)) = (line.as_object_mut(), extra) {
                line.extend(extra);
            }
            console_log!("{line}");
        };
        if dead_letters {
            log(
                "error",
                "re-ingest job dead-lettered: its retries are spent; the old versions stay searchable",
                json!({"blockIds": job.block_ids}),
            );
            message.ack();
            continue;
        }
        match apply(&env, &job).await {
            Ok(summary) => {
                log("info", "re-ingest job applied", summary);
                message.ack();
            }
            Err(Failure::Retry(e)) => {
                log("warn", "re-ingest job failed; retried", json!({"error": e}));
                let delay = sba_config::setting(&env, "REINGEST_RETRY_DELAY_SECS")
                    .ok()
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(RETRY_DELAY_SECS);
                message.retry_with_options(&QueueRetryOptionsBuilder::new().with_delay_seconds(delay).build());
            }
            Err(Failure::Permanent(e)) => {
                log("error", "re-ingest job refused; not retried", json!({"error": e}));
                message.ack();
            }
        }
    }
    Ok(())
}

async fn apply(env: &Env, job: &ReingestJob) -> Result<Value, Failure> {
    let api = ContentApi::from_vars(|name| sba_config::setting(env, name).ok()).map_err(Failure::Permanent)?;
    let Some(api) = api.filter(|_| !job.block_ids.is_empty()) else {
        // Not set up, or a change that names no block (a commit): mark, do not guess.
        let marked = mark_stale(env, job).await?;
        return Ok(json!({"documents": marked, "mode": "marked stale"}));
    };
    sba_config::outbound_url(env, &api.url).map_err(|refused| Failure::Permanent(refused.message))?;
    let entries = read_entries(&api, job).await.map_err(Failure::Retry)?;
    let documents: Vec<NewDocument> = entries.iter().map(|entry| document(entry, job)).collect();
    if let Some(invalid) = documents.iter().find_map(|d| d.validate().err()) {
        return Err(Failure::Permanent(format!("an entry is not a valid document: {invalid}")));
    }
    if documents.is_empty() {
        return Ok(json!({"documents": 0, "mode": "no entry among the blocks"}));
    }
    let prepared: Vec<_> = documents.iter().map(prepare).collect();
    let params = IngestParams::new(documents.iter().zip(&prepared), true);
    let answer = ingest(env, job, &params).await?;
    Ok(json!({"documents": documents.len(), "mode": "re-ingested", "result": answer}))
}

async fn read_entries(api: &ContentApi, job: &ReingestJob) -> Result<Vec<Entry>, String> {
    let body = serde_json::to_vec(&api.request_body(&job.block_ids)).map_err(|e| e.to_string())?;
    let request = Outgoing::post(api.url.clone(), body).headers(&api.headers());
    let exchange = async {
        let reply = http::send(request).await.map_err(|e| format!("BaseHub content API: {e}"))?;
        let status = reply.status;
        let bytes = reply.bytes().await.map_err(|e| format!("BaseHub content API: {e}"))?;
        if !(200..300).contains(&status) {
            return Err(format!("BaseHub content API answered {status}"));
        }
        let answer: Value = serde_json::from_slice(&bytes)
            .map_err(|_| "BaseHub content API answered with something other than JSON".to_owned())?;
        api.entries(&answer)
    };
    sba_sleep::within(FETCH_TIMEOUT, exchange)
        .await
        .unwrap_or_else(|| Err("BaseHub content API did not answer in time".into()))
}

fn document(entry: &Entry, job: &ReingestJob) -> NewDocument {
    let mut metadata = Map::new();
    metadata.insert("blockId".into(), json!(entry.id));
    metadata.insert("basehubEvent".into(), json!(job.event_id));
    NewDocument {
        external_id: Some(entry.external_id()),
        title: if entry.title.trim().is_empty() { entry.id.clone() } else { entry.title.clone() },
        content: entry.markdown.clone(),
        content_type: sba_kb_text::ContentType::Markdown,
        language: None,
        source: Some(Source { kind: "basehub".into(), url: None }),
        tags: Vec::new(),
        metadata,
    }
}

/// The job's tenant as the writer, under RLS like any API write.
fn claims(job: &ReingestJob) -> Value {
    json!({ "sub": "system:reingest", "role": "authenticated", "app_metadata": { "tenant_id": job.tenant } })
}

async fn ingest(env: &Env, job: &ReingestJob, params: &IngestParams) -> Result<Value, Failure> {
    let claims = claims(job);
    let tenant = job.tenant.clone();
    let actor = Actor::Tenant { claims: &claims, tenant_id: &tenant };
    let rows = sba_config::statement(env, &actor, store::INGEST, &params.params()).await.map_err(store_failure)?;
    match store::ingest_answer(&rows) {
        Ok(IngestAnswer::Done { body, .. }) => Ok(body),
        Ok(_) => Ok(Value::Null),
        Err(e) => Err(Failure::Retry(e.to_string())),
    }
}

async fn mark_stale(env: &Env, job: &ReingestJob) -> Result<u64, Failure> {
    let claims = claims(job);
    let (tenant, block_ids, event_id) = (job.tenant.clone(), job.block_ids.clone(), job.event_id.clone());
    let actor = Actor::Tenant { claims: &claims, tenant_id: &tenant };
    let params =
        [(&block_ids as &(dyn sba_pg::tokio_postgres::types::ToSql + Sync), Type::TEXT_ARRAY), (&event_id, Type::TEXT)];
    let rows = sba_config::statement(env, &actor, store::MARK_STALE, &params).await.map_err(store_failure)?;
    Ok(rows.len() as u64)
}

/// The plan's document quota (SQLSTATE `SBQ01`) will refuse again; anything else may pass.
fn store_failure(e: PgError) -> Failure {
    if let PgError::Query(q) = &e {
        if q.as_db_error().is_some_and(|db| db.code().code() == "SBQ01") {
            return Failure::Permanent("the tenant's kbDocuments quota is used up".into());
        }
    }
    Failure::Retry(e.to_string())
}
