//! AI agent: POST a run, stream AG-UI events over SSE.
//!
//! The Worker is only wiring: the route table below hands each route to a shared piece.

use sba_http::{health, readiness, serve, service, ApiError, Call, Service};
use worker::{event, Context, Env, Method, Request, Response};

const SERVICE: Service = service!("agent", mounts: &["/agent"]);

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    serve(&SERVICE, req, env, route).await
}

async fn route(call: Call) -> Result<Response, ApiError> {
    match call.path.segments().as_slice() {
        ["healthz"] => {
            call.route("/healthz", &[Method::Get])?;
            health(&SERVICE)
        }
        ["readyz"] => {
            call.route("/readyz", &[Method::Get])?;
            readiness(&SERVICE, sba_config::probes(&call.env)).await
        }
        _ => Err(call.not_found()),
    }
}
