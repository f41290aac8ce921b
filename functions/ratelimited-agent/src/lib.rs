//! The agent behind limits: the tenant's plan sets its requests per minute; the client IP
//! and a burst bucket are limited too (one Redis round trip for the three, the plan's cache
//! entry and the run's claim), and runs and LLM
//! tokens are counted against the billing period — all decided BEFORE the stream opens.
//!
//! The Worker is only wiring: `sba-agent`'s admission in front of its run.

use sba_agent::{admit_run, handle_resume, handle_run, read_input, refuse_if_blocked};
use sba_http::{health, json_text, readiness, serve, service, ApiError, Call, Service};
use worker::{event, Context, Env, Method, Request, Response};

const SERVICE: Service = service!("ratelimited-agent", mounts: &["/ratelimited-agent", "/agent/limited"]);

/// This function's own OpenAPI document (`tools/openapi-split` cuts it from the whole one).
const OPENAPI: &str = include_str!("../../../openapi/functions/ratelimited-agent.json");

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
            // A tenant blocked a moment ago is refused from memory, before anything is read.
            refuse_if_blocked(&mut call, &tenant).await?;
            // A malformed request is refused before it costs a limit unit or a quota run.
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
