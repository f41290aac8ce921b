//! `POST /webhooks/basehub`: a content change. Verified (current HMAC scheme, or legacy Svix),
//! deduplicated (BaseHub sends no timestamp or id, so replays are stopped by the body's hash;
//! Svix deliveries by `svix-id`), then: cached content dropped, an invalidation published, a
//! KB re-ingest job queued, and the app's revalidate URL called after the response.

use crate::{header, now_secs, BODY_LIMIT};
use sba_config::{setting, DB_BINDING};
use sba_content::{block_cache_key, block_cache_url, invalidation_channel, Envelope, ReingestJob};
use sba_http::{json, read_limited, ApiError, Call};
use sba_pg::tokio_postgres::types::Type;
use sba_pg::PgError;
use sba_rls::Actor;
use sba_redis::Cmd;
use serde_json::json;
use std::time::Duration;
use sba_outbound::http::Outgoing;
use worker::{console_log, Cache, Response};

const SVIX_TOLERANCE_SECS: i64 = 300;
const DB_TIMEOUT: Duration = Duration::from_secs(8);

pub async fn handle(mut call: Call) -> Result<Response, ApiError> {
    let body = read_limited(&mut call.req, BODY_LIMIT).await?;
    let event_id = verify(&call, &body)?;
    crate::refuse_nul(&body)?;
    let envelope: Envelope = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("invalid_event", "the body is not a BaseHub event envelope").with_cause(e))?;
    let tenant = setting(&call.env, "BASEHUB_TENANT_ID")?;
    call.ctx.set_tenant(&tenant);

    let (id, kind) = (event_id.clone(), envelope.kind.clone());
    // One round trip: the dedupe row in a pipelined service-role transaction.
    let first = sba_pg::with_client(&call.env, DB_BINDING, DB_TIMEOUT, |client| async move {
        let rows = sba_rls::one_statement(
            &client,
            &Actor::Service,
            "insert into webhook_events (provider, event_id, event_type, outcome) values ('basehub', $1, $2, 'applied')
             on conflict (provider, event_id) do nothing returning 1",
            &[(&id, Type::TEXT), (&kind, Type::TEXT)],
        )
        .await?;
        Ok::<_, PgError>(rows.len() == 1)
    })
    .await?;
    if !first {
        return json(200, &json!({ "received": true, "duplicate": true }));
    }

    let block_ids = envelope.block_ids();
    invalidate(&call, &tenant, &envelope, &block_ids).await;
    let job = ReingestJob { tenant: tenant.clone(), event_id: event_id.clone(), event_type: envelope.kind.clone(), block_ids: block_ids.clone(), traceparent: Some(call.ctx.trace.traceparent()) };
    // The queue is the durable hand-off to kb-ingest: if it fails the sender must retry, so
    // this one failure is a 503 (the dedupe row is already there; a retry will be a duplicate
    // — so undo it).
    if let Err(e) = enqueue(&call, &job).await {
        forget(&call, &event_id).await;
        return Err(ApiError::unavailable("queue_unavailable", "could not queue the re-ingest job; retry", 5).with_cause(e));
    }
    revalidate_later(&call, &tenant, &block_ids);
    json(200, &json!({ "received": true, "duplicate": false, "invalidated": block_ids.len(), "queued": true }))
}

/// The dedupe id of a verified delivery.
fn verify(call: &Call, body: &[u8]) -> Result<String, ApiError> {
    if let Some(signature) = header(call, "x-basehub-webhook-signature") {
        let secret = setting(&call.env, "BASEHUB_WEBHOOK_SECRET")?;
        sba_webhook_verify::verify_basehub(body, &signature, &secret)?;
        return Ok(format!("sha256:{}", sba_webhook_verify::body_sha256_hex(body)));
    }
    if let (Some(id), Some(timestamp), Some(signature)) =
        (header(call, "svix-id"), header(call, "svix-timestamp"), header(call, "svix-signature"))
    {
        let secret = setting(&call.env, "BASEHUB_SVIX_SECRET")?;
        sba_webhook_verify::verify_svix(body, &id, &timestamp, &signature, &secret, SVIX_TOLERANCE_SECS, now_secs())?;
        return Ok(format!("svix:{id}"));
    }
    Err(ApiError::bad_request(
        "signature_missing",
        "x-basehub-webhook-signature (or svix-id, svix-timestamp and svix-signature) is required",
    ))
}

