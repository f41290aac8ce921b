//! `POST /webhooks/basehub`: a content change. Verified (current HMAC scheme, or legacy Svix),
//! deduplicated (BaseHub sends no timestamp or id, so replays are stopped by the body's hash;
//! Svix deliveries by `svix-id`) and recorded with what it owes in one transaction (the
//! outbox, see `outbox`): cached content dropped, an invalidation published, a KB re-ingest
//! job queued; then the app's revalidate URL is called after the response.

use crate::outbox::{self, Outcome};
use crate::{header, now_secs, BODY_LIMIT};
use sba_config::setting;
use sba_content::{Envelope, ReingestJob};
use sba_http::{json, read_limited, ApiError, Call, Params};
use sba_outbound::http::Outgoing;
use serde_json::json;
use worker::{console_log, Response};

const SVIX_TOLERANCE_SECS: i64 = 300;

pub async fn handle(mut call: Call, _: Params) -> Result<Response, ApiError> {
    let body = read_limited(&mut call.req, BODY_LIMIT).await?;
    let event_id = verify(&call, &body)?;
    crate::refuse_nul(&body)?;
    let envelope: Envelope = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request("invalid_event", "the body is not a BaseHub event envelope").with_cause(e)
    })?;
    let tenant = setting(&call.env, "BASEHUB_TENANT_ID")?;
    call.ctx.set_tenant(&tenant);

    let block_ids = envelope.block_ids();
    let job = ReingestJob {
        tenant: tenant.clone(),
        event_id,
        event_type: envelope.kind.clone(),
        block_ids,
        traceparent: Some(call.ctx.trace.traceparent()),
    };
    // One round trip: the dedupe record and the outbox row (or the claim of an earlier
    // delivery's unfinished row), in one transaction.
    let claim = outbox::accept(&call.env, &job).await?;
    if claim.outcome != Outcome::Claimed {
        return json(200, &json!({ "received": true, "duplicate": true }));
    }
    let job = claim.job.clone().unwrap_or(job);
    let effects = outbox::apply(&call.env, sba_config::redis_for(&call).map_err(|e| e.message), &claim, &job).await;
    // Recorded after the answer: if that fails, the lease runs out and the cron redoes the
    // effects (at least once); nothing is lost.
    let env = call.env.clone();
    let (event_id, recorded) = (job.event_id.clone(), effects.clone());
    call.ctx.wait_until(async move {
        if let Err(e) = outbox::record(&env, &event_id, &recorded).await {
            console_log!("{}", json!({ "level": "warn", "msg": "outbox progress not recorded; the cron will finish the event", "eventId": event_id, "error": e.to_string() }));
        }
    });
    if let Some(error) = &effects.error {
        // The sender retries; its redelivery (or the cron) does only what is still missing.
        return Err(ApiError::unavailable("effects_pending", "the change is recorded but not yet applied; retry", 5)
            .with_cause(error.clone()));
    }
    revalidate_later(&call, &tenant, &job.block_ids);
    json(200, &json!({ "received": true, "duplicate": false, "invalidated": job.block_ids.len(), "queued": true }))
}

/// The dedupe id of a verified delivery.
fn verify(call: &Call, body: &[u8]) -> Result<String, ApiError> {
    if let Some(signature) = header(call, "x-basehub-webhook-signature") {
        let secret = setting(&call.env, "BASEHUB_WEBHOOK_SECRET")?;
        sba_webhook_verify::verify_basehub(body, &signature, &secret)?;
        return Ok(format!("sha256:{}", sba_webhook_verify::body_sha256_hex(body)));
    }
    // Svix's branded headers, or the Standard Webhooks names it also sends (`webhook-*`).
    let either =
        |name: &str| header(call, &format!("svix-{name}")).or_else(|| header(call, &format!("webhook-{name}")));
    if let (Some(id), Some(timestamp), Some(signature)) = (either("id"), either("timestamp"), either("signature")) {
        let secret = setting(&call.env, "BASEHUB_SVIX_SECRET")?;
        sba_webhook_verify::verify_svix(body, &id, &timestamp, &signature, &secret, SVIX_TOLERANCE_SECS, now_secs())?;
        return Ok(format!("svix:{id}"));
    }
    Err(ApiError::bad_request(
        "signature_missing",
        "x-basehub-webhook-signature (or svix-id, svix-timestamp and svix-signature, or their webhook-* names) is required",
    ))
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
    console_log!(
        "{}",
        json!({ "level": "warn", "msg": msg, "error": error, "requestId": call.ctx.request_id.as_str() })
    );
}
