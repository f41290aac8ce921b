//! Extractors in the axum sense: a handler asks for what it needs as typed values — a
//! validated JSON body, the verified `TenantContext`, a charge against the rate limits —
//! and never reads headers or raw bytes.
//! Each one fails with the right `ApiError` (400/401/403/413/415/422/503) on its own.
//!
//! Not for: the rules themselves (`sba-validate`, `sba-tenant`) — this crate only connects
//! them to a Worker request and its environment.

mod limit;

pub use limit::rate_limit;

use sba_http::{read_limited, ApiError, Call};
use sba_tenant::{AuthConfig, HttpJwks, TenantContext};
use serde::de::DeserializeOwned;
use validator::Validate;

pub use sba_tenant;
pub use sba_validate;

/// A JSON body of type `T`, at most `limit` bytes, syntax- and rule-checked.
pub async fn json<T: DeserializeOwned + Validate>(call: &mut Call, limit: usize) -> Result<T, ApiError> {
    json_and_bytes(call, limit).await.map(|(value, _)| value)
}

/// Like `json`, also returning the raw body (for request hashes: idempotency keys).
pub async fn json_and_bytes<T: DeserializeOwned + Validate>(
    call: &mut Call,
    limit: usize,
) -> Result<(T, Vec<u8>), ApiError> {
    let content_type = header(call, "content-type");
    sba_validate::require_json_content_type(content_type.as_deref())?;
    let body = read_limited(&mut call.req, limit).await?;
    let value = sba_validate::parse(&body)?;
    Ok((value, body))
}

/// The raw body of a JSON request (content type checked, size limited), for bodies that a
/// domain crate parses itself (e.g. batches validated item by item).
pub async fn json_bytes(call: &mut Call, limit: usize) -> Result<Vec<u8>, ApiError> {
    let content_type = header(call, "content-type");
    sba_validate::require_json_content_type(content_type.as_deref())?;
    read_limited(&mut call.req, limit).await
}

/// The caller's tenant from the verified bearer token (and the `X-Tenant-ID` assertion),
/// recorded on the request context for the log line.
pub async fn tenant(call: &Call) -> Result<TenantContext, ApiError> {
    let config = AuthConfig::from_vars(|name| sba_config::setting(&call.env, name).ok())?;
    for url in config.outbound_urls() {
        sba_config::outbound_url(&call.env, &url)?;
    }
    // A discovered jwks_uri is only known inside sba-tenant: the same allowlist, at fetch time.
    let env = call.env.clone();
    let source = HttpJwks::default()
        .with_headers(call.ctx.trace_headers())
        .with_allow(move |url| sba_config::outbound_url(&env, url).map(drop).map_err(|refused| refused.message));
    let authorization = header(call, "authorization");
    let asserted = header(call, "x-tenant-id");
    let now_secs = (js_sys::Date::now() / 1000.0) as u64;
    let tenant =
        sba_tenant::authenticate(&config, &source, authorization.as_deref(), asserted.as_deref(), now_secs).await?;
    call.ctx.set_tenant(&tenant.tenant_id);
    Ok(tenant)
}

fn header(call: &Call, name: &str) -> Option<String> {
    call.req.headers().get(name).ok().flatten()
}