/// Drops what we cache for the changed blocks and tells subscribers. Best effort: entries
/// also expire, and the re-ingest job carries the change durably.
async fn invalidate(call: &Call, tenant: &str, envelope: &Envelope, block_ids: &[String]) {
    let message = json!({ "tenant": tenant, "type": envelope.kind, "blockIds": block_ids });
    let mut commands: Vec<Cmd> = Vec::new();
    if !block_ids.is_empty() {
        let mut del = Cmd::new("DEL");
        for id in block_ids {
            del = del.arg(block_cache_key(tenant, id));
        }
        commands.push(del);
    }
    commands.push(Cmd::new("PUBLISH").arg(invalidation_channel(tenant)).arg(message.to_string()));
    match sba_config::redis_for(call) {
        Ok(redis) => {
            if let Err(e) = redis.pipeline(&commands).await {
                warn(call, "content invalidation in Redis failed", &e.to_string());
            }
        }
        Err(e) => warn(call, "content invalidation skipped", &e.message),
    }
    let cache = Cache::default();
    for id in block_ids {
        if let Err(e) = cache.delete(block_cache_url(tenant, id), false).await {
            warn(call, "Cache API delete failed", &e.to_string());
        }
    }
}

async fn enqueue(call: &Call, job: &ReingestJob) -> Result<(), String> {
    let queue = call.env.queue("REINGEST_QUEUE").map_err(|e| e.to_string())?;
    queue.send(job).await.map_err(|e| e.to_string())
}

async fn forget(call: &Call, event_id: &str) {
    let id = event_id.to_owned();
    let _ = sba_pg::with_client(&call.env, DB_BINDING, DB_TIMEOUT, |client| async move {
        let forget = "delete from webhook_events where provider = 'basehub' and event_id = $1";
        sba_rls::one_statement(&client, &Actor::Service, forget, &[(&id, Type::TEXT)]).await?;
        Ok::<_, PgError>(())
    })
    .await;
}

/// Calls the app's revalidate URL after the response is sent (nothing slow before the 2xx),
/// and only when its host is on the outbound allowlist.
fn revalidate_later(call: &Call, tenant: &str, block_ids: &[String]) {
    let Ok(url) = setting(&call.env, "BASEHUB_REVALIDATE_URL") else { return };
    if url.is_empty() {
        return;
    }
    if let Err(refused) = sba_config::outbound_url(&call.env, &url) {
        warn(call, "revalidate URL refused", &refused.message);
        return;
    }
    let body = json!({ "tenant": tenant, "blockIds": block_ids }).to_string();
    let request_id = call.ctx.request_id.as_str().to_owned();
    let request = Outgoing::post(url, body.into_bytes())
        .header("content-type", "application/json")
        .header("x-request-id", request_id.clone())
        .headers(&call.ctx.trace_headers());
    call.ctx.wait_until(async move {
        // Never followed: a redirect is logged by the outbound layer and counts as a failure.
        if let Err(e) = sba_outbound::http::send(request).await {
            console_log!("{}", json!({"level": "warn", "msg": "revalidate call failed", "error": e.to_string(), "requestId": request_id}));
        }
    });
}

fn warn(call: &Call, msg: &str, error: &str) {
    console_log!("{}", json!({ "level": "warn", "msg": msg, "error": error, "requestId": call.ctx.request_id.as_str() }));
}
