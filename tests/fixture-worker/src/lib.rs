//! A Worker that exists only for the end-to-end suite: it puts the shared core (tenant
//! context, validated bodies, the rate limiter) on plain routes so `tests/e2e` can drive each
//! piece inside workerd, independently of product endpoints. Never deployed.

use sba_http::{json, routes, serve, service, with_headers, ApiError, Call, Params, Route, Service};
use serde::{Deserialize, Serialize};
use serde_json::json;
use validator::Validate;
use worker::{event, Context, Env, Request, Response};

const SERVICE: Service = service!("shared-core-fixture", mounts: &[]);
const ORDER_LIMIT_BYTES: usize = 4 * 1024;

/// A request type with the shapes real endpoints have: nested struct, list of structs, limits.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Order {
    #[validate(length(min = 1, max = 40))]
    customer_name: String,
    #[validate(nested)]
    shipping: Address,
    #[validate(length(min = 1, max = 5), nested)]
    items: Vec<Item>,
}

#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(rename_all = "camelCase")]
struct Address {
    #[validate(length(min = 2, max = 2))]
    country: String,
    #[validate(email)]
    contact_email: String,
}

#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(rename_all = "camelCase")]
struct Item {
    #[validate(length(min = 1, max = 20))]
    title: String,
    #[validate(range(min = 1, max = 99))]
    quantity: u32,
}

const ROUTES: &[Route] = routes![
    GET "/whoami" => whoami,
    GET "/limited" => limited,
    POST "/orders" => orders,
];

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    serve(&SERVICE, req, env, ctx, ROUTES).await
}

async fn whoami(call: Call, _: Params) -> Result<Response, ApiError> {
    let tenant = sba_extract::tenant(&call).await?;
    json(200, &json!({ "tenantId": tenant.tenant_id, "subject": tenant.subject, "role": tenant.role }))
}

async fn limited(call: Call, _: Params) -> Result<Response, ApiError> {
    let tenant = sba_extract::tenant(&call).await?;
    let limits = sba_extract::rate_limit(&call, &tenant).await?;
    with_headers(json(200, &json!({ "tenantId": tenant.tenant_id }))?, &limits)
}

async fn orders(mut call: Call, _: Params) -> Result<Response, ApiError> {
    let order: Order = sba_extract::json(&mut call, ORDER_LIMIT_BYTES).await?;
    json(201, &order)
}
