//! The agent behind limits: the tenant's plan sets its requests per minute; the client IP
//! and a burst bucket are limited too (one Redis round trip for the three, the plan's cache
//! entry and the run's claim), and runs and LLM tokens are counted against the billing
//! period — all decided BEFORE the stream opens.
//!
//! The Worker is only wiring: `sba-agent`'s routes (the same admission and run as the plain
//! agent's) behind the serve layer, under its own name and mounts.

use sba_http::{serve, service, Service};
use worker::{event, Context, Env, Request, Response};

const SERVICE: Service = service!(
    "ratelimited-agent",
    mounts: &["/ratelimited-agent", "/agent/limited"],
    // Its own contract (`tools/openapi-split` cuts it from the whole document).
    openapi: Some(include_str!("../../../openapi/functions/ratelimited-agent.json")),
    probes: sba_config::probes
);

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    serve(&SERVICE, req, env, ctx, sba_agent::ROUTES).await
}
