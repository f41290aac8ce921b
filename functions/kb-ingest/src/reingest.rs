//! The consumer of BaseHub re-ingest jobs (queued by the webhooks Worker): each job marks the
//! tenant's affected documents stale, in a tenant transaction like any API write. A job that
//! fails is retried by the queue (and lands in the dead-letter queue after the retries).

use sba_config::DB_BINDING;
use sba_content::ReingestJob;
use sba_pg::PgError;
use sba_observe::TraceContext;
use serde_json::json;
use std::time::Duration;
use worker::{console_log, Env, MessageBatch, MessageExt};

const DB_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn consume(batch: MessageBatch<ReingestJob>, env: Env) -> worker::Result<()> {
    for message in batch.messages()? {
        let job = message.body().clone();
        // Continue the delivery's trace: a span of our own under the webhook's span.
        let mut random = [0u8; 24];
        let _ = getrandom::fill(&mut random);
        let trace = TraceContext::from_headers(job.traceparent.as_deref(), None, random);
        match apply(&env, &job).await {
            Ok(marked) => {
                console_log!("{}", json!({"level": "info", "msg": "re-ingest job applied", "tenant": job.tenant, "eventId": job.event_id, "documents": marked, "traceId": trace.trace_id, "spanId": trace.span_id}));
                message.ack();
            }
            Err(e) => {
                console_log!("{}", json!({"level": "error", "msg": "re-ingest job failed", "tenant": job.tenant, "eventId": job.event_id, "error": e.to_string(), "traceId": trace.trace_id, "spanId": trace.span_id}));
                message.retry();
            }
        }
    }
    Ok(())
}

async fn apply(env: &Env, job: &ReingestJob) -> Result<u64, PgError> {
    let claims = json!({ "sub": "system:reingest", "role": "authenticated" });
    let (tenant, block_ids, event_id) = (job.tenant.clone(), job.block_ids.clone(), job.event_id.clone());
    sba_pg::with_client(env, DB_BINDING, DB_TIMEOUT, |mut client| async move {
        let tx = sba_rls::begin_as_tenant(&mut client, &claims, &tenant).await?;
        let marked = sba_kb::store::mark_stale(&tx, &block_ids, &event_id).await?;
        tx.commit().await?;
        Ok(marked)
    })
    .await
}
