//! Tenant knowledge base: validated documents into Postgres, chunked and searchable.
//!
//! The Worker is only wiring: the route table below hands each route to a handler in
//! `handlers`, which composes the shared pieces (extractors, `sba-kb`, tenant transactions).

mod handlers;
mod reingest;
mod tenant_tx;

use sba_http::{routes, serve, service, Route, Service};
use worker::{event, Context, Env, MessageBatch, Request, Response};

const SERVICE: Service = service!(
    "kb-ingest",
    mounts: &["/kb"],
    // Its own contract (`tools/openapi-split` cuts it from the whole document).
    openapi: Some(include_str!("../../../openapi/functions/kb-ingest.json")),
    probes: sba_config::probes
);

const ROUTES: &[Route] = routes![
    POST "/documents" => handlers::create,
    POST "/documents:batch" => handlers::create_batch,
    GET "/documents/{id}" => handlers::get,
    GET "/documents/{id}/chunks" => handlers::chunks,
    DELETE "/documents/{id}" => handlers::delete,
    GET "/search" => handlers::search,
    GET "/settings" => handlers::get_settings,
    PUT "/settings" => handlers::put_settings,
];

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    serve(&SERVICE, req, env, ctx, ROUTES).await
}

#[event(queue)]
async fn queue(batch: MessageBatch<sba_content::ReingestJob>, env: Env, _ctx: Context) -> worker::Result<()> {
    reingest::consume(batch, env).await
}
