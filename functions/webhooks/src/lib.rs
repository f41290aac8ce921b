//! Stripe and BaseHub webhooks, verified over the raw body and applied exactly once.
//!
//! The Worker is only wiring: the route table below hands each route to a handler that
//! composes the shared pieces (signature checks, billing, content invalidation).

mod basehub;
mod outbox;
mod stripe;

use sba_http::{routes, serve, service, ApiError, Call, Route, Service};
use worker::{console_log, event, Context, Env, Request, Response, ScheduleContext, ScheduledEvent};

const SERVICE: Service = service!(
    "webhooks",
    mounts: &["/webhooks"],
    // Its own contract (`tools/openapi-split` cuts it from the whole document).
    openapi: Some(include_str!("../../../openapi/functions/webhooks.json")),
    probes: sba_config::probes
);

const ROUTES: &[Route] = routes![
    POST "/stripe" => stripe::handle,
    POST "/basehub" => basehub::handle,
];

/// Stripe's and BaseHub's events are small; anything near this is not theirs.
pub(crate) const BODY_LIMIT: usize = 512 * 1024;

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    serve(&SERVICE, req, env, ctx, ROUTES).await
}

/// Every minute: finish BaseHub events whose effects are still owed and that no delivery is
/// holding (a Worker that died mid-way, a Redis or Queue outage the sender stopped retrying).
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    if let Err(e) = outbox::sweep(&env).await {
        console_log!(
            "{}",
            serde_json::json!({ "level": "warn", "msg": "outbox sweep failed", "error": e.to_string() })
        );
    }
}

pub(crate) fn now_secs() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

/// PostgreSQL text and jsonb cannot hold NUL; a (signed) event that carries one is refused as
/// malformed instead of failing in the database. JSON can only spell NUL as `\u0000`.
pub(crate) fn refuse_nul(body: &[u8]) -> Result<(), ApiError> {
    if body.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
        return Err(ApiError::bad_request("invalid_event", "the event contains NUL characters"));
    }
    Ok(())
}

pub(crate) fn header(call: &Call, name: &str) -> Option<String> {
    call.req.headers().get(name).ok().flatten()
}
