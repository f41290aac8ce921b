//! AI agent: POST a run, stream AG-UI events over SSE.
//!
//! The Worker is only wiring: `sba-agent`'s routes behind the serve layer. Every run spends
//! model tokens, so every run goes through the same admission as the rate-limited agent's
//! (plan, limits, period quotas; 402/429 before any stream opens) and its tokens are charged
//! to the tenant's period.

use sba_http::{serve, service, Service};
use worker::{event, Context, Env, Request, Response};

const SERVICE: Service = service!(
    "agent",
    mounts: &["/agent"],
    // Its own contract (`tools/openapi-split` cuts it from the whole document).
    openapi: Some(include_str!("../../../openapi/functions/agent.json")),
    probes: sba_config::probes
);

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    serve(&SERVICE, req, env, ctx, sba_agent::ROUTES).await
}
