//! AI agent: POST a run, stream AG-UI events over SSE.
//!
//! The Worker is only wiring: the route table below hands each route to `sba-agent`. Every
//! run spends model tokens, so every run goes through the same admission as the rate-limited
//! agent's (plan, limits, period quotas; 402/429 before any stream opens) and its tokens are
//! charged to the tenant's period.

use sba_agent::{admit_run, handle_resume, handle_run, read_input, refuse_if_blocked};
use sba_http::{health, json_text, readiness, serve, service, ApiError, Call, Service};
use worker::{event, Context, Env, Method, Request, Response};

const SERVICE: Service = service!("agent", mounts: &["/agent"]);

/// This function's own OpenAPI document (`tools/openapi-split` cuts it from the whole one).
const OPENAPI: &str = include_str!("../../../openapi/functions/agent.json");

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    serve(&SERVICE, req, env, ctx, route).await
}

async fn route(mut call: Call) -> Result<Response, ApiError> {
    let path = call.path.clone();
    match path.segments().as_slice() {
        ["healthz"] => {
            call.route("/healthz", &[Method::Get])?;
            health(&SERVICE)
        }
        ["readyz"] => {
            call.route("/readyz", &[Method::Get])?;
            readiness(&SERVICE, sba_config::probes(&call.env)).await
        }
        ["openapi.json"] => {
            call.route("/openapi.json", &[Method::Get])?;
            json_text(OPENAPI)
        }
        ["run"] => {
            call.route("/run", &[Method::Post])?;
            let tenant = sba_extract::tenant(&call).await?;
            refuse_if_blocked(&mut call, &tenant).await?;
            let input = read_input(&mut call).await?;
            let admitted = admit_run(&call, &tenant, &input).await?;
            handle_run(call, tenant, input, Some(admitted)).await
        }
        ["runs", run_id, "events"] => {
            call.route("/runs/{runId}/events", &[Method::Get])?;
            let tenant = sba_extract::tenant(&call).await?;
            handle_resume(call, tenant, run_id).await
        }
        _ => Err(call.not_found()),
    }
}
