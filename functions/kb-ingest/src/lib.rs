//! Tenant knowledge base: validated documents into Postgres, chunked and searchable.
//!
//! The Worker is only wiring: the route table below hands each route to a handler in
//! `handlers`, which composes the shared pieces (extractors, `sba-kb`, tenant transactions).

mod handlers;
mod reingest;
mod tenant_tx;

use sba_http::{health, json_text, readiness, serve, service, ApiError, Call, Service};
use worker::{event, Context, Env, MessageBatch, Method, Request, Response};

const SERVICE: Service = service!("kb-ingest", mounts: &["/kb"]);

/// This function's own OpenAPI document (`tools/openapi-split` cuts it from the whole one).
const OPENAPI: &str = include_str!("../../../openapi/functions/kb-ingest.json");

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    serve(&SERVICE, req, env, ctx, route).await
}

#[event(queue)]
async fn queue(batch: MessageBatch<sba_content::ReingestJob>, env: Env, _ctx: Context) -> worker::Result<()> {
    reingest::consume(batch, env).await
}

async fn route(call: Call) -> Result<Response, ApiError> {
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
        ["documents"] => {
            call.route("/documents", &[Method::Post])?;
            handlers::create(call).await
        }
        ["documents:batch"] => {
            call.route("/documents:batch", &[Method::Post])?;
            handlers::create_batch(call).await
        }
        ["documents", id] => {
            call.route("/documents/{id}", &[Method::Get, Method::Delete])?;
            if call.req.method() == Method::Delete {
                handlers::delete(call, id).await
            } else {
                handlers::get(call, id).await
            }
        }
        ["search"] => {
            call.route("/search", &[Method::Get])?;
            handlers::search(call).await
        }
        _ => Err(call.not_found()),
    }
}
