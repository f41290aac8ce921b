//! `POST /webhooks/stripe`: verify, apply exactly once, then tell the rest of the system.

use crate::{header, now_secs, BODY_LIMIT};
use sba_billing::apply::{applied_from_rows, APPLY_EVENT};
use sba_billing::{Event, Outcome};
use sba_config::setting;
use sba_http::{json, read_limited, ApiError, Call, Params};
use sba_pg::tokio_postgres::types::Type;
use sba_pg::PgError;
use sba_redis::Cmd;
use sba_rls::Actor;
use serde_json::json;
use worker::{console_log, Response};

/// Stripe's own default; later timestamps are refused too (replays from the future).
const TOLERANCE_SECS: i64 = 300;

pub async fn handle(mut call: Call, _: Params) -> Result<Response, ApiError> {
    // Secrets first: a misconfigured deploy must say so, not blame the sender.
    let secrets = sba_webhook_verify::parse_secrets(&setting(&call.env, "STRIPE_WEBHOOK_SECRETS")?);
    // The body before any 400: answering with the request body unread makes the runtime drop
    // the connection, and a keep-alive client's next request on it fails ("other side
    // closed"; seen in the e2e suite). BaseHub reads it first too.
    let body = read_limited(&mut call.req, BODY_LIMIT).await?;
    let signature = header(&call, "stripe-signature")
        .ok_or_else(|| ApiError::bad_request("signature_missing", "Stripe-Signature header is required"))?;
    let secret_refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    sba_webhook_verify::verify_stripe(&body, &signature, &secret_refs, TOLERANCE_SECS, now_secs())?;
    crate::refuse_nul(&body)?;
    let event: Event = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("invalid_event", "the body is not a Stripe event object").with_cause(e))?;

    let event_id = event.id.clone();
    // One round trip: the event is recorded and applied, and the plan read back, by one SQL
    // function inside a pipelined service-role transaction.
    let record = sba_billing::apply::event_for_db(&event);
    let rows = sba_config::statement(&call.env, &Actor::Service, APPLY_EVENT, &[(&record, Type::JSONB)]).await?;
    let applied = applied_from_rows(&rows).map_err(PgError::from)?;
    let plan = applied.plan.clone().filter(|_| applied.outcome == Outcome::Applied);

    if let Some(tenant) = &applied.tenant {
        call.ctx.set_tenant(tenant);
    }
    if let Some(plan) = &plan {
        // After commit: the limiter must see the new limits at once (the new plan replaces the
        // cached one, so the next run needs no database read for it), and subscribers learn
        // of the change. Best effort: the event is already applied, and the cache entry
        // expires on its own within a minute if this fails.
        let message = json!({ "tenant": plan.tenant, "plan": plan.plan, "status": plan.status, "eventId": event_id });
        let commands = [
            Cmd::new("SET")
                .arg(sba_billing::plans::cache_key(&plan.tenant))
                .arg(sba_billing::plans::to_cache(plan))
                .arg("EX")
                .arg(sba_billing::plans::CACHE_TTL_SECS.to_string()),
            Cmd::new("PUBLISH").arg(sba_billing::plans::billing_channel(&plan.tenant)).arg(message.to_string()),
        ];
        match sba_config::redis_for(&call) {
            Ok(redis) => {
                if let Err(e) = redis.pipeline(&commands).await {
                    console_log!(
                        "{}",
                        json!({"level": "warn", "msg": "billing notification failed", "error": e.to_string(), "requestId": call.ctx.request_id.as_str()})
                    );
                }
            }
            Err(e) => {
                console_log!("{}", json!({"level": "warn", "msg": "billing notification skipped", "error": e.message}))
            }
        }
    }
    json(
        200,
        &json!({
            "received": true,
            "duplicate": applied.outcome == Outcome::Duplicate,
            "outcome": applied.outcome,
        }),
    )
}
